import assert from "node:assert/strict";
import { test } from "node:test";
import { createSnowflake, EPOCH_MS, MAX_WORKER_ID } from "./snowflake.js";

test("ids carry time, worker id and sequence, and increase", () => {
  const gen = createSnowflake(5, () => EPOCH_MS + 1000);
  const a = BigInt(gen.next());
  const b = BigInt(gen.next());
  assert.equal(a >> 22n, 1000n);
  assert.equal((a >> 12n) & 1023n, 5n);
  assert.equal(b, a + 1n);
});

test("the clock going backwards never produces a duplicate or a smaller id", () => {
  let now = EPOCH_MS + 10_000;
  const gen = createSnowflake(1, () => now);
  const seen = new Set<string>();
  let last = -1n;
  for (let i = 0; i < 50_000; i++) {
    if (i % 1000 === 500) now -= 5_000; // NTP step backwards
    if (i % 7 === 0) now += 1;
    const id = gen.next();
    assert.ok(BigInt(id) > last, `id ${id} after ${last}`);
    last = BigInt(id);
    seen.add(id);
  }
  assert.equal(seen.size, 50_000);
});

test("more than 4096 ids in one millisecond borrow the next millisecond", () => {
  const gen = createSnowflake(0, () => EPOCH_MS + 1);
  const ids = Array.from({ length: 10_000 }, () => BigInt(gen.next()));
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0n)));
});

test("different workers never collide, and the worker id is range-checked", () => {
  const now = () => EPOCH_MS + 42;
  const a = createSnowflake(1, now);
  const b = createSnowflake(2, now);
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) ids.add(a.next()).add(b.next());
  assert.equal(ids.size, 10_000);
  assert.throws(() => createSnowflake(MAX_WORKER_ID + 1), RangeError);
  assert.throws(() => createSnowflake(-1), RangeError);
});

test("a generator that replaces another with afterMs keeps ids increasing, even under a smaller worker id", () => {
  const now = EPOCH_MS + 5_000;
  const first = createSnowflake(900, () => now);
  const before = BigInt(first.next());
  const second = createSnowflake(3, () => now, { afterMs: first.lastMs() });
  const after = BigInt(second.next());
  assert.ok(after > before, `${after} after ${before}`);
  assert.equal(after >> 22n, 5_001n, "the next millisecond is borrowed while the clock is not past the floor");
  assert.equal((after >> 12n) & 1023n, 3n);
  const later = createSnowflake(3, () => now + 10, { afterMs: first.lastMs() });
  assert.equal(BigInt(later.next()) >> 22n, 5_010n, "once the clock is past the floor, it is used");
});
