/**
 * Trace context across the event bus. A producer records the W3C trace context of the change it describes
 * (`traceHeaders()`, e.g. into an outbox entry) and sends it as message headers (`traceparent`, `tracestate`),
 * so a consumer's work joins the trace of the request that made the change: `inConsumerSpan` runs a handler in a
 * CONSUMER span `process <topic>`, a child of the context the message carries (a new trace when it carries
 * none), and the handler's own spans (store commands) nest under it. Without a registered tracer provider these
 * are no-ops.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { IncomingMessage } from "./bus.js";

const tracer = trace.getTracer("charter-events");

/** The active trace context as message headers; empty outside a trace. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `handle` in a CONSUMER span that continues the trace the message's headers carry. */
export async function inConsumerSpan<T>(
  message: IncomingMessage,
  attributes: Readonly<Record<string, string>>,
  handle: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, message.headers);
  return tracer.startActiveSpan(
    `process ${message.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.operation.type": "process",
        "messaging.destination.name": message.topic,
        "messaging.destination.partition.id": String(message.partition),
        ...attributes,
      },
    },
    parent,
    async (span) => {
      try {
        return await handle();
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * inConsumerSpan for a batch handled in one go: one CONSUMER span per message, each a child of the context its
 * message carries (so every change's trace shows its event being processed), all lasting as long as the batch.
 * `handle` runs in the first message's span, so the batch's own spans (one bulk write) nest under that one.
 */
export async function inConsumerSpans<T>(
  messages: readonly IncomingMessage[],
  attributesOf: (message: IncomingMessage) => Readonly<Record<string, string>>,
  handle: () => Promise<T>,
): Promise<T> {
  const spans = messages.map((message) => {
    const parent = propagation.extract(ROOT_CONTEXT, message.headers);
    const span = tracer.startSpan(
      `process ${message.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.operation.type": "process",
          "messaging.destination.name": message.topic,
          "messaging.destination.partition.id": String(message.partition),
          "messaging.batch.message_count": messages.length,
          ...attributesOf(message),
        },
      },
      parent,
    );
    return { span, parent };
  });
  const first = spans[0];
  try {
    return await (first ? context.with(trace.setSpan(first.parent, first.span), handle) : handle());
  } catch (error) {
    for (const { span } of spans) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    }
    throw error;
  } finally {
    for (const { span } of spans) span.end();
  }
}
