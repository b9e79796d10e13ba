/**
 * The outbox relay: publishes the events the user store recorded with each write, then marks them sent.
 *
 * It claims users with pending events (a lease in the user's document, so that with several users instances on
 * one store only one relay sends a given user's events at a time), publishes each claimed user's events in
 * version order in one send (keyed by user id: one partition, in order), and marks exactly those events sent;
 * events recorded meanwhile stay pending. A failed send releases the claims and backs off; the events stay in
 * the store, so writes go on while the broker is away and nothing is lost. A relay that dies mid-way leaves its
 * claims to expire, and its events are sent again — duplicates carry the same event id, and consumers skip them.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type EventProducer, USER_EVENTS_TOPIC } from "../../platform/events/bus.js";
import type { Logger } from "../../platform/logging.js";
import { buildUserEvent, toUserEventMessage } from "./user-events.js";
import type { OutboxClaim, UserStore } from "./user-store.js";

export interface OutboxRelayOptions {
  readonly store: UserStore;
  readonly producer: EventProducer;
  /** This relay's name in claims: unique among the relays of one store (the instance id). */
  readonly owner: string;
  readonly logger: Logger;
  /** How often the store is asked for pending events when no write woke the relay. */
  readonly pollIntervalMs: number;
  /** Users claimed per round. */
  readonly batchSize: number;
  /** How long a claim holds before another relay may take the user's events. */
  readonly leaseMs: number;
  readonly metrics?: Registry;
}

export interface OutboxRelay {
  start(): void;
  /** A write happened: look for pending events now rather than at the next poll. */
  wake(): void;
  /** Finishes the round in hand (its send and marks), then stops. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 2_000;

export function createOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const log = opts.logger.child({ component: "outbox-relay", owner: opts.owner });
  const registers = opts.metrics ? [opts.metrics] : [];
  const published = new Counter({
    name: "charter_users_events_published_total",
    help: "User events published to the event bus, by type.",
    labelNames: ["type"] as const,
    registers,
  });
  for (const type of ["CREATED", "UPDATED", "DELETED"]) published.inc({ type }, 0);
  const errors = new Counter({
    name: "charter_users_outbox_publish_errors_total",
    help: "Failed attempts to publish outbox events (the events stay pending and are sent again).",
    registers,
  });
  const lag = new Histogram({
    name: "charter_users_outbox_lag_seconds",
    help: "Time from a change to its event being published.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  new Gauge({
    name: "charter_users_outbox_backlog",
    help: "Events recorded in the user store and not yet published.",
    registers,
    async collect() {
      this.set(await opts.store.outboxSize().catch(() => Number.NaN));
    },
  });

  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;

  /** Waits `ms`, or less if a write wakes the relay (when `wakeable`). */
  const pause = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      if (wakeable && woken) {
        woken = false;
        return resolve();
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = wakeable ? done : undefined;
      if (!running) done();
    });

  async function publish(claims: readonly OutboxClaim[]): Promise<void> {
    const events = claims.flatMap((claim) => claim.events);
    await opts.producer.send(
      USER_EVENTS_TOPIC,
      events.map((event) => toUserEventMessage(buildUserEvent(event))),
    );
    const now = Date.now();
    for (const event of events) {
      published.inc({ type: event.type });
      lag.observe(Math.max(0, now - Date.parse(event.occurredAt)) / 1000);
    }
    const sent = claims.map((claim) => ({ userId: claim.userId, eventIds: claim.events.map((e) => e.eventId) }));
    await opts.store
      .markAllSent(sent, opts.owner)
      // Not marked: the claims expire and the events go out again (as duplicates with the same ids).
      .catch((error: unknown) => log.warn({ err: error, users: sent.length }, "could not mark events sent"));
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      woken = false;
      let claims: OutboxClaim[];
      try {
        claims = await opts.store.claimOutbox(opts.owner, opts.batchSize, opts.leaseMs);
      } catch (error) {
        failures += 1;
        if (failures === 1) log.warn({ err: error }, "cannot read the outbox; retrying");
        await pause(Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 5)), false);
        continue;
      }
      if (claims.length === 0) {
        if (failures > 0) log.info("the outbox is readable again");
        failures = 0;
        await pause(opts.pollIntervalMs, true);
        continue;
      }
      try {
        await publish(claims);
        if (failures > 0) log.info({ afterFailures: failures }, "publishing events again");
        failures = 0;
      } catch (error) {
        failures += 1;
        errors.inc();
        if (failures === 1) log.warn({ err: error }, "cannot publish events; they stay in the outbox and are retried");
        await Promise.all(claims.map((claim) => opts.store.releaseClaim(claim.userId, opts.owner).catch(() => {})));
        await pause(Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 5)), false);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run().catch((error: unknown) => log.error({ err: error }, "the outbox relay stopped on a bug"));
      log.info({ pollIntervalMs: opts.pollIntervalMs, batchSize: opts.batchSize }, "outbox relay started");
    },
    wake() {
      woken = true;
      wakeUp?.();
    },
    async stop() {
      running = false;
      wakeUp?.();
      await loop;
    },
  };
}
