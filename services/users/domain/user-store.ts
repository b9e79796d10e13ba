import { type ChangeOrigin, changeOrigin } from "../../../platform/events/change-origin.js";
import type { User, UserChanges } from "./user.js";

/** The outcome of a conditional write. */
export type WriteResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "missing" | "conflict" };

/** Called by a store between its read and its write, with the version the write will produce. */
export type BeforeWrite = (version: number) => Promise<void>;

/**
 * An idempotency key stored with the user it created: a retry that brings the same key and the same
 * fingerprint gets that user back; the key is forgotten at expiresAt (ms since 1970) or with the user.
 */
export interface IdempotencyKey {
  readonly key: string;
  /** Identifies the request's content (the normalised name and email). */
  readonly fingerprint: string;
  readonly expiresAt: number;
}

/** What an insert did: created the user, or found the key already used (by the same request or another). */
export type InsertResult =
  | { readonly kind: "inserted"; readonly user: User }
  | { readonly kind: "replayed"; readonly user: User }
  | { readonly kind: "key-reused" };

/** A live idempotency key and the user it created. */
export interface KeyedUser {
  readonly user: User;
  readonly fingerprint: string;
}

/** What a change to a user records in its outbox, in the same write (see user-events.ts for the message). */
export interface OutboxEvent extends ChangeOrigin {
  /** `<user id>-<version>`: unique (a user's versions only grow, ids are never reused) and the same on every send. */
  readonly eventId: string;
  readonly type: "CREATED" | "UPDATED" | "DELETED";
  readonly userId: string;
  /** The user's version after the change; a deletion's is the deleted version + 1. */
  readonly version: number;
  readonly occurredAt: string;
  /** The user after the change; absent for DELETED. */
  readonly user?: User;
}

/** A user's pending events, claimed by one relay for a lease (see claimOutbox). */
export interface OutboxClaim {
  readonly userId: string;
  /** In version order. */
  readonly events: readonly OutboxEvent[];
}

/** The outbox event of a change, with the active trace context and its actor: what every adapter records with the write. */
export function outboxEvent(type: OutboxEvent["type"], user: User, occurredAt: string, actor = ""): OutboxEvent {
  return {
    eventId: `${user.id}-${user.version}`,
    type,
    userId: user.id,
    version: user.version,
    occurredAt,
    ...(type === "DELETED" ? {} : { user: { ...user } }),
    ...changeOrigin(actor),
  };
}

/** What an adapter is built with besides its connection. */
export interface UserStoreOptions {
  /**
   * The clock that idempotency keys expire and outbox claims run out on, in ms since 1970 (default Date.now):
   * `IdempotencyKey.expiresAt` and the lease of claimOutbox are read against it.
   */
  readonly now?: () => number;
}

/**
 * The storage port. Adapters keep emails unique case-insensitively (insert and
 * update throw the domain's ALREADY_EXISTS), apply writes only to the expected
 * version, and list in id order.
 *
 * The outbox: every insert, update and delete records its OutboxEvent in the same single-document write (the
 * test server has no multi-document transactions, and none is needed), so there is never a change without its
 * event nor an event without its change. A deleted user stays as a tombstone — invisible to every read, its
 * email and idempotency key free again — until its DELETED event is marked sent. Marking sent never changes the
 * user's version.
 */
export interface UserStore {
  // The writes take the actor of the change (the verified subject of the call that made it), recorded in its
  // OutboxEvent; empty or left out: unknown.
  get(id: string): Promise<User | undefined>;
  /** The users that exist among ids, in the order of ids. */
  getMany(ids: readonly string[]): Promise<User[]>;
  /** The live user whose email is this one, compared case-insensitively (by emailKey), or undefined. */
  findByEmail(email: string): Promise<User | undefined>;
  /** Up to limit users with id greater than afterId, in increasing id order. */
  list(page: { readonly limit: number; readonly afterId?: string }): Promise<User[]>;
  /**
   * Inserts a new user. With an idempotency key, atomically: if a live key of that name is stored, nothing is
   * inserted and the result is its user ("replayed", same fingerprint) or "key-reused" (another fingerprint);
   * an expired key is cleared first. Of concurrent inserts with one key, exactly one inserts.
   */
  insert(user: User, idempotency?: IdempotencyKey, actor?: string): Promise<InsertResult>;
  /** The user created under a live idempotency key, or undefined (an expired key is cleared). */
  findByIdempotencyKey(key: string): Promise<KeyedUser | undefined>;
  /**
   * Changes a user with one read and one conditional write: reads it, applies `changes` (the domain's
   * applyChanges) and writes the result only if the stored version is still the one read; the result has version
   * + 1. With expectedVersion, only at that version: another is "conflict", known from the read, with no write. A
   * missing user is "missing", likewise. `beforeWrite` is awaited with the version about to be written, between
   * the read and the write (the service fences its cache there), and only when a write follows. A write that loses
   * a race with another writer after the read is "conflict" (the caller may try again: one read and one write).
   */
  update(
    id: string,
    expectedVersion: number | undefined,
    changes: UserChanges,
    updateTime: string,
    beforeWrite?: BeforeWrite,
    actor?: string,
  ): Promise<WriteResult<User>>;
  /** Deletes the user, only at expectedVersion when given; `time` is the DELETED event's (default now). */
  delete(id: string, expectedVersion?: number, time?: string, actor?: string): Promise<WriteResult<User>>;
  /**
   * Claims up to `limit` users with pending events that no live claim holds, for `owner` until now + leaseMs,
   * in id order from the first id after `afterId` round to the start (from the start without it); each with its
   * pending events in version order. A relay passes the last id it claimed, so that every pending user gets its
   * turn however busy the users before it are.
   */
  claimOutbox(owner: string, limit: number, leaseMs: number, afterId?: string): Promise<OutboxClaim[]>;
  /**
   * Removes the sent events (by id) from the user's outbox and ends `owner`'s claim; events recorded since the
   * claim stay pending. A tombstone whose outbox is then empty is removed.
   */
  markSent(userId: string, eventIds: readonly string[], owner: string): Promise<void>;
  /** markSent for several users at once (one round trip where the store can). */
  markAllSent(
    sent: readonly { readonly userId: string; readonly eventIds: readonly string[] }[],
    owner: string,
  ): Promise<void>;
  /** Ends `owner`'s claim without marking anything (the events are sent again later). */
  releaseClaim(userId: string, owner: string): Promise<void>;
  /** How many events wait in outboxes. */
  outboxSize(): Promise<number>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
