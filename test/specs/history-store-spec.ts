/** What every HistoryStore adapter must do; the memory and MongoDB adapters both run it. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import type { HistoryEntry, HistoryPosition, HistoryStore } from "../../services/audit/domain/history.js";

/** An entry whose event carries the user snapshot, name and e-mail, as a CREATED or UPDATED one does. */
const withUser = (userId: string, version: number, type = "USER_EVENT_TYPE_UPDATED"): HistoryEntry => {
  const eventId = `${userId}-${version}`;
  return {
    eventId,
    userId,
    version,
    event: {
      eventId,
      type,
      userId,
      user: { id: userId, name: `Ada ${version}`, email: `ada${userId}@example.com`, etag: String(version) },
      version: String(version),
      occurredAt: `2026-01-01T00:00:0${version}Z`,
      actor: "charter-dev",
    },
  };
};

/** What erasure leaves of an event: the skeleton and the time, never the user snapshot. */
const skeleton = (e: HistoryEntry, at: string) => {
  const { user: _user, ...rest } = e.event;
  return { ...e, event: { ...rest, redactedAt: at } };
};

const entry = (
  userId: string,
  version: number,
  eventId: string = randomUUID(),
  type = "USER_EVENT_TYPE_UPDATED",
): HistoryEntry => ({
  eventId,
  userId,
  version,
  event: { eventId, userId, version: String(version), type },
});

/** Every entry of the user, read page by page `limit` at a time, each page continuing after the last one's end. */
async function readInPages(store: HistoryStore, userId: string, limit: number): Promise<HistoryEntry[][]> {
  const pages: HistoryEntry[][] = [];
  let after: HistoryPosition | undefined;
  for (;;) {
    const page = await store.list(userId, limit, after);
    assert.ok(page.length <= limit, `a page of ${page.length} entries for a limit of ${limit}`);
    if (page.length === 0) return pages;
    pages.push(page);
    const last = page.at(-1) as HistoryEntry;
    after = { version: last.version, eventId: last.eventId };
  }
}

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

    test("entries of one version are ordered by event id, and a page boundary between them loses nothing", async () => {
      const store = await open();
      try {
        const user = userId();
        // Event ids are unique across users, so these carry the user's id.
        const id = (suffix: string) => `${user}-${suffix}`;
        const recorded = [entry(user, 2, id("b")), entry(user, 1, id("z")), entry(user, 2, id("c"))];
        recorded.push(entry(user, 2, id("a")), entry(user, 3, id("a3")));
        for (const e of recorded) assert.equal(await store.record(e), true);
        const order = ["1/z", "2/a", "2/b", "2/c", "3/a3"].map((k) => k.replace("/", `/${user}-`));
        const all = await store.list(user, 100);
        assert.deepEqual(
          all.map((e) => `${e.version}/${e.eventId}`),
          order,
        );
        for (const limit of [1, 2, 3, 4, 5, 6]) {
          const pages = await readInPages(store, user, limit);
          assert.deepEqual(
            pages.flat().map((e) => `${e.version}/${e.eventId}`),
            order,
            `pages of ${limit}`,
          );
          assert.equal(pages.length, Math.ceil(order.length / limit), `pages of ${limit}`);
        }
        assert.deepEqual(await store.list(user, 10, { version: 3, eventId: id("a3") }), []);
        assert.deepEqual(await store.list(user, 0), [], "a limit of 0 lists nothing");
      } finally {
        await store.close();
      }
    });

    test("the actor of each event is kept and returned as recorded", async () => {
      const store = await open();
      try {
        const user = userId();
        const byDev = entry(user, 1, `${user}-1`, "USER_EVENT_TYPE_CREATED");
        const withActor = (e: HistoryEntry, actor: string): HistoryEntry => ({ ...e, event: { ...e.event, actor } });
        const recorded = [
          withActor(byDev, "charter-dev"),
          withActor(entry(user, 2, `${user}-2`), "charter-writer"),
          entry(user, 3, `${user}-3`),
        ];
        for (const e of recorded) assert.equal(await store.record(e), true);
        assert.deepEqual(
          (await store.list(user, 10)).map((e) => e.event.actor),
          ["charter-dev", "charter-writer", undefined],
        );
      } finally {
        await store.close();
      }
    });

    test("the history is append-only: a DELETED event removes nothing, and it is returned as recorded", async () => {
      const store = await open();
      try {
        const user = userId();
        const created = entry(user, 1, `${user}-1`, "USER_EVENT_TYPE_CREATED");
        const updated: HistoryEntry = {
          ...entry(user, 2, `${user}-2`),
          event: {
            eventId: `${user}-2`,
            userId: user,
            version: "2",
            type: "USER_EVENT_TYPE_UPDATED",
            occurredAt: "2026-01-01T00:00:02.000Z",
            user: { id: user, name: "Ada", email: "ada@example.com", etag: "2", future: [1, { nested: true }] },
          },
        };
        const deleted = entry(user, 3, `${user}-3`, "USER_EVENT_TYPE_DELETED");
        for (const e of [created, updated, deleted]) assert.equal(await store.record(e), true);
        assert.deepEqual(await store.list(user, 10), [created, updated, deleted]);
        // What a caller does with a listed entry does not change the history.
        const [first] = await store.list(user, 1);
        (first?.event as Record<string, unknown>).type = "changed";
        assert.deepEqual(await store.list(user, 10), [created, updated, deleted]);
      } finally {
        await store.close();
      }
    });

    test("recordMany records a batch in one call, entry by entry as record() would", async () => {
      const store = await open();
      try {
        const user = userId();
        const other = userId();
        const before = entry(user, 1, `${user}-1`, "USER_EVENT_TYPE_CREATED");
        assert.equal(await store.record(before), true);
        const batch = [
          entry(user, 3, `${user}-3`),
          before, // already recorded
          entry(other, 1, `${other}-1`, "USER_EVENT_TYPE_CREATED"),
          entry(user, 2, `${user}-2`),
          entry(user, 3, `${user}-3`), // twice in the same batch
        ];
        assert.deepEqual(await store.recordMany(batch), [true, false, true, true, false]);
        assert.deepEqual(
          (await store.list(user, 10)).map((e) => e.eventId),
          [`${user}-1`, `${user}-2`, `${user}-3`],
          "in version order, each once",
        );
        assert.deepEqual(await store.list(other, 10), [batch[2]]);
        assert.deepEqual(await store.recordMany([]), []);
      } finally {
        await store.close();
      }
    });

    test("erase redacts every entry of the user and of no other, keeps the skeleton, and a second erase redacts nothing", async () => {
      const store = await open();
      try {
        const user = userId();
        const other = userId();
        const entries = [withUser(user, 1, "USER_EVENT_TYPE_CREATED"), withUser(user, 2), withUser(user, 3)];
        await store.recordMany([...entries, withUser(other, 1)]);
        const at = "2026-02-01T00:00:00.000Z";
        assert.equal(await store.erase(user, at), 3);
        const erased = await store.list(user, 10);
        assert.deepEqual(
          erased,
          entries.map((e) => skeleton(e, at)),
        );
        assert.ok(!JSON.stringify(erased).includes("Ada"), "no name left");
        assert.ok(!JSON.stringify(erased).includes("@example.com"), "no e-mail left");
        assert.deepEqual(await store.list(other, 10), [withUser(other, 1)], "another user's history is untouched");
        assert.equal(await store.erase(user, "2026-03-01T00:00:00.000Z"), 0, "idempotent");
        assert.deepEqual(await store.list(user, 10), erased, "the first erasure's time stays");
        assert.equal(await store.erase(userId(), at), 0, "an empty history erases nothing");
      } finally {
        await store.close();
      }
    });

    test("after erase, a redelivered event stays redacted and a new event of the user is recorded redacted", async () => {
      const store = await open();
      try {
        const user = userId();
        const created = withUser(user, 1, "USER_EVENT_TYPE_CREATED");
        await store.record(created);
        const at = "2026-02-01T00:00:00.000Z";
        assert.equal(await store.erase(user, at), 1);
        assert.equal(await store.record(created), false, "a redelivery is a duplicate");
        assert.deepEqual(await store.recordMany([created]), [false]);
        const late = withUser(user, 2);
        assert.deepEqual(await store.recordMany([late, withUser(user, 3)]), [true, true]);
        assert.equal(await store.record(withUser(user, 4)), true);
        assert.deepEqual(
          await store.list(user, 10),
          [created, late, withUser(user, 3), withUser(user, 4)].map((e) => skeleton(e, at)),
        );
      } finally {
        await store.close();
      }
    });

    test("a pending erasure is kept until erased, the earliest time wins, and an erased user gets none", async () => {
      const store = await open();
      try {
        const [soon, later, done] = [userId(), userId(), userId()];
        assert.equal(await store.scheduleErasure(soon, "2026-02-01T00:00:00.000Z"), true);
        assert.equal(await store.scheduleErasure(soon, "2026-05-01T00:00:00.000Z"), true, "again: the earlier stays");
        assert.equal(await store.scheduleErasure(later, "2026-03-01T00:00:00.000Z"), true);
        await store.erase(done, "2026-01-01T00:00:00.000Z");
        assert.equal(await store.scheduleErasure(done, "2026-02-01T00:00:00.000Z"), false, "erased already");
        const due = async (now: string) =>
          (await store.dueErasures(now, 100)).filter((u) => [soon, later, done].includes(u));
        assert.deepEqual(await due("2026-01-31T23:59:59.000Z"), []);
        assert.deepEqual(await due("2026-02-01T00:00:00.000Z"), [soon]);
        assert.deepEqual((await due("2026-04-01T00:00:00.000Z")).sort(), [soon, later].sort());
        await store.record(withUser(soon, 1));
        assert.equal(await store.erase(soon, "2026-04-01T00:00:00.000Z"), 1);
        assert.deepEqual(await due("2026-04-01T00:00:00.000Z"), [later], "an erased one is no longer due");
      } finally {
        await store.close();
      }
    });

    test("recordMany again with the same batch (a redelivery) changes nothing", async () => {
      const store = await open();
      try {
        const user = userId();
        const batch = Array.from({ length: 50 }, (_, i) => entry(user, i + 1, `${user}-${i + 1}`));
        assert.ok((await store.recordMany(batch)).every((recorded) => recorded));
        assert.deepEqual(
          await store.recordMany(batch),
          batch.map(() => false),
        );
        // Partly recorded before (a write that failed half-way): only the rest is new.
        const more = Array.from({ length: 5 }, (_, i) => entry(user, 51 + i, `${user}-${51 + i}`));
        assert.deepEqual(await store.recordMany([...batch.slice(45), ...more]), [
          ...batch.slice(45).map(() => false),
          ...more.map(() => true),
        ]);
        assert.deepEqual(
          (await store.list(user, 100)).map((e) => e.version),
          Array.from({ length: 55 }, (_, i) => i + 1),
        );
      } finally {
        await store.close();
      }
    });
  });
}
