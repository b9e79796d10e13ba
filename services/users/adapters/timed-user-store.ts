import type { BeforeWrite, UserStore } from "../domain/user-store.js";

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
 * The adapters stay unaware of metrics; the composition root decides where the numbers go. The time an update
 * spends in its caller's beforeWrite (a cache fence) is the caller's, not the store's, and is left out.
 */
export function createTimedUserStore(
  store: UserStore,
  observe: (operation: StoreOperation, seconds: number) => void,
  /** The clock durations are read from, in ms (default performance.now). */
  clock: () => number = () => performance.now(),
): UserStore {
  /** `elsewhere`: how many ms of the call were spent outside the store (in a callback of the caller's). */
  const timed =
    <A extends unknown[], R>(operation: StoreOperation, call: (...args: A) => Promise<R>, elsewhere = () => 0) =>
    async (...args: A): Promise<R> => {
      const started = clock();
      try {
        return await call(...args);
      } finally {
        observe(operation, (clock() - started - elsewhere()) / 1000);
      }
    };
  return {
    get: timed("get", (id) => store.get(id)),
    getMany: timed("getMany", (ids) => store.getMany(ids)),
    findByEmail: timed("findByEmail", (email) => store.findByEmail(email)),
    list: timed("list", (page) => store.list(page)),
    insert: timed("insert", (user, idempotency, actor) => store.insert(user, idempotency, actor)),
    findByIdempotencyKey: timed("findByIdempotencyKey", (key) => store.findByIdempotencyKey(key)),
    update(id, expectedVersion, changes, updateTime, beforeWrite, actor) {
      let outside = 0;
      const callback: BeforeWrite | undefined =
        beforeWrite &&
        (async (version) => {
          const from = clock();
          try {
            await beforeWrite(version);
          } finally {
            outside += clock() - from;
          }
        });
      return timed(
        "update",
        () => store.update(id, expectedVersion, changes, updateTime, callback, actor),
        () => outside,
      )();
    },
    delete: timed("delete", (id, expectedVersion, time, actor) => store.delete(id, expectedVersion, time, actor)),
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
