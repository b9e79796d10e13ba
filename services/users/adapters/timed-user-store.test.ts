import assert from "node:assert/strict";
import { test } from "node:test";
import { makeUser, runUserStoreSpec } from "../../../test/specs/user-store-spec.js";
import type { UserStore } from "../domain/user-store.js";
import { createMemoryUserStore } from "./memory-user-store.js";
import { createTimedUserStore, type StoreOperation } from "./timed-user-store.js";

// The decorator changes no behaviour: it passes the same spec as the adapter it wraps.
runUserStoreSpec("timed memory", async ({ now }) => {
  const store = createTimedUserStore(createMemoryUserStore({ now }), () => {});
  return { store, cleanup: () => store.close() };
});

test("every call is observed once under its operation name, with a non-negative duration", async () => {
  const seen: Array<[StoreOperation, number]> = [];
  const store = createTimedUserStore(createMemoryUserStore(), (operation, seconds) => seen.push([operation, seconds]));
  const user = makeUser();
  await store.insert(user);
  await store.get(user.id);
  await store.getMany([user.id]);
  assert.deepEqual(await store.findByEmail(user.email.toUpperCase()), user, "the wrapped store answers");
  await store.list({ limit: 10 });
  await store.findByIdempotencyKey("none");
  await store.update(user.id, 1, { name: "Grace" }, user.updateTime);
  await store.delete(user.id);
  await store.ping();
  await store.close();
  assert.deepEqual(
    seen.map(([operation]) => operation),
    ["insert", "get", "getMany", "findByEmail", "list", "findByIdempotencyKey", "update", "delete", "ping"],
  );
  assert.ok(seen.every(([, seconds]) => seconds >= 0));
});

test("a call that rejects is observed too, and its error passes through unchanged", async () => {
  const failure = new Error("store unreachable");
  const failing: UserStore = { ...createMemoryUserStore(), ping: () => Promise.reject(failure) };
  const seen: StoreOperation[] = [];
  const store = createTimedUserStore(failing, (operation) => seen.push(operation));
  await assert.rejects(store.ping(), (error) => error === failure);
  assert.deepEqual(seen, ["ping"]);
});

test("an update's time in its caller's beforeWrite (the cache fence) is not counted as the store's", async () => {
  let ms = 0;
  const inner = createMemoryUserStore();
  const slow: UserStore = {
    ...inner,
    async update(id, expectedVersion, changes, updateTime, beforeWrite) {
      ms += 3; // the read
      return inner.update(id, expectedVersion, changes, updateTime, async (version) => {
        await beforeWrite?.(version);
        ms += 2; // the write
      });
    },
  };
  const seen: Array<[StoreOperation, number]> = [];
  const store = createTimedUserStore(
    slow,
    (operation, seconds) => seen.push([operation, seconds]),
    () => ms,
  );
  const user = makeUser();
  await store.insert(user);
  const fenced: number[] = [];
  const result = await store.update(user.id, 1, { name: "Grace" }, user.updateTime, async (version) => {
    fenced.push(version);
    ms += 1_000; // the caller's fence
  });
  assert.ok(result.ok);
  assert.deepEqual(fenced, [2], "the caller's beforeWrite is still called, with the version");
  assert.deepEqual(seen, [
    ["insert", 0],
    ["update", 0.005],
  ]);
});
