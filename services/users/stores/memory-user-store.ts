import { applyChanges, compareIds, emailKey, emailTaken, type User } from "../user.js";
import type { IdempotencyKey, KeyedUser, UserStore, WriteResult } from "../user-store.js";

/**
 * The embedded store: process memory, same behaviour as the MongoDB adapter (one shared spec).
 * Every user handed out is a copy. getMany returns a user once per occurrence of its id.
 */
export function createMemoryUserStore(): UserStore {
  const byId = new Map<string, User>();
  const idByEmail = new Map<string, string>();
  /** Live idempotency keys → the user each created (dropped with the user, or when found expired). */
  const keys = new Map<string, IdempotencyKey & { readonly id: string }>();
  const keyOfId = new Map<string, string>();

  /** The live key's user; an expired key is cleared. Synchronous: nothing can interleave. */
  const lookup = (key: string): KeyedUser | undefined => {
    const found = keys.get(key);
    if (!found) return undefined;
    const user = byId.get(found.id);
    if (!user || found.expiresAt <= Date.now()) {
      keys.delete(key);
      keyOfId.delete(found.id);
      return undefined;
    }
    return { user: { ...user }, fingerprint: found.fingerprint };
  };
  const dropKeyOf = (id: string): void => {
    const key = keyOfId.get(id);
    if (key === undefined) return;
    keyOfId.delete(id);
    keys.delete(key);
  };

  const claimEmail = (email: string, id: string): void => {
    const owner = idByEmail.get(emailKey(email));
    if (owner !== undefined && owner !== id) throw emailTaken();
  };
  const check = (id: string, expectedVersion: number | undefined): WriteResult<User> => {
    const current = byId.get(id);
    if (!current) return { ok: false, reason: "missing" };
    if (expectedVersion !== undefined && current.version !== expectedVersion) return { ok: false, reason: "conflict" };
    return { ok: true, value: current };
  };

  return {
    async get(id) {
      const user = byId.get(id);
      return user && { ...user };
    },
    async getMany(ids) {
      return ids.flatMap((id) => {
        const user = byId.get(id);
        return user ? [{ ...user }] : [];
      });
    },
    async list({ limit, afterId }) {
      return [...byId.values()]
        .filter((u) => afterId === undefined || compareIds(u.id, afterId) > 0)
        .sort((a, b) => compareIds(a.id, b.id))
        .slice(0, limit)
        .map((u) => ({ ...u }));
    },
    async insert(user, idempotency) {
      if (idempotency) {
        const found = lookup(idempotency.key);
        if (found) {
          return found.fingerprint === idempotency.fingerprint
            ? { kind: "replayed", user: found.user }
            : { kind: "key-reused" };
        }
      }
      claimEmail(user.email, user.id);
      if (byId.has(user.id)) throw new Error(`duplicate id ${user.id}`);
      byId.set(user.id, { ...user });
      idByEmail.set(emailKey(user.email), user.id);
      if (idempotency) {
        keys.set(idempotency.key, { ...idempotency, id: user.id });
        keyOfId.set(user.id, idempotency.key);
      }
      return { kind: "inserted", user: { ...user } };
    },
    async findByIdempotencyKey(key) {
      return lookup(key);
    },
    async update(id, expectedVersion, changes, updateTime) {
      const found = check(id, expectedVersion);
      if (!found.ok) return found;
      if (changes.email !== undefined) claimEmail(changes.email, id);
      const next = applyChanges(found.value, changes, updateTime);
      idByEmail.delete(emailKey(found.value.email));
      idByEmail.set(emailKey(next.email), id);
      byId.set(id, next);
      return { ok: true, value: { ...next } };
    },
    async delete(id, expectedVersion) {
      const found = check(id, expectedVersion);
      if (!found.ok) return found;
      byId.delete(id);
      idByEmail.delete(emailKey(found.value.email));
      dropKeyOf(id);
      return { ok: true, value: { ...found.value } };
    },
    async ping() {},
    async close() {},
  };
}
