/**
 * The outbox relay: publishes the events a store recorded with each write, then marks them sent. A service's
 * store implements OutboxStore (its entities' pending events, in the same write as each change) and the service
 * says how a stored event becomes a message; users and every service made by `npm run new:service` run this one.
 *
 * It claims entities with pending events (a lease in the store, so that with several instances on one store only
 * one relay sends a given entity's events at a time), publishes each claimed entity's events in order in one send
 * (keyed by entity id: one partition, in order), and marks exactly those events sent; events recorded meanwhile
 * stay pending. A failed send releases the claims and backs off; the events stay in the store, so writes go on
 * while the broker is away and nothing is lost. A relay that dies mid-way leaves its claims to expire, and its
 * events are sent again — duplicates carry the same event id, and consumers skip them.
 *
 * A round sends each claimed entity's unsent events from the oldest on — at most `maxEventsPerEntity` of them, the
 * rest in the next rounds — in sends of at most `maxSendBytes` (a broker refuses a record batch over its
 * `max.message.bytes`, 1 MiB by default, and an entity with a long backlog would otherwise never get out). The
 * sends go one after another, and a failed one releases the claims with nothing marked, so the first copy of
 * each event reaches the topic in order whatever happens; a copy sent again can only follow its first.
 */

import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "../logging.js";
import type { EventProducer, OutgoingMessage } from "./bus.js";

/** What the relay reads of a stored event. */
export interface OutboxEventBase {
  /** Unique, and the same on every send of the event. */
  readonly eventId: string;
  /** The kind of change (a label of the published-events metric). */
  readonly type: string;
  /** When the change was made (ISO 8601): the lag metric is measured from it. */
  readonly occurredAt: string;
}

/** An entity's pending events, claimed by one relay for a lease (see OutboxStore.claimOutbox). */
export interface OutboxClaim<E extends OutboxEventBase> {
  readonly id: string;
  /** In the order of the changes. */
  readonly events: readonly E[];
}

/** The events one relay sent of one entity. */
export interface SentEvents {
  readonly id: string;
  readonly eventIds: readonly string[];
}

/** What the relay needs of a store that records each change's event in the same write. */
export interface OutboxStore<E extends OutboxEventBase> {
  /**
   * Claims up to `limit` entities with pending events that no live claim holds, for `owner` until now + leaseMs,
   * in id order from the first id after `afterId` round to the start (from the start without it); each with its
   * pending events in order. The relay passes the last id it claimed, so that every pending entity gets its turn
   * however busy the entities before it are.
   */
  claimOutbox(owner: string, limit: number, leaseMs: number, afterId?: string): Promise<OutboxClaim<E>[]>;
  /** Removes the sent events (by id) and ends `owner`'s claims; events recorded since the claim stay pending. */
  markAllSent(sent: readonly SentEvents[], owner: string): Promise<void>;
  /** Ends `owner`'s claim without marking anything (the events are sent again later). */
  releaseClaim(id: string, owner: string): Promise<void>;
  /** How many events wait to be sent. */
  outboxSize(): Promise<number>;
}

/** The names of the relay's metrics and log lines: `<prefix>_events_published_total` and so on. */
export interface OutboxRelayNames {
  /** The metrics' prefix, e.g. `charter_users`. */
  readonly metricPrefix: string;
  /** The entity, in help texts and log lines: `user`. */
  readonly entity: string;
  /** The event types, counted from 0 on start. */
  readonly types: readonly string[];
}

export interface OutboxRelayOptions<E extends OutboxEventBase> {
  readonly store: OutboxStore<E>;
  readonly producer: EventProducer;
  /** The topic the events go to. */
  readonly topic: string;
  /** A stored event as its message (keyed by its entity's id, so that one entity's events keep their order). */
  readonly toMessage: (event: E) => OutgoingMessage;
  readonly names: OutboxRelayNames;
  /** This relay's name in claims: unique among the relays of one store (the instance id). */
  readonly owner: string;
  readonly logger: Logger;
  /** How often the store is asked for pending events when no write woke the relay. */
  readonly pollIntervalMs: number;
  /** Entities claimed per round. */
  readonly batchSize: number;
  /** How long a claim holds before another relay may take the entity's events. */
  readonly leaseMs: number;
  readonly metrics?: Registry;
  /** The longest pause between attempts while the store or the producer fails (default 2 s). */
  readonly maxBackoffMs?: number;
  /** The most of one entity's events a round sends (default 100). */
  readonly maxEventsPerEntity?: number;
  /** The most bytes (keys, values and headers) one producer send carries (default 256 KiB). */
  readonly maxSendBytes?: number;
}

export interface OutboxRelay {
  start(): void;
  /** A write happened: look for pending events now rather than at the next poll. */
  wake(): void;
  /**
   * Finishes the round in hand (its send and marks) and, unless the store or the producer is failing, one more
   * for the events of the last writes; then stops. A pause (poll or backoff) ends at once.
   */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 2_000;
const MAX_EVENTS_PER_ENTITY = 100;
const MAX_SEND_BYTES = 256 * 1024;
const FIRST_BACKOFF_MS = 100;

/** What the relay is doing, logged once per change: working, or waiting for the store or the producer. */
type RelayState = "publishing" | "store-failing" | "producer-failing";

export function createOutboxRelay<E extends OutboxEventBase>(opts: OutboxRelayOptions<E>): OutboxRelay {
  const { metricPrefix, entity } = opts.names;
  const log = opts.logger.child({ component: "outbox-relay", owner: opts.owner });
  const maxBackoffMs = opts.maxBackoffMs ?? MAX_BACKOFF_MS;
  const registers = opts.metrics ? [opts.metrics] : [];
  const published = new Counter({
    name: `${metricPrefix}_events_published_total`,
    help: `${entity[0]?.toUpperCase()}${entity.slice(1)} events published to the event bus, by type.`,
    labelNames: ["type"] as const,
    registers,
  });
  for (const type of opts.names.types) published.inc({ type }, 0);
  const errors = new Counter({
    name: `${metricPrefix}_outbox_publish_errors_total`,
    help: "Failed attempts to publish outbox events (the events stay pending and are sent again).",
    registers,
  });
  const lag = new Histogram({
    name: `${metricPrefix}_outbox_lag_seconds`,
    help: "Time from a change to its event being published.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  new Gauge({
    name: `${metricPrefix}_outbox_backlog`,
    help: `Events recorded in the ${entity} store and not yet published.`,
    registers,
    async collect() {
      this.set(await opts.store.outboxSize().catch(() => Number.NaN));
    },
  });

  let running = false;
  let loop: Promise<void> | undefined;
  /** Ends the current pause early: set while the relay pauses. */
  let endPause: (() => void) | undefined;
  /** Whether the current pause is a poll (a write ends it) rather than a backoff (only stop() does). */
  let pausePolls = false;
  /** A write happened since the relay last looked. */
  let woken = false;

  /** Waits `ms`; a poll (`poll`) also ends when a write wakes the relay; any pause ends on stop(). */
  const pause = (ms: number, poll: boolean) =>
    new Promise<void>((resolve) => {
      if (!running || (poll && woken)) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        endPause = undefined;
        resolve();
      }
      endPause = done;
      pausePolls = poll;
    });

  let state: RelayState = "publishing";
  let failures = 0;
  /** Records the outcome of an attempt, logging a line when the state changes. */
  const enter = (next: RelayState, error?: unknown): void => {
    if (next === state) {
      if (next !== "publishing") failures += 1;
      return;
    }
    if (next === "store-failing") {
      log.warn({ err: error }, `the ${entity} store does not answer: events wait in the outbox; retrying`);
    } else if (next === "producer-failing") {
      log.warn({ err: error }, "cannot publish events: they stay in the outbox and are retried");
    } else {
      log.info({ failedAttempts: failures }, "outbox relay publishing again");
    }
    failures = next === "publishing" ? 0 : 1;
    state = next;
  };
  const backoffMs = () => Math.min(maxBackoffMs, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 10));

  const maxEventsPerEntity = opts.maxEventsPerEntity ?? MAX_EVENTS_PER_ENTITY;
  const maxSendBytes = opts.maxSendBytes ?? MAX_SEND_BYTES;
  const sizeOf = (message: OutgoingMessage): number =>
    Buffer.byteLength(message.key) +
    Buffer.byteLength(message.value ?? "") +
    Object.entries(message.headers ?? {}).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

  /**
   * Sends the events in claim order, each entity's in order, in sends of at most `maxSendBytes` (one
   * message over it goes alone), one after another.
   */
  async function send(events: readonly E[]): Promise<void> {
    let chunk: { event: E; message: OutgoingMessage }[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      await opts.producer.send(
        opts.topic,
        chunk.map((c) => c.message),
      );
      const now = Date.now();
      for (const { event } of chunk) {
        published.inc({ type: event.type });
        lag.observe(Math.max(0, now - Date.parse(event.occurredAt)) / 1000);
      }
      chunk = [];
      bytes = 0;
    };
    for (const event of events) {
      const message = opts.toMessage(event);
      const size = sizeOf(message);
      if (bytes + size > maxSendBytes) await flush();
      chunk.push({ event, message });
      bytes += size;
    }
    await flush();
  }

  /** The last entity the previous round claimed. */
  let cursor: string | undefined;

  /** One round: claim, send, mark. A failure is recorded (state, metrics, released claims) and not thrown. */
  async function round(): Promise<"idle" | "sent" | "failed"> {
    let claims: OutboxClaim<E>[];
    try {
      claims = await opts.store.claimOutbox(opts.owner, opts.batchSize, opts.leaseMs, cursor);
    } catch (error) {
      enter("store-failing", error);
      return "failed";
    }
    if (claims.length === 0) {
      if (state === "store-failing") enter("publishing");
      return "idle";
    }
    cursor = claims.at(-1)?.id; // the next round starts after it: every pending entity gets its turn
    // What this round sends of each claimed entity: the oldest events, up to the cap.
    const batches = claims.map((claim) => ({ id: claim.id, events: claim.events.slice(0, maxEventsPerEntity) }));
    try {
      await send(batches.flatMap((batch) => batch.events));
    } catch (error) {
      errors.inc();
      enter("producer-failing", error);
      // Released for the next attempt (by this relay or another); a release that fails just waits for the lease.
      await Promise.all(claims.map((claim) => opts.store.releaseClaim(claim.id, opts.owner).catch(() => {})));
      return "failed";
    }
    try {
      // Marked even when a claim had no events: a relay that stopped between the steps of its marking can leave
      // an emptied outbox still flagged pending, and marking it clears that.
      await opts.store.markAllSent(
        batches.map((batch) => ({ id: batch.id, eventIds: batch.events.map((e) => e.eventId) })),
        opts.owner,
      );
    } catch (error) {
      // Published but not marked: the claims expire and the events go again, with the same ids.
      enter("store-failing", error);
      return "failed";
    }
    enter("publishing");
    return "sent";
  }

  async function run(): Promise<void> {
    while (running) {
      woken = false;
      const outcome = await round();
      if (outcome === "idle") await pause(opts.pollIntervalMs, true);
      else if (outcome === "failed") await pause(backoffMs(), false);
    }
    // Stopping: the events of the last writes go out now rather than wait for another relay to find them (one
    // batch, and only while the store and the producer answer).
    if (state === "publishing") await round();
  }

  return {
    start() {
      if (running) return;
      running = true;
      log.info(
        { pollIntervalMs: opts.pollIntervalMs, batchSize: opts.batchSize, leaseMs: opts.leaseMs },
        "outbox relay started",
      );
      loop = run().catch((error: unknown) => log.error({ err: error }, "the outbox relay stopped on a bug"));
    },
    wake() {
      woken = true;
      if (pausePolls) endPause?.();
    },
    async stop() {
      if (!running) return;
      running = false;
      endPause?.();
      await loop;
      log.info("outbox relay stopped");
    },
  };
}
