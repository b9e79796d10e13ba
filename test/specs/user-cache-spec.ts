import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { UserCache } from "../../services/users/domain/user-cache.js";

/** The behaviour every cache adapter shares; run against memory and real Redis. */
export function runCacheSpec(name: string, open: () => Promise<{ cache: UserCache; cleanup: () => Promise<void> }>) {
  describe(`${name} cache (shared spec)`, () => {
    let cache: UserCache;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ cache, cleanup } = await open());
    });
    after(() => cleanup());
    const fresh = () => `spec-${randomUUID()}`;

    test("a missing key is a miss; a filled key is a hit", async () => {
      const key = fresh();
      assert.deepEqual(await cache.get(key), { kind: "miss" });
      await cache.fill(key, 1, "v1");
      assert.deepEqual(await cache.get(key), { kind: "hit", value: "v1" });
    });

    test("a fill never replaces a newer or equal version (a racing reader cannot undo a write)", async () => {
      const key = fresh();
      await cache.fill(key, 2, "v2");
      await cache.fill(key, 1, "v1");
      await cache.fill(key, 2, "other v2");
      assert.deepEqual(await cache.get(key), { kind: "hit", value: "v2" });
      await cache.fill(key, 3, "v3");
      assert.deepEqual(await cache.get(key), { kind: "hit", value: "v3" });
    });

    test("a fence drops the old entry and refuses fills below it, but takes its own version", async () => {
      const key = fresh();
      await cache.fill(key, 1, "v1");
      await cache.fence(key, 2);
      assert.deepEqual(await cache.get(key), { kind: "miss" });
      await cache.fill(key, 1, "v1 from a slow reader");
      assert.deepEqual(await cache.get(key), { kind: "miss" });
      await cache.fill(key, 2, "v2");
      assert.deepEqual(await cache.get(key), { kind: "hit", value: "v2" });
    });

    test("a fence at or below the cached version keeps the entry; a lower fence keeps a higher one", async () => {
      const key = fresh();
      await cache.fill(key, 5, "v5");
      await cache.fence(key, 5);
      assert.deepEqual(await cache.get(key), { kind: "hit", value: "v5" });
      const fenced = fresh();
      await cache.fence(fenced, 7);
      await cache.fence(fenced, 3);
      await cache.fill(fenced, 6, "v6");
      assert.deepEqual(await cache.get(fenced), { kind: "miss" });
    });

    test("values round-trip unicode exactly", async () => {
      const key = fresh();
      const value = JSON.stringify({ name: 'Zoë 🚀 中文 \u0000 "q"' });
      await cache.fill(key, 1, value);
      assert.deepEqual(await cache.get(key), { kind: "hit", value });
    });

    test("reports itself up", () => {
      assert.equal(cache.health().up, true);
    });
  });
}
