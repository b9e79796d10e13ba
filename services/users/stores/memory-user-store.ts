import { applyChanges, compareIds, emailKey, emailTaken, type User } from "../user.js";
import type { UserStore, WriteResult } from "../user-store.js";

/**
 * The embedded store: process memory, same behaviour as the MongoDB adapter (one shared spec).
 * Every user handed out is a copy. getMany returns a user once per occurrence of its id.
 */
export function createMemoryUserStore(): UserStore {
  const byId = new Map<string, User>();
  const idByEmail = new Map<string, string>();

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
    async insert(user) {
      claimEmail(user.email, user.id);
      if (byId.has(user.id)) throw new Error(`duplicate id ${user.id}`);
      byId.set(user.id, { ...user });
      idByEmail.set(emailKey(user.email), user.id);
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
      return { ok: true, value: { ...found.value } };
    },
    async ping() {},
    async close() {},
  };
}
