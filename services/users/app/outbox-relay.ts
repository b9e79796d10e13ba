/**
 * The users outbox relay: the platform's relay (platform/events/outbox-relay.ts) over the user store's outbox,
 * publishing each recorded event as its UserEvent message (user-events.ts) on the user events topic, with the
 * `charter_users_*` outbox metrics.
 */

import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import {
  createOutboxRelay as createRelay,
  type OutboxRelayOptions as GenericOutboxRelayOptions,
  type OutboxRelay,
  type OutboxStore,
} from "../../../platform/events/outbox-relay.js";
import { outboxMessage } from "../domain/user-events.js";
import type { OutboxEvent, UserStore } from "../domain/user-store.js";

export type { OutboxRelay } from "../../../platform/events/outbox-relay.js";

/** The platform relay's options, less what users fixes (its topic, messages and names), over the user store. */
export interface OutboxRelayOptions
  extends Omit<
    GenericOutboxRelayOptions<OutboxEvent>,
    "store" | "topic" | "toMessage" | "names" | "maxEventsPerEntity"
  > {
  readonly store: UserStore;
  /** The most of one user's events a round sends (default 100). */
  readonly maxEventsPerUser?: number;
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
