/**
 * The audit service's member of the consumer group on `charter.users.v1.events`, a batch of a partition at a time
 * (up to `batchSize` messages, in order). Each message is decoded strictly; the UserEvents of the batch are recorded
 * in one bulk write, each once by its event id (a redelivery is a no-op), and the messages that are not UserEvents
 * then go to the dead-letter topic with their reasons, in one send — a poison message holds nothing else back. A
 * store (or dead-letter send) that fails makes the partition pause and the same batch come again: nothing is
 * skipped, and what the failed attempt did write is a no-op the second time. The bus commits the offset after the
 * batch only once this handler resolved, so a crash redelivers rather than loses.
 */

import { Counter, Histogram, type Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import { type EventBus, type EventConsumer, type IncomingMessage, RetryLater } from "../../../platform/events/bus.js";
import { inConsumerSpans } from "../../../platform/events/trace-context.js";
import type { Logger } from "../../../platform/logging.js";
import type { HistoryEntry, HistoryStore } from "../domain/history.js";
import { decodeUserEvent } from "../domain/user-event-codec.js";

export interface AuditConsumerOptions {
  readonly bus: EventBus;
  readonly store: HistoryStore;
  readonly groupId: string;
  readonly clientId: string;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** Pause of the partition after a store failure before the batch comes again (default 500 ms). */
  readonly retryDelayMs?: number;
  /** The most messages of a partition handled (and recorded, and committed) at once (default 500). */
  readonly batchSize?: number;
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

  /** The messages that are not UserEvents, to the dead-letter topic in one send (in their order). */
  async function deadLetter(poison: readonly { message: IncomingMessage; reason: string }[]): Promise<void> {
    if (poison.length === 0) return;
    await producer.send(
      userEventChannels.userEventsDeadLetter,
      poison.map(({ message, reason }) => ({
        key: message.key ?? "",
        value: message.value ?? "",
        headers: {
          ...message.headers,
          dlq_reason: reason,
          dlq_topic: message.topic,
          dlq_partition: String(message.partition),
          dlq_offset: message.offset,
        },
      })),
    );
    for (const { message, reason } of poison) {
      consumed.inc({ outcome: "dead_lettered" });
      log.warn(
        { partition: message.partition, offset: message.offset, reason },
        "an undecodable message went to the dead-letter topic",
      );
    }
  }

  /** Each message in a span that continues the trace of the change it describes; the batch's write in the first. */
  const handle = (messages: readonly IncomingMessage[]): Promise<void> =>
    inConsumerSpans(
      messages,
      (message) => ({
        "messaging.consumer.group.name": opts.groupId,
        "messaging.message.id": message.headers.ce_id ?? "",
      }),
      () => record(messages),
    );

  async function record(messages: readonly IncomingMessage[]): Promise<void> {
    const entries: HistoryEntry[] = [];
    const poison: { message: IncomingMessage; reason: string }[] = [];
    for (const message of messages) {
      const decoded = decodeUserEvent(message);
      if (decoded.ok) entries.push(decoded.entry);
      else poison.push({ message, reason: decoded.reason });
    }
    let recorded: boolean[] = [];
    if (entries.length > 0) {
      try {
        recorded = await opts.store.recordMany(entries);
      } catch (error) {
        consumed.inc({ outcome: "retried" }, entries.length);
        if (!failing) log.error({ err: error }, "the history store failed; the partition pauses and retries");
        failing = true;
        throw new RetryLater("the history store failed", opts.retryDelayMs ?? 500);
      }
      if (failing) log.info("the history store answers again");
      failing = false;
    }
    const now = Date.now();
    entries.forEach((entry, i) => {
      const isNew = recorded[i] === true;
      consumed.inc({ outcome: isNew ? "recorded" : "duplicate" });
      if (isNew) lag.observe(Math.max(0, now - Date.parse(String(entry.event.occurredAt))) / 1000);
    });
    // After the write: a failed send brings the batch again, and its entries are then duplicates, not lost.
    await deadLetter(poison);
  }

  return {
    async start() {
      consumer = opts.bus.consumer({
        groupId: opts.groupId,
        topic: userEventChannels.userEvents,
        clientId: opts.clientId,
        ...(opts.batchSize !== undefined ? { maxBatchMessages: opts.batchSize } : {}),
      });
      await consumer.startBatch(handle);
      log.info("consuming user events");
    },
    async stop() {
      await consumer?.stop();
      await producer.close();
    },
  };
}
