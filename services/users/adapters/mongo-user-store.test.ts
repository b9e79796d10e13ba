import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { Long, MongoClient } from "mongodb";
import { type RunningServer, startMongo } from "../../../scripts/infra/index.js";
import { waitFor } from "../../../scripts/lib/processes.js";
import { makeUser, runUserStoreSpec } from "../../../test/specs/user-store-spec.js";
import { createMongoUserStore } from "./mongo-user-store.js";

let mongo: RunningServer;
before(async () => {
  mongo = await startMongo();
});
after(() => mongo.stop());

const open = (collection = `users_${randomUUID().replaceAll("-", "")}`, url = mongo.url, now = Date.now) =>
  createMongoUserStore({ url, connectTimeoutMs: 2000, collection, now });

/** A raw client for looking at what the adapter wrote (Longs kept as Longs). */
async function inspect<T>(look: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(mongo.url, { serverSelectionTimeoutMS: 2000, promoteLongs: false });
  try {
    return await look(client);
  } finally {
    await client.close();
  }
}

runUserStoreSpec("mongo", async ({ now }) => {
  const store = await open(undefined, undefined, now);
  return { store, cleanup: () => store.close() };
});

/** A port on which nothing listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === "object");
  return address.port;
}

/** Rejects with the start-up error, timing it. */
async function startUpFailure(url: string, connectTimeoutMs = 500): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  const error = await createMongoUserStore({ url, connectTimeoutMs }).then(
    async (store) => {
      await store.close();
      assert.fail(`expected ${url} to fail start-up`);
    },
    (e: unknown) => e,
  );
  assert.ok(error instanceof Error);
  assert.doesNotMatch(error.message, /\n/);
  return { message: error.message, ms: Date.now() - started };
}

describe("mongo user store start-up", () => {
  test("a port where nothing listens fails within the bound, in one line without credentials", async () => {
    const port = await freePort();
    const { message, ms } = await startUpFailure(`mongodb://charter:s3cr%40t@127.0.0.1:${port}/charter`);
    assert.equal(message, `MongoDB at 127.0.0.1:${port} did not answer within 500 ms`);
    assert.ok(ms < 3000, `took ${ms} ms`);
  });

  test("a server that accepts connections but never answers fails within the bound", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const { message, ms } = await startUpFailure(`mongodb://127.0.0.1:${port}`);
      assert.match(message, new RegExp(`^MongoDB at 127\\.0\\.0\\.1:${port} did not answer within 500 ms$`));
      assert.ok(ms < 3000, `took ${ms} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test("a malformed URL fails at once with a clear message", async () => {
    for (const url of ["not a url", "http://127.0.0.1:27017/charter", "mongodb://", "mongodb://h/db?bogus=1"]) {
      const { message, ms } = await startUpFailure(url);
      assert.match(message, /^MONGO_URL is not a valid MongoDB URL: \S/);
      assert.ok(ms < 500, `took ${ms} ms`);
    }
  });

  test("the database comes from the URL path, charter by default; the email index is made idempotently", async () => {
    const collection = `users_${randomUUID().replaceAll("-", "")}`;
    const bare = mongo.url.replace(/\/[^/]*$/, "");
    const stores = [
      await open(collection, bare),
      await open(collection, bare),
      await open(collection, `${bare}/other`),
    ];
    const [first, , other] = stores;
    assert.ok(first && other);
    const user = makeUser();
    await first.insert(user);
    await other.insert(makeUser({ id: "7" }));
    await inspect(async (client) => {
      assert.equal(await client.db("charter").collection(collection).countDocuments({}), 1);
      assert.equal(await client.db("other").collection(collection).countDocuments({}), 1);
      const indexes = await client.db("charter").collection(collection).indexes();
      const email = indexes.find((i) => i.name === "email_unique_ci_live");
      assert.deepEqual([email?.key, email?.unique, email?.sparse], [{ emailKey: 1 }, true, true]);
      const pending = indexes.find((i) => i.name === "outbox_pending");
      assert.deepEqual([pending?.key, pending?.sparse], [{ pending: 1 }, true]);
    });
    for (const store of stores) await store.close();
  });

  test("documents hold the id as a 64-bit integer, the lower-cased email key, an integer version and the outbox", async () => {
    const collection = `users_${randomUUID().replaceAll("-", "")}`;
    const store = await open(collection);
    const small = makeUser({ id: "42", email: `Small-${randomUUID()}@Example.com` });
    const big = makeUser({ id: "9223372036854775807" });
    await store.insert(small);
    await store.insert(big);
    assert.equal((await store.update(small.id, 1, { name: "Renamed" }, small.updateTime)).ok, true);
    await inspect(async (client) => {
      const docs = client.db("charter").collection(collection);
      const doc = await docs.findOne({ _id: Long.fromString("42") } as object);
      assert.ok(doc);
      assert.ok(doc._id instanceof Long);
      assert.equal(doc.emailKey, small.email.toLowerCase());
      assert.equal(doc.version, 2);
      assert.equal(await docs.countDocuments({ _id: { $type: "long" }, version: { $type: "int" } }), 2);
      assert.deepEqual(Object.keys(doc).sort(), [
        "_id",
        "createTime",
        "email",
        "emailKey",
        "name",
        "outbox",
        "pending",
        "updateTime",
        "version",
      ]);
      assert.deepEqual(
        (doc.outbox as { eventId: string; type: string }[]).map((e) => [e.eventId, e.type]),
        [
          ["42-1", "CREATED"],
          ["42-2", "UPDATED"],
        ],
      );
    });
    assert.deepEqual(await store.get(big.id), big);
    await store.close();
  });
});

describe("mongo user store outbox documents", () => {
  test("a tombstone has no email or request key; marking its DELETED event sent removes the document", async () => {
    const collection = `users_${randomUUID().replaceAll("-", "")}`;
    const store = await open(collection);
    try {
      const user = makeUser();
      await store.insert(user, { key: `k-${user.id}`, fingerprint: "f", expiresAt: Date.now() + 60_000 });
      assert.equal((await store.delete(user.id)).ok, true);
      const docs = (client: MongoClient) => client.db("charter").collection(collection);
      const tombstone = await inspect((client) => docs(client).findOne({}));
      assert.ok(tombstone);
      assert.deepEqual(
        [tombstone.deleted, tombstone.pending, tombstone.version, tombstone.emailKey, tombstone.requestKey],
        [true, true, 2, undefined, undefined],
      );
      const claims = await store.claimOutbox("relay-a", 10, 60_000);
      await store.markAllSent(
        claims.map((c) => ({ userId: c.userId, eventIds: c.events.map((e) => e.eventId) })),
        "relay-a",
      );
      assert.equal(await inspect((client) => docs(client).countDocuments({})), 0, "the tombstone is gone");
    } finally {
      await store.close();
    }
  });

  test("marking sent unsets the pending flag and the claim; the version and the rest stay as they were", async () => {
    const collection = `users_${randomUUID().replaceAll("-", "")}`;
    const store = await open(collection);
    try {
      const user = makeUser();
      await store.insert(user);
      const read = () =>
        inspect((client) =>
          client
            .db("charter")
            .collection(collection)
            .findOne({}, { projection: { _id: 0 } }),
        );
      const claims = await store.claimOutbox("relay-a", 10, 60_000);
      const claimed = await read();
      assert.equal(claimed?.claim?.owner, "relay-a");
      await store.markSent(user.id, claims[0]?.events.map((e) => e.eventId) ?? [], "relay-a");
      const { outbox, pending, claim, ...rest } = (claimed ?? {}) as Record<string, unknown>;
      assert.deepEqual(await read(), { ...rest, outbox: [] });
      assert.equal((rest as { version: number }).version, 1);
      assert.deepEqual(
        [(outbox as unknown[]).length, pending, (claim as { owner: string }).owner],
        [1, true, "relay-a"],
      );
    } finally {
      await store.close();
    }
  });

  test("what a relay stopped between the steps of its marking left behind is cleaned by the next claim and mark", async () => {
    const collection = `users_${randomUUID().replaceAll("-", "")}`;
    const store = await open(collection);
    try {
      const live = makeUser();
      const gone = makeUser();
      await store.insert(live);
      await store.insert(gone);
      assert.equal((await store.delete(gone.id)).ok, true);
      // The first step of a mark done, the others not: events pulled and claims ended, flags and tombstone left.
      await inspect((client) =>
        client
          .db("charter")
          .collection(collection)
          .updateMany({}, { $set: { outbox: [] } }),
      );
      assert.equal(await store.outboxSize(), 0);
      const claims = await store.claimOutbox("relay-b", 10, 60_000);
      assert.deepEqual(
        claims.map((c) => [c.userId, c.events.length]).sort(),
        [
          [live.id, 0],
          [gone.id, 0],
        ].sort(),
      );
      await store.markAllSent(
        claims.map((c) => ({ userId: c.userId, eventIds: [] })),
        "relay-b",
      );
      await inspect(async (client) => {
        const docs = await client.db("charter").collection(collection).find({}).toArray();
        assert.deepEqual(
          docs.map((d) => [String(d._id), d.pending, d.claim]),
          [[live.id, undefined, undefined]],
        );
      });
      assert.deepEqual(await store.claimOutbox("relay-c", 10, 60_000), []);
    } finally {
      await store.close();
    }
  });
});

describe("mongo user store outage", () => {
  test("ping rejects within the bound while the server is down and answers again after a restart", async () => {
    const store = await createMongoUserStore({ url: mongo.url, connectTimeoutMs: 500 });
    try {
      await store.ping();
      await mongo.kill();
      const started = Date.now();
      await assert.rejects(store.ping());
      assert.ok(Date.now() - started < 3000);
      await mongo.restart(); // mongo-java-server comes back empty, on the same port
      await waitFor("the store to answer again", () => store.ping().then(() => true));
    } finally {
      await store.close();
    }
  });
});
