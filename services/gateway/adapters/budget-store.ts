/**
 * The Redis connection the request budget is kept in (REDIS_URL), shared by every gateway that uses it. It never
 * queues a command while disconnected and a slow command fails: the budget then lets requests through (see
 * transport/rate-limit.ts) instead of holding them, and the connection keeps retrying in the background.
 */
import { Redis } from "ioredis";
import type { Logger } from "../../../platform/logging.js";
import { failFastRedisOptions, type RedisAuth } from "../../../platform/redis-config.js";

export interface BudgetStoreOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  /** REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA: the same ACL user and CA as the users cache's. */
  readonly auth?: RedisAuth;
  readonly logger: Logger;
}

export function createBudgetRedis(opts: BudgetStoreOptions): Redis {
  const client = new Redis(opts.url, failFastRedisOptions(opts.url, opts.auth, opts.commandTimeoutMs));
  let reported = false;
  client.on("ready", () => {
    reported = false;
    opts.logger.info({ budget: "redis" }, "request budget kept in Redis");
  });
  // Reported once per outage (ioredis reports every reconnection attempt); each request let through meanwhile is
  // counted by the budget.
  client.on("error", (error: unknown) => {
    if (reported) return;
    reported = true;
    opts.logger.warn({ budget: "redis", reason: String(error) }, "request budget store unreachable");
  });
  return client;
}
