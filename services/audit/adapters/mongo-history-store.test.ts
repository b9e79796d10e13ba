import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MongoClient } from "mongodb";
import { type RunningServer, startMongo } from "../../../scripts/infra/index.js";
import { historyStoreSpec } from "../../../test/specs/history-store-spec.js";
import type { HistoryEntry } from "../domain/history.js";
import { createMongoHistoryStore } from "./mongo-history-store.js";

let mongo: RunningServer;
before(async () => {
  mongo = await startMongo();
});
after(async () => {
  await mongo?.stop();
});

const open = (collection?: string) =>
  createMongoHistoryStore({
    url: mongo.url,
    connectTimeoutMs: 1_000,
    ...(collection === undefined ? {} : { collection }),
  });

historyStoreSpec("MongoDB history store", () => open());

const entry = (userId: string, version: number): HistoryEntry => ({
  eventId: `${userId}-${version}`,
  userId,
  version,
  event: { eventId: `${userId}-${version}`, userId, version: String(version), type: "USER_EVENT_TYPE_UPDATED" },
});

describe("MongoDB history store: the model", () => {
  test("one document per event in its own collection, _id the event id, indexed for a user's history order", async () => {
    const store = await open("history_model");
    const client = new MongoClient(mongo.url);
    try {
      await store.record(entry("31", 1));
      await store.record(entry("31", 2));
      await store.record(entry("31", 2));
      const collection = client.db().collection("history_model");
      const docs = await collection.find({}, { sort: { _id: 1 } }).toArray();
      assert.deepEqual(
        docs.map((d) => [d._id, d.userId, d.version]),
        [
          ["31-1", "31", 1],
          ["31-2", "31", 2],
        ],
      );
      assert.ok(docs.every((d) => d.recordedAt instanceof Date));
      const indexes = await collection.listIndexes().toArray();
      assert.deepEqual(indexes.find((index) => index.name === "user_version")?.key, { userId: 1, version: 1, _id: 1 });
    } finally {
      await client.close();
      await store.close();
    }
  });

  test("a pending erasure is kept in MongoDB: another instance (a restart) finds it due and carries it out", async () => {
    const first = await open("history_erasures_restart");
    await first.record(entry("91", 1));
    assert.equal(await first.scheduleErasure("91", "2026-02-01T00:00:00.000Z"), true);
    await first.close();
    const second = await open("history_erasures_restart");
    try {
      assert.deepEqual(await second.dueErasures("2026-02-01T00:00:00.000Z", 10), ["91"]);
      assert.equal(await second.erase("91", "2026-02-01T00:00:00.000Z"), 1);
      assert.deepEqual(await second.dueErasures("2026-03-01T00:00:00.000Z", 10), []);
    } finally {
      await second.close();
    }
  });

  test("two instances recording the same events at once: each event is stored exactly once", async () => {
    const [a, b] = await Promise.all([open(), open()]);
    try {
      const events = Array.from({ length: 50 }, (_, i) => entry("4242", i + 1));
      const results = await Promise.all(events.flatMap((e) => [a.record(e), b.record(e)]));
      assert.equal(results.filter(Boolean).length, events.length, "one of each pair of records wins");
      const listed = await a.list("4242", 100);
      assert.deepEqual(
        listed.map((e) => e.eventId),
        events.map((e) => e.eventId),
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("MongoDB away: record rejects (never reported as a duplicate), and records once it is back", async () => {
    const store = await open();
    try {
      const lost = entry("777", 1);
      await mongo.kill();
      await assert.rejects(store.record(lost));
      await assert.rejects(store.list("777", 10));
      await assert.rejects(store.ping());
      await mongo.restart();
      // The in-memory test server comes back empty: the event was never taken for a duplicate.
      assert.equal(await store.record(lost), true);
      assert.equal(await store.record(lost), false);
      await store.ping();
    } finally {
      await store.close();
    }
  });
});
