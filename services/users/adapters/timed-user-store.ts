import type { UserStore } from "../domain/user-store.js";

/** The store operations that are timed: every method of the port but close(). */
export const STORE_OPERATIONS = [
  "get",
  "getMany",
  "findByEmail",
  "list",
  "insert",
  "findByIdempotencyKey",
  "update",
  "delete",
  "claimOutbox",
  "markSent",
  "markAllSent",
  "releaseClaim",
  "outboxSize",
  "ping",
] as const;
export type StoreOperation = (typeof STORE_OPERATIONS)[number];

/**
 * Wraps a UserStore so that each call reports its duration in seconds, whether it resolved or rejected.
 * The adapters stay unaware of metrics; the composition root decides where the numbers go.
 */
export function createTimedUserStore(
  store: UserStore,
  observe: (operation: StoreOperation, seconds: number) => void,
): UserStore {
  const timed =
    <A extends unknown[], R>(operation: StoreOperation, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        observe(operation, (performance.now() - started) / 1000);
      }
    };
  return {
    get: timed("get", (id) => store.get(id)),
    getMany: timed("getMany", (ids) => store.getMany(ids)),
    findByEmail: timed("findByEmail", (email) => store.findByEmail(email)),
    list: timed("list", (page) => store.list(page)),
    insert: timed("insert", (user, idempotency) =>
      idempotency === undefined ? store.insert(user) : store.insert(user, idempotency),
    ),
    findByIdempotencyKey: timed("findByIdempotencyKey", (key) => store.findByIdempotencyKey(key)),
    update: timed("update", (id, expectedVersion, changes, updateTime) =>
      store.update(id, expectedVersion, changes, updateTime),
    ),
    delete: timed("delete", (id, expectedVersion, time) =>
      expectedVersion === undefined ? store.delete(id, undefined, time) : store.delete(id, expectedVersion, time),
    ),
    claimOutbox: timed("claimOutbox", (owner, limit, leaseMs, afterId) =>
      store.claimOutbox(owner, limit, leaseMs, afterId),
    ),
    markSent: timed("markSent", (userId, eventIds, owner) => store.markSent(userId, eventIds, owner)),
    markAllSent: timed("markAllSent", (sent, owner) => store.markAllSent(sent, owner)),
    releaseClaim: timed("releaseClaim", (userId, owner) => store.releaseClaim(userId, owner)),
    outboxSize: timed("outboxSize", () => store.outboxSize()),
    ping: timed("ping", () => store.ping()),
    close: () => store.close(),
  };
}
