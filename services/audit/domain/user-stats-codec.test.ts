/**
 * The strict reading of a `charter.users.v1.stats` record, and the latest-stats read model: a record the job writes
 * is read as it is, zeros included; each way a record can break the contract is refused with its reason; the read
 * model keeps the greatest window start, in the last version read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IncomingMessage } from "../../../platform/events/bus.js";
import { createMemoryLatestStats } from "../adapters/memory-latest-stats.js";
import type { UserStatsRecord } from "./user-stats.js";
import { decodeUserStats } from "./user-stats-codec.js";

const START = "2026-01-15T09:30:00Z";
const window = {
  windowStart: START,
  windowEnd: "2026-01-15T09:31:00Z",
  created: 12,
  updated: 0,
  deleted: 2,
  liveUsers: 1047,
  lateEvents: 0,
};

const message = (value: unknown, key: string | undefined = START): IncomingMessage => ({
  topic: "charter.users.v1.stats",
  partition: 0,
  offset: "0",
  key,
  value: Buffer.from(typeof value === "string" ? value : JSON.stringify(value)),
  headers: {},
});

const reasonOf = (value: unknown, key?: string): string => {
  const decoded = decodeUserStats(message(value, key));
  assert.equal(decoded.ok, false, `accepted: ${JSON.stringify(value)}`);
  return decoded.ok ? "" : decoded.reason;
};

test("a record as the job writes it is read with every count, zeros included, and times in UTC", () => {
  assert.deepEqual(decodeUserStats(message(window)), {
    ok: true,
    record: { ...window, windowStart: "2026-01-15T09:30:00.000Z", windowEnd: "2026-01-15T09:31:00.000Z" },
  });
  // The same instant in another offset is the same window.
  const shifted = { ...window, windowStart: "2026-01-15T10:30:00+01:00", windowEnd: "2026-01-15T10:31:00+01:00" };
  assert.equal(decodeUserStats(message(shifted)).ok, true);
});

test("a record that breaks the contract is refused with the reason", () => {
  const { updated: _, ...noUpdated } = window;
  assert.match(reasonOf(noUpdated), /updated is required/);
  assert.match(reasonOf({ ...window, deleted: -1 }), /deleted must be from 0/);
  assert.match(reasonOf({ ...window, created: "12" }), /created is not an integer/);
  assert.match(reasonOf({ ...window, lateEvents: 1.5 }), /lateEvents is not an integer/);
  assert.match(reasonOf({ ...window, liveUsers: 2 ** 31 }), /liveUsers must be from 0 to 2147483647/);
  assert.match(reasonOf({ ...window, windowStart: "yesterday" }), /windowStart/);
  assert.match(
    reasonOf({ ...window, windowStart: "2026-01-15T09:30:30Z", windowEnd: "2026-01-15T09:31:30Z" }),
    /windowStart is not on a minute/,
  );
  assert.match(reasonOf({ ...window, windowEnd: "2026-01-15T09:32:00Z" }), /windowEnd is not windowStart plus 60 s/);
  assert.match(reasonOf(window, "2026-01-15T09:31:00Z"), /the record key is not windowStart/);
  assert.match(reasonOf("{not json"), /not UTF-8 JSON/);
  assert.match(reasonOf([window]), /not a JSON object/);
  const empty = decodeUserStats({ ...message(window), value: undefined });
  assert.deepEqual(empty, { ok: false, reason: "the record has no value" });
});

test("the read model keeps the greatest window start, in the last version read; an older window changes nothing", () => {
  const at = (start: string, liveUsers: number): UserStatsRecord => ({
    ...window,
    windowStart: start,
    windowEnd: new Date(Date.parse(start) + 60_000).toISOString(),
    liveUsers,
  });
  const store = createMemoryLatestStats();
  assert.equal(store.latest(), undefined);
  assert.equal(store.offer(at("2026-01-15T09:31:00.000Z", 10)), true);
  assert.equal(store.offer(at("2026-01-15T09:30:00.000Z", 7)), false);
  assert.equal(store.latest()?.liveUsers, 10);
  // The window fired again (a late event within the allowed lateness): its new counts replace the old.
  assert.equal(store.offer(at("2026-01-15T09:31:00.000Z", 11)), true);
  assert.deepEqual(store.latest(), at("2026-01-15T09:31:00.000Z", 11));
});
