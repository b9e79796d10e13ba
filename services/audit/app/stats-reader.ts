/**
 * The audit service's reader of `charter.users.v1.stats`: every instance reads the whole topic from its beginning
 * on every start (committed records only, in a consumer group of its own that commits nothing, so every instance
 * sees every window), decodes each record strictly and keeps the latest window in the read model. A record that
 * does not decode is logged and skipped, never retried nor fatal. A broker that cannot be reached is not fatal
 * either: the reader logs it, reports it in `charter_audit_stats_reader_up` and tries again with a growing pause,
 * while GetUserStats answers that the stats pipeline is not running.
 */
import { setTimeout as delay } from "node:timers/promises";
import { Counter, Gauge, type Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import type { EventBus, EventConsumer, IncomingMessage } from "../../../platform/events/bus.js";
import type { Logger } from "../../../platform/logging.js";
import type { LatestStatsStore } from "../domain/user-stats.js";
import { decodeUserStats } from "../domain/user-stats-codec.js";

export interface StatsReaderOptions {
  readonly bus: EventBus;
  readonly store: LatestStatsStore;
  /** This instance's own group: a group shared with another instance would split the windows between them. */
  readonly groupId: string;
  readonly clientId: string;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** First pause before joining again after a failed join; it doubles up to 30 s (default 500 ms). */
  readonly retryDelayMs?: number;
}

export interface StatsReader {
  /** Starts reading in the background; resolves at once, whatever the broker does. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const OUTCOMES = ["latest", "older", "invalid"] as const;
const MAX_RETRY_DELAY_MS = 30_000;

export function createStatsReader(opts: StatsReaderOptions): StatsReader {
  const topic = userEventChannels.userStats;
  const log = opts.logger.child({ component: "stats-reader", groupId: opts.groupId });
  const registers = opts.metrics ? [opts.metrics] : [];
  const records = new Counter({
    name: "charter_audit_stats_records_total",
    help: "User stats records read, by outcome: latest (kept as the latest window), older (an earlier window), invalid (skipped).",
    labelNames: ["outcome"] as const,
    registers,
  });
  for (const outcome of OUTCOMES) records.inc({ outcome }, 0);
  const up = new Gauge({
    name: "charter_audit_stats_reader_up",
    help: "1 while the user stats reader has joined the stats topic, 0 while it cannot (it keeps trying).",
    registers,
  });
  up.set(0);
  let consumer: EventConsumer | undefined;
  let running: Promise<void> | undefined;
  const stopping = new AbortController();

  async function handle(messages: readonly IncomingMessage[]): Promise<void> {
    for (const message of messages) {
      const decoded = decodeUserStats(message);
      if (!decoded.ok) {
        records.inc({ outcome: "invalid" });
        log.warn(
          { partition: message.partition, offset: message.offset, reason: decoded.reason },
          "a user stats record that does not fit the contract was skipped",
        );
        continue;
      }
      records.inc({ outcome: opts.store.offer(decoded.record) ? "latest" : "older" });
    }
  }

  /** Joins, and joins again after each failure, until stopped. */
  async function keepReading(): Promise<void> {
    let pause = opts.retryDelayMs ?? 500;
    let failures = 0;
    while (!stopping.signal.aborted) {
      const member = opts.bus.consumer({ groupId: opts.groupId, topic, clientId: opts.clientId, replay: true });
      consumer = member;
      try {
        await member.startBatch(handle);
        up.set(1);
        log.info({ topic }, "reading user stats");
        return;
      } catch (error) {
        up.set(0);
        await member.stop().catch(() => undefined);
        consumer = undefined;
        // The first failure is worth a warning; the retries of one outage only at debug level.
        log[failures === 0 ? "warn" : "debug"]({ err: error, retryInMs: pause }, "cannot read user stats; retrying");
        failures += 1;
        await delay(pause, undefined, { signal: stopping.signal }).catch(() => undefined);
        pause = Math.min(pause * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  return {
    async start() {
      running = keepReading();
    },
    async stop() {
      stopping.abort();
      await running;
      await consumer?.stop();
      up.set(0);
    },
  };
}
