/**
 * The users outbox relay: the platform's relay (platform/events/outbox-relay.ts) over the user store's outbox,
 * publishing each recorded event as its UserEvent message (user-events.ts) on the user events topic, with the
 * `charter_users_*` outbox metrics.
 */

import type { Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import type { EventProducer } from "../../../platform/events/bus.js";
import {
  createOutboxRelay as createRelay,
  type OutboxRelay,
  type OutboxStore,
} from "../../../platform/events/outbox-relay.js";
import type { Logger } from "../../../platform/logging.js";
import { outboxMessage } from "../domain/user-events.js";
import type { OutboxEvent, UserStore } from "../domain/user-store.js";

export type { OutboxRelay } from "../../../platform/events/outbox-relay.js";

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
  /** The longest pause between attempts while the store or the producer fails (default 2 s). */
  readonly maxBackoffMs?: number;
  /** The most of one user's events a round sends (default 100). */
  readonly maxEventsPerUser?: number;
  /** The most bytes (keys, values and headers) one producer send carries (default 256 KiB). */
  readonly maxSendBytes?: number;
}

/** The user store's outbox as the relay's port (the store names the entity's id `userId`). */
function userOutbox(store: UserStore): OutboxStore<OutboxEvent> {
  return {
    claimOutbox: async (owner, limit, leaseMs, afterId) =>
      (await store.claimOutbox(owner, limit, leaseMs, afterId)).map((claim) => ({
        id: claim.userId,
        events: claim.events,
      })),
    markAllSent: (sent, owner) =>
      store.markAllSent(
        sent.map((s) => ({ userId: s.id, eventIds: s.eventIds })),
        owner,
      ),
    releaseClaim: (userId, owner) => store.releaseClaim(userId, owner),
    outboxSize: () => store.outboxSize(),
  };
}

export function createOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const { store, maxEventsPerUser, ...rest } = opts;
  return createRelay<OutboxEvent>({
    ...rest,
    ...(maxEventsPerUser === undefined ? {} : { maxEventsPerEntity: maxEventsPerUser }),
    store: userOutbox(store),
    topic: userEventChannels.userEvents,
    toMessage: outboxMessage,
    names: { metricPrefix: "charter_users", entity: "user", types: ["CREATED", "UPDATED", "DELETED"] },
  });
}
