/**
 * The use cases over the real memory store and cache, with the interleavings that make
 * caches serve stale data elsewhere: a reader racing a writer, and a writer that dies
 * between its store write and its cache fill.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AppError, AppError as AppErrorClass } from "../../../platform/errors.js";
import { createLogger } from "../../../platform/logging.js";
import { createSnowflake } from "../../../platform/snowflake.js";
import { createMemoryCache } from "../adapters/memory-cache.js";
import { createMemoryUserStore } from "../adapters/memory-user-store.js";
import type { User } from "../domain/user.js";
import type { UserStore } from "../domain/user-store.js";
import { createUsersService } from "./users-service.js";

const logger = createLogger("users-test", "silent");
/** The subject of the caller's token, as the transport hands it to the write use cases. */
const ACTOR = "charter-dev";

function setup(store: UserStore = createMemoryUserStore()) {
  const cache = createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 });
  const reads: string[] = [];
  const service = createUsersService({
    store,
    cache,
    ids: createSnowflake(1),
    logger,
    onCacheRead: (kind) => reads.push(kind),
  });
  return { service, cache, store, reads };
}

test("reads are served from the cache after the first miss", async () => {
  const { service, reads } = setup();
  const user = await service.create({ name: "Ada", email: "ada@example.com" }, ACTOR);
  reads.length = 0;
  assert.deepEqual(await service.get(user.id), user);
  assert.deepEqual(await service.get(user.id), user);
  assert.deepEqual(reads, ["hit", "hit"], "create fills the cache");
});

test("a reader that loaded the old version before a write cannot put it back after", async () => {
  const inner = createMemoryUserStore();
  let gate: { loaded: () => void; resume: Promise<void> } | undefined;
  const store: UserStore = {
    ...inner,
    async get(id) {
      const user = await inner.get(id);
      if (gate) {
        const g = gate;
        gate = undefined;
        g.loaded();
        await g.resume;
      }
      return user;
    },
  };
  const { service, cache } = setup(store);
  const user = await service.create({ name: "Old", email: "race@example.com" }, ACTOR);
  await cache.close(); // empties the memory cache: the next read misses and goes to the store
  let release = () => {};
  const loaded = new Promise<void>((resolve) => {
    gate = {
      loaded: resolve,
      resume: new Promise<void>((r) => {
        release = r;
      }),
    };
  });
  const slowRead = service.get(user.id); // loads version 1, then waits
  await loaded;
  const updated = await service.update(user.id, { name: "New" }, ACTOR, "1"); // fence, write, fill version 2
  release(); // the slow reader now tries to fill version 1
  assert.equal((await slowRead).name, "Old");
  assert.deepEqual(await service.get(user.id), updated, "the newer version stays in the cache");
});

test("a writer that dies after its store write leaves a fence, not an old entry", async () => {
  const { service, cache, store } = setup();
  const user = await service.create({ name: "Before", email: "crash@example.com" }, ACTOR);
  await service.get(user.id); // cached at version 1
  // The writer's steps up to the crash: fence, then store write; the fill never happens.
  await cache.fence(user.id, 2);
  const written = await store.update(user.id, 1, { name: "After" }, new Date().toISOString());
  assert.ok(written.ok);
  assert.equal((await service.get(user.id)).name, "After");
});

test("deleted users are not served from the cache", async () => {
  const { service } = setup();
  const user = await service.create({ name: "Gone", email: "gone@example.com" }, ACTOR);
  await service.get(user.id);
  await service.delete(user.id, ACTOR);
  await assert.rejects(service.get(user.id), (e: AppError) => e.code === "NOT_FOUND");
});

test("a failing store is UNAVAILABLE to the client, with no driver message", async () => {
  const inner = createMemoryUserStore();
  const store: UserStore = {
    ...inner,
    get: () => Promise.reject(new Error("connection 7 to 10.0.0.3:27017 closed")),
  };
  const { service } = setup(store);
  await assert.rejects(service.get("123"), (e: AppError) => e.code === "UNAVAILABLE" && !e.message.includes("27017"));
});

test("list pages never repeat or skip users, and reject tokens they did not issue", async () => {
  const { service } = setup();
  const made: User[] = [];
  for (let i = 0; i < 11; i++) made.push(await service.create({ name: `U${i}`, email: `u${i}@example.com` }, ACTOR));
  const seen: string[] = [];
  let token = "";
  do {
    const page = await service.list(4, token);
    seen.push(...page.users.map((u) => u.id));
    token = page.nextPageToken;
  } while (token);
  assert.deepEqual(
    seen,
    made.map((u) => u.id),
  );
  await assert.rejects(service.list(4, "djE6YWJj"), (e: AppError) => e.code === "INVALID_ARGUMENT");
  await assert.rejects(service.list(1001, ""), (e: AppError) => e.code === "INVALID_ARGUMENT");
  await assert.rejects(service.list(0, ""), (e: AppError) => e.code === "INVALID_ARGUMENT", "0 is no page size");
  assert.equal((await service.list(undefined, "")).users.length, 11, "unset means the default page size");
});

test("a create with a request id: a retry returns the first user; another user with that id is refused", async () => {
  const { service, store } = setup();
  const first = await service.create({ name: " Ada ", email: "ada-idem@example.com" }, ACTOR, "req-1");
  const retry = await service.create({ name: " Ada ", email: "ada-idem@example.com" }, ACTOR, "req-1");
  assert.deepEqual(retry, first, "the same user is the same request");
  await assert.rejects(
    service.create({ name: "Ada", email: "ada-idem@example.com" }, ACTOR, "req-1"),
    (e: AppError) => e.code === "FAILED_PRECONDITION",
    "values are kept as sent, so another spelling is another user",
  );
  await assert.rejects(
    service.create({ name: "Grace", email: "grace-idem@example.com" }, ACTOR, "req-1"),
    (e: AppError) => e.code === "FAILED_PRECONDITION" && e.details.reason === "IDEMPOTENCY_KEY_REUSED",
  );
  assert.equal((await store.list({ limit: 10 })).length, 1);
  const plain = await service.create({ name: "Grace", email: "grace-idem@example.com" }, ACTOR, "");
  assert.notEqual(plain.id, first.id, "an empty request id means no idempotency");
});

test("a request id expires after the idempotency TTL; over 128 characters it is invalid", async () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const store = createMemoryUserStore({ now: () => now }); // the store judges expiry on the same clock
  const service = createUsersService({
    store,
    cache: createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }),
    ids: createSnowflake(2),
    logger,
    idempotencyTtlMs: 1_000,
    now: () => new Date(now),
  });
  const first = await service.create({ name: "Ada", email: "ttl@example.com" }, ACTOR, "req-ttl");
  now += 999;
  assert.deepEqual(
    await service.create({ name: "Ada", email: "ttl@example.com" }, ACTOR, "req-ttl"),
    first,
    "until the TTL is over, a retry is answered with the first user",
  );
  now += 2;
  await assert.rejects(
    service.create({ name: "Ada", email: "ttl@example.com" }, ACTOR, "req-ttl"),
    (e: AppError) => e.code === "ALREADY_EXISTS",
    "after expiry the key is gone: a retry is a new create (and the email is taken)",
  );
  const other = await service.create({ name: "Grace", email: "ttl2@example.com" }, ACTOR, "req-ttl");
  assert.notEqual(other.id, first.id);
  await assert.rejects(
    service.create({ name: "Ada", email: "long@example.com" }, ACTOR, "x".repeat(129)),
    (e: AppError) => e.code === "INVALID_ARGUMENT" && e.details.fieldViolations?.[0]?.field === "request_id",
  );
  await service.create({ name: "Ada", email: "long@example.com" }, ACTOR, "x".repeat(128));
});

test("a retry is answered from the store even while no id can be minted", async () => {
  const store = createMemoryUserStore();
  let minting = true;
  const gen = createSnowflake(3);
  const service = createUsersService({
    store,
    cache: createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }),
    ids: {
      next() {
        if (!minting) throw new AppErrorClass("UNAVAILABLE", "no worker id");
        return gen.next();
      },
    },
    logger,
  });
  const first = await service.create({ name: "Ada", email: "mint@example.com" }, ACTOR, "req-mint");
  minting = false;
  assert.deepEqual(await service.create({ name: "Ada", email: "mint@example.com" }, ACTOR, "req-mint"), first);
  await assert.rejects(
    service.create({ name: "Ada", email: "mint2@example.com" }, ACTOR, "req-other"),
    (e: AppError) => e.code === "UNAVAILABLE",
  );
});

test("every applied write wakes the relay once, after its event is stored; refused and replayed writes do not", async () => {
  const store = createMemoryUserStore();
  const pendingAtWake: number[] = [];
  const service = createUsersService({
    store,
    cache: createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }),
    ids: createSnowflake(4),
    logger,
    // Read as the relay would, once woken: the event the write recorded must already be there.
    onWrite: () => void store.outboxSize().then((size) => pendingAtWake.push(size)),
  });
  const user = await service.create({ name: "Ada", email: "wake@example.com" }, ACTOR, "req-wake");
  await service.create({ name: "Ada", email: "wake@example.com" }, ACTOR, "req-wake"); // replayed
  await assert.rejects(service.create({ name: "Other", email: "WAKE@example.com" }, ACTOR)); // email taken
  await assert.rejects(service.update(user.id, { name: "Stale" }, ACTOR, "7")); // stale etag
  const renamed = await service.update(user.id, { name: "Ada King" }, ACTOR);
  await assert.rejects(service.delete(user.id, ACTOR, "1")); // stale etag
  await service.delete(user.id, ACTOR, renamed.version.toString());
  await assert.rejects(service.delete(user.id, ACTOR)); // already gone
  assert.deepEqual(pendingAtWake, [1, 2, 3]);
});

/** A memory store that counts its calls; `meanwhile` runs inside an update's beforeWrite (a writer getting in). */
function countingStore(meanwhile: (inner: UserStore, id: string) => Promise<void> = async () => {}) {
  const inner = createMemoryUserStore();
  const calls: string[] = [];
  const store: UserStore = {
    ...inner,
    async get(id) {
      calls.push("get");
      return inner.get(id);
    },
    async update(id, expectedVersion, changes, updateTime, beforeWrite) {
      calls.push("update");
      return inner.update(id, expectedVersion, changes, updateTime, async (version) => {
        await meanwhile(inner, id);
        await beforeWrite?.(version);
      });
    },
  };
  return { store, calls };
}

function fencedSetup(store: UserStore) {
  const cache = createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 });
  const fences: number[] = [];
  const service = createUsersService({
    store,
    cache: {
      ...cache,
      fence(key, minVersion) {
        fences.push(minVersion);
        return cache.fence(key, minVersion);
      },
    },
    ids: createSnowflake(5),
    logger,
  });
  return { service, fences };
}

test("an update is one store call: no read before it, the cache fenced at the version written", async () => {
  const { store, calls } = countingStore();
  const { service, fences } = fencedSetup(store);
  const user = await service.create({ name: "Ada", email: "one-call@example.com" }, ACTOR);
  const renamed = await service.update(user.id, { name: "Ada King" }, ACTOR);
  const moved = await service.update(user.id, { email: "ada.king@example.com" }, ACTOR, renamed.version.toString());
  assert.deepEqual([renamed.version, moved.version], [2, 3]);
  assert.deepEqual(calls, ["update", "update"]);
  assert.deepEqual(fences, [2, 3]);
  await assert.rejects(
    service.update(user.id, { name: "Stale" }, ACTOR, "2"),
    (e: AppError) => e.code === "ABORTED" && e.details.reason === "ETAG_MISMATCH",
  );
  await assert.rejects(service.update("123", { name: "Nobody" }, ACTOR), (e: AppError) => e.code === "NOT_FOUND");
  assert.deepEqual(calls, ["update", "update", "update", "update"], "stale and missing: one call each");
  assert.deepEqual(fences, [2, 3], "nothing written, nothing fenced");
});

test("an update without etag that meets a concurrent writer tries again, one read and one write each", async () => {
  let writers = 1;
  const { store, calls } = countingStore(async (inner, id) => {
    if (writers-- > 0) assert.ok((await inner.update(id, undefined, { email: "other@example.com" }, "")).ok);
  });
  const { service, fences } = fencedSetup(store);
  const user = await service.create({ name: "Ada", email: "retry@example.com" }, ACTOR);
  const updated = await service.update(user.id, { name: "Ada King" }, ACTOR);
  assert.deepEqual([updated.name, updated.email, updated.version], ["Ada King", "other@example.com", 3]);
  assert.deepEqual(calls, ["update", "update"], "the lost attempt and the one that won");
  assert.deepEqual(fences, [2, 3], "each attempt fenced at the version it was about to write");
  assert.deepEqual(await service.get(user.id), updated);
});

test("an update with etag that meets a concurrent writer is a stale etag, not tried again", async () => {
  const { store, calls } = countingStore(async (inner, id) => {
    assert.ok((await inner.update(id, undefined, { email: "first@example.com" }, "")).ok);
  });
  const { service } = fencedSetup(store);
  const user = await service.create({ name: "Ada", email: "pinned@example.com" }, ACTOR);
  await assert.rejects(
    service.update(user.id, { name: "Ada King" }, ACTOR, "1"),
    (e: AppError) => e.code === "ABORTED" && e.details.reason === "ETAG_MISMATCH",
  );
  assert.deepEqual(calls, ["update"]);
  assert.equal((await store.get(user.id))?.name, "Ada", "the concurrent writer's change stands");
});

test("errors name fields by their proto path in the request, as gRPC sends them", async () => {
  const { service } = setup();
  const fieldsOf = async (call: Promise<unknown>): Promise<string[]> => {
    const error = await call.then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as AppError,
    );
    return (error.details.fieldViolations ?? []).map((v) => v.field).sort();
  };
  const owner = await service.create({ name: "Ada", email: "paths-owner@example.com" }, ACTOR);
  const user = await service.create({ name: "Grace", email: "paths@example.com" }, ACTOR);
  assert.deepEqual(await fieldsOf(service.create({ name: " ", email: "x" }, ACTOR, "r".repeat(129))), [
    "request_id",
    "user.email",
    "user.name",
  ]);
  assert.deepEqual(await fieldsOf(service.update(user.id, { name: "", email: "x" }, ACTOR)), [
    "user.email",
    "user.name",
  ]);
  assert.deepEqual(await fieldsOf(service.update(user.id, {}, ACTOR)), ["update_mask"]);
  assert.deepEqual(await fieldsOf(service.update("x", { name: "Ada" }, ACTOR)), ["user.id"]);
  assert.deepEqual(await fieldsOf(service.update(user.id, { email: owner.email }, ACTOR)), ["user.email"]);
  assert.deepEqual(await fieldsOf(service.create({ name: "Ada", email: owner.email }, ACTOR)), ["user.email"]);
  assert.deepEqual(await fieldsOf(service.list(0, "not-ours")), ["page_size", "page_token"]);
  assert.deepEqual(await fieldsOf(service.batchGet(["1", "x"])), ["ids[1]"]);
  assert.deepEqual(await fieldsOf(service.get("x")), ["id"]);
});

test("lookup reads the store once by email; a bad email never reaches it; a store failure is UNAVAILABLE", async () => {
  const inner = createMemoryUserStore();
  const asked: string[] = [];
  let failing = false;
  const store: UserStore = {
    ...inner,
    async findByEmail(email) {
      asked.push(email);
      if (failing) throw new Error("connection reset by peer at 10.0.0.7");
      return inner.findByEmail(email);
    },
  };
  const { service, reads } = setup(store);
  const user = await service.create({ name: "Ada", email: "Ada.Lookup@example.com" }, ACTOR);
  reads.length = 0;
  assert.deepEqual(await service.lookup("ADA.LOOKUP@EXAMPLE.COM"), user);
  assert.deepEqual(asked, ["ADA.LOOKUP@EXAMPLE.COM"], "one store read, with the address as sent");
  assert.deepEqual(reads, [], "the id-keyed cache is not consulted");

  await assert.rejects(service.lookup("nobody@example.com"), (e: AppError) => {
    assert.equal(e.code, "NOT_FOUND");
    assert.ok(!e.message.includes("nobody"), "the message does not repeat the address");
    return true;
  });
  asked.length = 0;
  for (const bad of ["not-an-email", "ünï@example.com", ""]) {
    await assert.rejects(service.lookup(bad), (e: AppError) => {
      assert.equal(e.code, "INVALID_ARGUMENT", bad);
      assert.deepEqual(
        e.details.fieldViolations?.map((v) => v.field),
        ["email"],
        bad,
      );
      return true;
    });
  }
  assert.deepEqual(asked, [], "refused before the store is asked");

  failing = true;
  await assert.rejects(service.lookup(user.email), (e: AppError) => {
    assert.ok(e instanceof AppErrorClass);
    assert.equal(e.code, "UNAVAILABLE");
    assert.ok(!e.message.includes("10.0.0.7"), "the cause is not sent");
    return true;
  });
});

test("every write records its caller as the actor of its event, and each write its own", async () => {
  const { service, store } = setup();
  const user = await service.create({ name: "Ada", email: "actor@example.com" }, "client-a");
  await service.update(user.id, { name: "Ada King" }, "client-b");
  await service.delete(user.id, "client-c");
  const [claim] = await store.claimOutbox("test", 10, 60_000);
  assert.deepEqual(
    claim?.events.map((e) => [e.type, e.actor]),
    [
      ["CREATED", "client-a"],
      ["UPDATED", "client-b"],
      ["DELETED", "client-c"],
    ],
  );
});
