import type { User, UserChanges } from "./user.js";

/** The outcome of a conditional write. */
export type WriteResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "missing" | "conflict" };

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

/**
 * The storage port. Adapters keep emails unique case-insensitively (insert and
 * update throw the domain's ALREADY_EXISTS), apply writes only to the expected
 * version, and list in id order.
 */
export interface UserStore {
  get(id: string): Promise<User | undefined>;
  /** The users that exist among ids, in the order of ids. */
  getMany(ids: readonly string[]): Promise<User[]>;
  /** Up to limit users with id greater than afterId, in increasing id order. */
  list(page: { readonly limit: number; readonly afterId?: string }): Promise<User[]>;
  /**
   * Inserts a new user. With an idempotency key, atomically: if a live key of that name is stored, nothing is
   * inserted and the result is its user ("replayed", same fingerprint) or "key-reused" (another fingerprint);
   * an expired key is cleared first. Of concurrent inserts with one key, exactly one inserts.
   */
  insert(user: User, idempotency?: IdempotencyKey): Promise<InsertResult>;
  /** The user created under a live idempotency key, or undefined (an expired key is cleared). */
  findByIdempotencyKey(key: string): Promise<KeyedUser | undefined>;
  /** Applies changes if the stored version is expectedVersion; the result has version + 1. */
  update(id: string, expectedVersion: number, changes: UserChanges, updateTime: string): Promise<WriteResult<User>>;
  /** Deletes the user, only at expectedVersion when given. */
  delete(id: string, expectedVersion?: number): Promise<WriteResult<User>>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
