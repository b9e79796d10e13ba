import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { createLogger } from "../../../platform/logging.js";
import { type RunningServer, startRedis } from "../../../scripts/infra/index.js";
import { waitFor } from "../../../scripts/lib/processes.js";
import { runCacheSpec } from "../../../test/specs/user-cache-spec.js";
import { createRedisCache } from "./redis-cache.js";

const logger = createLogger("cache-test", "silent");
let redis: RunningServer;
before(async () => {
  redis = await startRedis({ persist: true });
});
after(() => redis.stop());

const open = (keyPrefix: string) =>
  createRedisCache({
    url: redis.url,
    timings: { ttlMs: 60_000, fenceTtlMs: 5_000 },
    commandTimeoutMs: 150,
    probeIntervalMs: 50,
    keyPrefix,
    logger,
  });
const up = (cache: ReturnType<typeof open>) =>
  waitFor("the cache to be up", () => (cache.health().up ? true : undefined));

runCacheSpec("redis", async () => {
  const cache = open("spec:");
  await up(cache);
  return { cache, cleanup: () => cache.close() };
});

describe("redis cache failures", () => {
  test("entries expire after their TTL in Redis", async () => {
    const cache = createRedisCache({
      url: redis.url,
      timings: { ttlMs: 200, fenceTtlMs: 100 },
      commandTimeoutMs: 150,
      probeIntervalMs: 50,
      keyPrefix: "ttl:",
      logger,
    });
    await up(cache);
    await cache.fill("k", 1, "v1");
    const direct = new Redis(redis.url);
    assert.ok((await direct.pttl("ttl:k")) > 0, "the entry has a TTL in Redis");
    direct.disconnect();
    await waitFor(
      "the entry to expire",
      async () => ((await cache.get("k")).kind === "miss" ? true : undefined),
      5_000,
    );
    await cache.close();
  });

  test("a slow Redis is bypassed, then used again", async () => {
    const cache = open("slow:");
    await up(cache);
    await cache.fill("k", 1, "v1");
    const direct = new Redis(redis.url);
    await direct.client("PAUSE", 1000, "ALL");
    assert.deepEqual(await cache.get("k"), { kind: "bypass" }, "a command slower than the timeout is a bypass");
    assert.equal(cache.health().up, false);
    assert.deepEqual(await cache.get("k"), { kind: "bypass" }, "no further commands wait on a slow Redis");
    await up(cache);
    assert.deepEqual(await cache.get("k"), { kind: "miss" }, "entries from before the slowness are invalidated");
    direct.disconnect();
    await cache.close();
  });

  test("Redis killed: bypass without errors; restarted with its old data: that data is never served", async () => {
    const cache = open("restart:");
    await up(cache);
    await cache.fill("user", 1, "version 1");
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await direct.connect();
    await direct.save(); // the old data Redis will come back with
    direct.disconnect();

    await redis.kill("SIGKILL");
    await waitFor("bypass", async () => ((await cache.get("user")).kind === "bypass" ? true : undefined));
    await cache.fill("user", 2, "version 2"); // dropped while down: must not fail
    await cache.fence("user", 3);
    assert.match(cache.health().reason ?? "", /.+/, "health says why");

    await redis.restart();
    const check = new Redis(redis.url);
    assert.ok((await check.exists("restart:user")) === 1, "Redis came back with the old entry");
    check.disconnect();
    await up(cache);
    assert.deepEqual(await cache.get("user"), { kind: "miss" }, "the old entry is invisible after the outage");
    await cache.fill("user", 3, "version 3");
    assert.deepEqual(await cache.get("user"), { kind: "hit", value: "version 3" });
    await cache.close();
  });
});
