/**
 * The audit service's member of the consumer group on `charter.users.v1.events`. Each message is decoded strictly;
 * one that is not a UserEvent goes to the dead-letter topic with the reason (and the partition goes on); a
 * UserEvent is recorded once by its event id (a redelivery is a no-op). A store that fails makes the partition
 * pause and the same message come again: nothing is skipped. The bus commits a message's offset only after this
 * handler resolved, so a crash redelivers rather than loses.
 */

import { Counter, Histogram, type Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import { type EventBus, type EventConsumer, type IncomingMessage, RetryLater } from "../../../platform/events/bus.js";
import { inConsumerSpan } from "../../../platform/events/trace-context.js";
import type { Logger } from "../../../platform/logging.js";
import type { HistoryStore } from "../domain/history.js";
import { decodeUserEvent } from "../domain/user-event-codec.js";

export interface AuditConsumerOptions {
  readonly bus: EventBus;
  readonly store: HistoryStore;
  readonly groupId: string;
  readonly clientId: string;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** Pause of the partition after a store failure before the message comes again (default 500 ms). */
  readonly retryDelayMs?: number;
}

export interface AuditConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const OUTCOMES = ["recorded", "duplicate", "dead_lettered", "retried"] as const;

export function createAuditConsumer(opts: AuditConsumerOptions): AuditConsumer {
  const log = opts.logger.child({ component: "audit-consumer", groupId: opts.groupId });
  const consumed = new Counter({
    name: "charter_audit_events_consumed_total",
    help: "User events handled by outcome: recorded, duplicate (already recorded), dead_lettered, retried.",
    labelNames: ["outcome"] as const,
    registers: opts.metrics ? [opts.metrics] : [],
  });
  for (const outcome of OUTCOMES) consumed.inc({ outcome }, 0);
  const lag = new Histogram({
    name: "charter_audit_event_lag_seconds",
    help: "Time from a change to its event being recorded in the history.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: opts.metrics ? [opts.metrics] : [],
  });
  const producer = opts.bus.producer();
  let consumer: EventConsumer | undefined;
  let failing = false;

  async function deadLetter(message: IncomingMessage, reason: string): Promise<void> {
    await producer.send(userEventChannels.userEventsDeadLetter, [
      {
        key: message.key ?? "",
        value: message.value ?? "",
        headers: {
          ...message.headers,
          dlq_reason: reason,
          dlq_topic: message.topic,
          dlq_partition: String(message.partition),
          dlq_offset: message.offset,
        },
      },
    ]);
    consumed.inc({ outcome: "dead_lettered" });
    log.warn(
      { partition: message.partition, offset: message.offset, reason },
      "an undecodable message went to the dead-letter topic",
    );
  }

  /** Each message in a span that continues the trace of the change it describes. */
  const handle = (message: IncomingMessage): Promise<void> =>
    inConsumerSpan(
      message,
      { "messaging.consumer.group.name": opts.groupId, "messaging.message.id": message.headers.ce_id ?? "" },
      () => record(message),
    );

  async function record(message: IncomingMessage): Promise<void> {
    const decoded = decodeUserEvent(message);
    if (!decoded.ok) return deadLetter(message, decoded.reason);
    let recorded: boolean;
    try {
      recorded = await opts.store.record(decoded.entry);
    } catch (error) {
      consumed.inc({ outcome: "retried" });
      if (!failing) log.error({ err: error }, "the history store failed; the partition pauses and retries");
      failing = true;
      throw new RetryLater("the history store failed", opts.retryDelayMs ?? 500);
    }
    if (failing) log.info("the history store answers again");
    failing = false;
    consumed.inc({ outcome: recorded ? "recorded" : "duplicate" });
    if (recorded) {
      const occurred = Date.parse(String(decoded.entry.event.occurredAt));
      lag.observe(Math.max(0, Date.now() - occurred) / 1000);
    }
  }

  return {
    async start() {
      consumer = opts.bus.consumer({
        groupId: opts.groupId,
        topic: userEventChannels.userEvents,
        clientId: opts.clientId,
      });
      await consumer.start(handle);
      log.info("consuming user events");
    },
    async stop() {
      await consumer?.stop();
      await producer.close();
    },
  };
}
