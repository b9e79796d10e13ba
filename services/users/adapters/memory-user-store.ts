import { applyChanges, compareIds, emailKey, emailTaken, type User } from "../domain/user.js";
import {
  type IdempotencyKey,
  type KeyedUser,
  type OutboxClaim,
  type OutboxEvent,
  outboxEvent,
  type UserStore,
  type UserStoreOptions,
  type WriteResult,
} from "../domain/user-store.js";

interface Entry {
  user: User;
  /** A tombstone: deleted, kept until its DELETED event is sent. */
  deleted: boolean;
  outbox: OutboxEvent[];
  claim?: { owner: string; until: number };
}

/**
 * The embedded store: process memory, same behaviour as the MongoDB adapter (one shared spec), outbox and
 * tombstones included. Every user handed out is a copy. getMany returns a user once per occurrence of its id.
 */
export function createMemoryUserStore(options: UserStoreOptions = {}): UserStore {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const idByEmail = new Map<string, string>();
  /** Live idempotency keys → the user each created (dropped with the user, or when found expired). */
  const keys = new Map<string, IdempotencyKey & { readonly id: string }>();
  const keyOfId = new Map<string, string>();

  const live = (id: string): User | undefined => {
    const entry = entries.get(id);
    return entry && !entry.deleted ? entry.user : undefined;
  };
  /** The live key's user; an expired key is cleared. Synchronous: nothing can interleave. */
  const lookup = (key: string): KeyedUser | undefined => {
    const found = keys.get(key);
    if (!found) return undefined;
    const user = live(found.id);
    if (!user || found.expiresAt <= now()) {
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
    const current = live(id);
    if (!current) return { ok: false, reason: "missing" };
    if (expectedVersion !== undefined && current.version !== expectedVersion) return { ok: false, reason: "conflict" };
    return { ok: true, value: current };
  };
  const copy = (event: OutboxEvent): OutboxEvent => structuredClone(event);
  const ownedBy = (entry: Entry | undefined, owner: string): entry is Entry => entry?.claim?.owner === owner;

  const markOne = (userId: string, eventIds: readonly string[], owner: string): void => {
    const entry = entries.get(userId);
    if (!ownedBy(entry, owner)) return;
    const sent = new Set(eventIds);
    entry.outbox = entry.outbox.filter((event) => !sent.has(event.eventId));
    delete entry.claim;
    if (entry.deleted && entry.outbox.length === 0) entries.delete(userId);
  };

  return {
    async get(id) {
      const user = live(id);
      return user && { ...user };
    },
    async getMany(ids) {
      return ids.flatMap((id) => {
        const user = live(id);
        return user ? [{ ...user }] : [];
      });
    },
    async findByEmail(email) {
      const id = idByEmail.get(emailKey(email));
      const user = id === undefined ? undefined : live(id);
      return user && { ...user };
    },
    async list({ limit, afterId }) {
      return [...entries.values()]
        .filter((e) => !e.deleted && (afterId === undefined || compareIds(e.user.id, afterId) > 0))
        .map((e) => e.user)
        .sort((a, b) => compareIds(a.id, b.id))
        .slice(0, limit)
        .map((u) => ({ ...u }));
    },
    async insert(user, idempotency, actor) {
      if (idempotency) {
        const found = lookup(idempotency.key);
        if (found) {
          return found.fingerprint === idempotency.fingerprint
            ? { kind: "replayed", user: found.user }
            : { kind: "key-reused" };
        }
      }
      claimEmail(user.email, user.id);
      if (entries.has(user.id)) throw new Error(`duplicate id ${user.id}`);
      entries.set(user.id, {
        user: { ...user },
        deleted: false,
        outbox: [outboxEvent("CREATED", user, user.createTime, actor)],
      });
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
    async update(id, expectedVersion, changes, updateTime, beforeWrite, actor) {
      const found = check(id, expectedVersion);
      if (!found.ok) return found;
      const next = applyChanges(found.value, changes, updateTime);
      await beforeWrite?.(next.version);
      // The write is conditional on the version read, as the MongoDB adapter's: a writer that got in while
      // beforeWrite ran wins, and this one is a conflict.
      if (live(id)?.version !== found.value.version) return { ok: false, reason: "conflict" };
      if (changes.email !== undefined) claimEmail(changes.email, id);
      const entry = entries.get(id) as Entry;
      idByEmail.delete(emailKey(found.value.email));
      idByEmail.set(emailKey(next.email), id);
      entry.user = next;
      entry.outbox.push(outboxEvent("UPDATED", next, updateTime, actor));
      return { ok: true, value: { ...next } };
    },
    async delete(id, expectedVersion, time = new Date(now()).toISOString(), actor = "") {
      const found = check(id, expectedVersion);
      if (!found.ok) return found;
      const entry = entries.get(id) as Entry;
      idByEmail.delete(emailKey(found.value.email));
      dropKeyOf(id);
      entry.deleted = true;
      entry.user = { ...found.value, version: found.value.version + 1 };
      entry.outbox.push(outboxEvent("DELETED", entry.user, time, actor));
      return { ok: true, value: { ...found.value } };
    },
    async claimOutbox(owner, limit, leaseMs, afterId) {
      const at = now();
      const claims: OutboxClaim[] = [];
      // The claimable entries in id order, those after afterId first, then from the start.
      const claimable = [...entries.values()]
        .filter((entry) => entry.outbox.length > 0 && !(entry.claim && entry.claim.until > at))
        .map((entry) => ({ entry, id: BigInt(entry.user.id) }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const after = afterId === undefined ? -1n : BigInt(afterId);
      const split = claimable.findIndex((c) => c.id > after);
      const ordered = split <= 0 ? claimable : [...claimable.slice(split), ...claimable.slice(0, split)];
      for (const { entry } of ordered) {
        if (claims.length >= limit) break;
        entry.claim = { owner, until: at + leaseMs };
        claims.push({ userId: entry.user.id, events: entry.outbox.map(copy) });
      }
      return claims;
    },
    async markSent(userId, eventIds, owner) {
      markOne(userId, eventIds, owner);
    },
    async markAllSent(sent, owner) {
      for (const { userId, eventIds } of sent) markOne(userId, eventIds, owner);
    },
    async releaseClaim(userId, owner) {
      const entry = entries.get(userId);
      if (ownedBy(entry, owner)) delete entry.claim;
    },
    async outboxSize() {
      let size = 0;
      for (const entry of entries.values()) size += entry.outbox.length;
      return size;
    },
    async ping() {},
    async close() {},
  };
}
