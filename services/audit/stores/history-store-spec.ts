/** What every HistoryStore adapter must do; the memory and MongoDB adapters both run it. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import type { HistoryEntry, HistoryStore } from "../history.js";

const entry = (userId: string, version: number, eventId = randomUUID()): HistoryEntry => ({
  eventId,
  userId,
  version,
  event: { eventId, userId, version: String(version), type: "USER_EVENT_TYPE_UPDATED" },
});

export function historyStoreSpec(name: string, open: () => Promise<HistoryStore>): void {
  describe(`${name}: the HistoryStore contract`, () => {
    const userId = () => String(1_000_000 + Math.floor(Math.random() * 1e9));

    test("an event is recorded once: a second record of its id changes nothing", async () => {
      const store = await open();
      try {
        const user = userId();
        const first = entry(user, 1);
        assert.equal(await store.record(first), true);
        assert.equal(await store.record({ ...first, version: 9 }), false);
        assert.deepEqual(await store.list(user, 10), [first]);
      } finally {
        await store.close();
      }
    });

    test("concurrent records of one event id: exactly one wins", async () => {
      const store = await open();
      try {
        const user = userId();
        const one = entry(user, 1);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.record(one)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.list(user, 100)).length, 1);
      } finally {
        await store.close();
      }
    });

    test("a user's history is in version order whatever the arrival order, and pages continue after a position", async () => {
      const store = await open();
      try {
        const user = userId();
        const other = userId();
        const entries = [5, 1, 4, 2, 3].map((version) => entry(user, version));
        for (const e of entries) await store.record(e);
        await store.record(entry(other, 1));
        const all = await store.list(user, 100);
        assert.deepEqual(
          all.map((e) => e.version),
          [1, 2, 3, 4, 5],
        );
        const firstPage = await store.list(user, 2);
        const last = firstPage.at(-1);
        assert.ok(last);
        const rest = await store.list(user, 10, { version: last.version, eventId: last.eventId });
        assert.deepEqual(
          [...firstPage, ...rest].map((e) => e.eventId),
          all.map((e) => e.eventId),
        );
        assert.deepEqual(await store.list(userId(), 10), []);
      } finally {
        await store.close();
      }
    });
  });
}
