/**
 * The FunctionSink over HTTP with the CloudEvents SDK: the bus message is read by the SDK's Kafka binding (binary
 * mode: the `ce_` headers are the attributes, the value the data, the key the `partitionkey` extension) and sent by
 * its HTTP binding in binary content mode (the attributes as `ce-` headers, the data as the body, its content type
 * as Content-Type) — the request a Knative KafkaSource or broker makes to a function's sink.
 */
import { type CloudEvent, HTTP, Kafka, type KafkaMessage } from "cloudevents";
import type { IncomingMessage } from "../../../platform/events/bus.js";
import { type FunctionSink, NotACloudEvent } from "../domain/function-sink.js";
import { type DeliveryResult, resultOfStatus } from "../domain/trigger.js";

export interface HttpSinkOptions {
  /** How long one attempt may take (connect, send, answer) before it counts as failed. */
  readonly timeoutMs: number;
}

/** The bus message as a CloudEvent, or NotACloudEvent with why not. */
export function cloudEventOf(message: IncomingMessage): CloudEvent<unknown> {
  if (message.value === undefined) throw new NotACloudEvent("the message has no value");
  const kafkaMessage: KafkaMessage<Buffer> = {
    key: message.key ?? "",
    value: message.value,
    headers: { ...message.headers },
    body: message.value,
  };
  if (!Kafka.isEvent(kafkaMessage)) throw new NotACloudEvent("the message has no CloudEvents headers (ce_id)");
  try {
    const event = Kafka.toEvent(kafkaMessage) as CloudEvent<unknown>;
    event.validate();
    return event;
  } catch (error) {
    throw new NotACloudEvent(`not a CloudEvent: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function createHttpCloudEventSink(options: HttpSinkOptions): FunctionSink {
  return {
    validate(message: IncomingMessage): void {
      cloudEventOf(message);
    },
    async deliver(url: string, message: IncomingMessage): Promise<DeliveryResult> {
      const { headers, body } = HTTP.binary(cloudEventOf(message));
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: headers as Record<string, string>,
          body: body as string,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        const name = error instanceof Error ? error.name : "error";
        return {
          kind: "retryable",
          reason: name === "TimeoutError" ? "timed out" : `network error (${cause ?? name})`,
        };
      }
      // The answer's body is not read by the delivery (a function may reply with an event, which is not routed).
      await response.body?.cancel();
      return resultOfStatus(response.status);
    },
  };
}
