import { Redis, type Result } from "ioredis";
import type { Logger } from "../../../platform/logging.js";
import { failFastRedisOptions, type RedisAuth } from "../../../platform/redis-config.js";
import type { CacheHealth, CacheRead, CacheTimings, UserCache } from "../domain/user-cache.js";

/*
 * Each key is a hash: g = generation, v = version and d = value for an entry, or
 * f = minimum version for a fence. An entry counts only while its generation equals
 * the generation key; bumping that key after an outage invalidates every entry at once.
 */
const GET = `
local gen = redis.call('GET', KEYS[1]) or '0'
local e = redis.call('HMGET', KEYS[2], 'g', 'd')
if e[1] ~= gen or not e[2] then return false end
return e[2]`;

const FILL = `
local gen = redis.call('GET', KEYS[1]) or '0'
local e = redis.call('HMGET', KEYS[2], 'g', 'v', 'f')
local version = tonumber(ARGV[1])
if e[1] == gen then
  if e[2] and tonumber(e[2]) >= version then return 0 end
  if e[3] and tonumber(e[3]) > version then return 0 end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'g', gen, 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`;

const FENCE = `
local gen = redis.call('GET', KEYS[1]) or '0'
local e = redis.call('HMGET', KEYS[2], 'g', 'v', 'f')
local min = tonumber(ARGV[1])
if e[1] == gen and ((e[2] and tonumber(e[2]) >= min) or (e[3] and tonumber(e[3]) >= min)) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'g', gen, 'f', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    cacheGet(genKey: string, key: string): Result<string | null, Context>;
    cacheFill(genKey: string, key: string, version: number, value: string, ttlMs: number): Result<number, Context>;
    cacheFence(genKey: string, key: string, minVersion: number, ttlMs: number): Result<number, Context>;
  }
}

export interface RedisCacheOptions {
  readonly url: string;
  /** An ACL user and password, and the CA of Redis's certificate for rediss:// URLs. */
  readonly auth?: RedisAuth;
  readonly timings: CacheTimings;
  /** A command slower than this counts as a failure and the cache is bypassed. */
  readonly commandTimeoutMs: number;
  /** How often to try the backend again while bypassed. */
  readonly probeIntervalMs: number;
  readonly keyPrefix?: string;
  readonly logger: Logger;
}

/**
 * Redis adapter of the cache port. Any failure (refused, closed, slow) switches it to
 * bypass; a probe then bumps the generation before the cache is used again, so nothing
 * written before or during the outage is served.
 */
export function createRedisCache(opts: RedisCacheOptions): UserCache {
  const prefix = opts.keyPrefix ?? "charter:users:cache:";
  const genKey = `${prefix}generation`;
  const client = new Redis(opts.url, failFastRedisOptions(opts.url, opts.auth, opts.commandTimeoutMs));
  client.defineCommand("cacheGet", { numberOfKeys: 2, lua: GET });
  client.defineCommand("cacheFill", { numberOfKeys: 2, lua: FILL });
  client.defineCommand("cacheFence", { numberOfKeys: 2, lua: FENCE });

  let health: CacheHealth = { up: false, reason: "connecting" };
  let probe: NodeJS.Timeout | undefined;
  let recovering = false;
  let closed = false;

  const recover = async (): Promise<void> => {
    if (recovering || health.up || closed || client.status !== "ready") return;
    recovering = true;
    try {
      await client.incr(genKey);
      health = { up: true };
      opts.logger.info({ cache: "redis" }, "cache in use");
    } catch (error) {
      health = { up: false, reason: describe(error) };
    } finally {
      recovering = false;
    }
  };
  const down = (reason: string): void => {
    if (closed) return;
    // Said once when it goes down, and once when it never came up (a refused login, a wrong address).
    if (health.up || health.reason === "connecting") {
      opts.logger.warn({ cache: "redis", reason }, "cache bypassed: serving from the store");
    }
    health = { up: false, reason };
    probe ??= setInterval(() => {
      if (health.up || closed) {
        clearInterval(probe);
        probe = undefined;
      } else void recover();
    }, opts.probeIntervalMs);
    probe.unref();
  };

  client.on("ready", () => void recover());
  client.on("close", () => down("connection closed"));
  client.on("error", (error: unknown) => down(describe(error)));

  const guarded = async <T>(run: () => Promise<T>): Promise<T | undefined> => {
    if (!health.up) return undefined;
    try {
      return await run();
    } catch (error) {
      down(describe(error));
      return undefined;
    }
  };
  const key = (k: string): string => prefix + k;

  return {
    backend: "redis",
    async get(k): Promise<CacheRead> {
      if (!health.up) return { kind: "bypass" };
      const value = await guarded(() => client.cacheGet(genKey, key(k)));
      if (value === undefined) return { kind: "bypass" };
      return value === null ? { kind: "miss" } : { kind: "hit", value };
    },
    async fill(k, version, value) {
      await guarded(() => client.cacheFill(genKey, key(k), version, value, opts.timings.ttlMs));
    },
    async fence(k, minVersion) {
      await guarded(() => client.cacheFence(genKey, key(k), minVersion, opts.timings.fenceTtlMs));
    },
    health: () => health,
    async close() {
      closed = true;
      if (probe) clearInterval(probe);
      client.disconnect();
    },
  };
}

const describe = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
