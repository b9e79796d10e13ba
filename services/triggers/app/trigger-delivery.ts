/**
 * A trigger's delivery (the Knative KafkaSource/Trigger role): a member of the trigger's own consumer group on
 * `charter.users.v1.events` that sends each event its function wants to the function, as a CloudEvent over HTTP,
 * one message of a partition at a time — so a user's events (one key, one partition) arrive in order, and the next
 * one only after the previous was delivered or set aside. A network error, a timeout, a 5xx, 429, 408 or 404 is
 * tried again with exponential backoff (cockatiel) up to `maxAttempts` sends in all; after the last one, or at once
 * for an answer that would not change (another 4xx) or a message that is no CloudEvent, the event goes to the
 * functions' dead-letter topic with the reason, and the partition goes on. The offset is committed after that, so a
 * crash redelivers (at least once: functions are idempotent by the event id).
 */
import { ExponentialBackoff, handleWhen, retry, TaskCancelledError } from "cockatiel";
import { Counter, type Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import { type EventBus, type EventConsumer, type IncomingMessage, RetryLater } from "../../../platform/events/bus.js";
import type { Logger } from "../../../platform/logging.js";
import { type FunctionSink, NotACloudEvent } from "../domain/function-sink.js";
import { type DeliveryResult, eventTypeOf, groupIdOf, type Trigger, wants } from "../domain/trigger.js";

export interface RetrySettings {
  /** Sends in all, the first included (1: no retry). */
  readonly maxAttempts: number;
  /** The first pause between two sends; each next one about doubles (with jitter), up to maxDelayMs. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface TriggerDeliveryOptions {
  readonly bus: EventBus;
  readonly trigger: Trigger;
  readonly sink: FunctionSink;
  readonly retry: RetrySettings;
  readonly clientId: string;
  readonly logger: Logger;
  readonly metrics: Registry;
}

export interface TriggerDelivery {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const OUTCOMES = ["delivered", "retried", "dead_lettered", "filtered"] as const;

/** One registry holds every trigger's counters, told apart by the `trigger` label. */
function deliveriesCounter(registry: Registry): Counter<"trigger" | "outcome"> {
  const existing = registry.getSingleMetric("charter_triggers_deliveries_total");
  if (existing) return existing as Counter<"trigger" | "outcome">;
  return new Counter({
    name: "charter_triggers_deliveries_total",
    help: "User events by trigger and outcome: delivered to the function, retried (one per extra send), dead_lettered, filtered (not of a type the trigger wants).",
    labelNames: ["trigger", "outcome"] as const,
    registers: [registry],
  });
}

/** A send that may succeed if made again. */
class RetryableDelivery extends Error {
  constructor(readonly result: DeliveryResult & { kind: "retryable" }) {
    super(result.reason);
    this.name = "RetryableDelivery";
  }
}

export function createTriggerDelivery(opts: TriggerDeliveryOptions): TriggerDelivery {
  const { trigger } = opts;
  const groupId = groupIdOf(trigger);
  const log = opts.logger.child({ component: "trigger", trigger: trigger.name });
  const deliveries = deliveriesCounter(opts.metrics);
  for (const outcome of OUTCOMES) deliveries.inc({ trigger: trigger.name, outcome }, 0);
  const policy = retry(
    handleWhen((error) => error instanceof RetryableDelivery),
    {
      maxAttempts: opts.retry.maxAttempts - 1,
      backoff: new ExponentialBackoff({ initialDelay: opts.retry.initialDelayMs, maxDelay: opts.retry.maxDelayMs }),
    },
  );
  policy.onRetry(({ attempt, delay, ...reason }) => {
    deliveries.inc({ trigger: trigger.name, outcome: "retried" });
    const why = "error" in reason && reason.error instanceof Error ? reason.error.message : "no result";
    log.warn({ attempt, delayMs: Math.round(delay), reason: why }, "the function did not take the event; retrying");
  });
  const producer = opts.bus.producer();
  const stopping = new AbortController();
  let consumer: EventConsumer | undefined;

  async function deadLetter(message: IncomingMessage, reason: string, attempts: number, status?: number) {
    await producer.send(userEventChannels.userEventsFunctionsDeadLetter, [
      {
        key: message.key ?? "",
        value: message.value ?? "",
        headers: {
          ...message.headers,
          dlq_reason: reason,
          dlq_topic: message.topic,
          dlq_partition: String(message.partition),
          dlq_offset: message.offset,
          dlq_trigger: trigger.name,
          dlq_attempts: String(attempts),
          ...(status === undefined ? {} : { dlq_status: String(status) }),
        },
      },
    ]);
    deliveries.inc({ trigger: trigger.name, outcome: "dead_lettered" });
    log.warn(
      { partition: message.partition, offset: message.offset, eventId: message.headers.ce_id, reason, attempts },
      "the event went to the functions' dead-letter topic",
    );
  }

  async function handle(message: IncomingMessage): Promise<void> {
    try {
      opts.sink.validate(message);
    } catch (error) {
      if (error instanceof NotACloudEvent) return deadLetter(message, error.message, 0);
      throw error;
    }
    if (!wants(trigger, eventTypeOf(message.value))) {
      deliveries.inc({ trigger: trigger.name, outcome: "filtered" });
      return;
    }
    let attempts = 0;
    let result: DeliveryResult;
    try {
      result = await policy.execute(async () => {
        attempts += 1;
        const outcome = await opts.sink.deliver(trigger.url, message);
        if (outcome.kind === "retryable") throw new RetryableDelivery(outcome);
        return outcome;
      }, stopping.signal);
    } catch (error) {
      if (error instanceof NotACloudEvent) return deadLetter(message, error.message, 0);
      if (error instanceof RetryableDelivery) {
        return deadLetter(message, error.result.reason, attempts, error.result.status);
      }
      // Stopping: not delivered and not set aside; the next member of the group gets it again.
      if (error instanceof TaskCancelledError) throw new RetryLater("the trigger is stopping");
      throw error;
    }
    if (result.kind === "refused") return deadLetter(message, result.reason, attempts, result.status);
    deliveries.inc({ trigger: trigger.name, outcome: "delivered" });
    log.debug({ partition: message.partition, offset: message.offset, attempts }, "event delivered");
  }

  return {
    async start() {
      consumer = opts.bus.consumer({ groupId, topic: userEventChannels.userEvents, clientId: opts.clientId });
      await consumer.start(handle);
      log.info({ groupId, url: trigger.url, types: trigger.types }, "delivering user events to the function");
    },
    async stop() {
      stopping.abort();
      await consumer?.stop();
      await producer.close();
    },
  };
}
