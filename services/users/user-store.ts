import type { User, UserChanges } from "./user.js";

/** The outcome of a conditional write. */
export type WriteResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "missing" | "conflict" };

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
  insert(user: User): Promise<void>;
  /** Applies changes if the stored version is expectedVersion; the result has version + 1. */
  update(id: string, expectedVersion: number, changes: UserChanges, updateTime: string): Promise<WriteResult<User>>;
  /** Deletes the user, only at expectedVersion when given. */
  delete(id: string, expectedVersion?: number): Promise<WriteResult<User>>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
