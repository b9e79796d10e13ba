import assert from "node:assert/strict";
import { test } from "node:test";
import { runCacheSpec } from "../../../test/specs/user-cache-spec.js";
import { createMemoryCache } from "./memory-cache.js";

runCacheSpec("memory", async () => {
  const cache = createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 });
  return { cache, cleanup: () => cache.close() };
});

test("memory cache: entries and fences expire after their TTLs", async () => {
  let now = 1_000;
  const cache = createMemoryCache({ ttlMs: 100, fenceTtlMs: 10 }, { now: () => now });
  await cache.fill("a", 1, "v1");
  await cache.fence("b", 2);
  now += 11;
  await cache.fill("b", 1, "v1");
  assert.deepEqual(await cache.get("b"), { kind: "hit", value: "v1" }, "an expired fence no longer refuses fills");
  now += 100;
  assert.deepEqual(await cache.get("a"), { kind: "miss" });
});

test("memory cache: bounded, evicting the oldest entry", async () => {
  const cache = createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }, { maxEntries: 2 });
  await cache.fill("a", 1, "a");
  await cache.fill("b", 1, "b");
  await cache.fill("c", 1, "c");
  assert.deepEqual(await cache.get("a"), { kind: "miss" });
  assert.deepEqual(await cache.get("c"), { kind: "hit", value: "c" });
});
