/**
 * Composition of the users service: configuration → adapters → use cases → gRPC server,
 * health and metrics. main.ts runs it as a process; tests run it in-process on port 0.
 */
import { Counter, Gauge } from "prom-client";
import { UsersServiceService } from "../../generated/proto/charter/users/v1/users.js";
import { startGrpcServer } from "../../platform/grpc-server.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsRegistry, serveMetrics } from "../../platform/metrics.js";
import { createSnowflake } from "../../platform/snowflake.js";
import { createMemoryCache } from "./caches/memory-cache.js";
import { createRedisCache } from "./caches/redis-cache.js";
import { createMemoryUserStore } from "./stores/memory-user-store.js";
import { createMongoUserStore } from "./stores/mongo-user-store.js";
import type { UserCache } from "./user-cache.js";
import type { UserStore } from "./user-store.js";
import type { UsersConfig } from "./users-config.js";
import { createUsersGrpcHandlers, USERS_RPCS } from "./users-grpc.js";
import { createUsersService } from "./users-service.js";

export const USERS_SERVICE_NAME = "charter.users.v1.UsersService";

export interface RunningUsers {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly store: UserStore;
  readonly cache: UserCache;
  stop(): Promise<void>;
}

export async function startUsers(config: UsersConfig, logger: Logger): Promise<RunningUsers> {
  const registry = createMetricsRegistry("users");
  const store = config.mongoUrl
    ? await createMongoUserStore({ url: config.mongoUrl, connectTimeoutMs: config.mongoConnectTimeoutMs })
    : createMemoryUserStore();
  const timings = { ttlMs: config.cacheTtlMs, fenceTtlMs: config.cacheFenceTtlMs };
  const cache = config.redisUrl
    ? createRedisCache({
        url: config.redisUrl,
        timings,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        probeIntervalMs: config.cacheProbeIntervalMs,
        logger,
      })
    : createMemoryCache(timings);

  const cacheReads = new Counter({
    name: "charter_users_cache_reads_total",
    help: "User cache reads by result: hit, miss, or bypass (cache unavailable, served from the store).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  for (const result of ["hit", "miss", "bypass"]) cacheReads.inc({ result }, 0);
  new Gauge({
    name: "charter_users_cache_up",
    help: "1 while the user cache is in use, 0 while it is bypassed.",
    registers: [registry],
    collect() {
      this.set(cache.health().up ? 1 : 0);
    },
  });

  const rpcs = new Counter({
    name: "charter_users_rpc_total",
    help: "Users gRPC calls by method and outcome: OK or the gRPC status code name.",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  for (const method of USERS_RPCS) rpcs.inc({ method, code: "OK" }, 0);

  const service = createUsersService({
    store,
    cache,
    ids: createSnowflake(config.workerId),
    logger,
    onCacheRead: (result) => cacheReads.inc({ result }),
  });
  const grpc = await startGrpcServer({
    host: config.host,
    port: config.grpcPort,
    services: [
      {
        definition: UsersServiceService,
        implementation: createUsersGrpcHandlers(service, logger, {
          onRpc: (method, code) => rpcs.inc({ method, code }),
        }),
      },
    ],
    reflect: ["charter/users/v1/users.proto"],
    logger,
  });

  // Serving while the store answers; the cache has its own entry and never takes the service down.
  let storeUp: boolean | undefined;
  const checkHealth = async (): Promise<void> => {
    const up = await Promise.race([
      store.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(resolve, config.healthIntervalMs, false).unref()),
    ]);
    if (up !== storeUp) logger[up ? "info" : "error"]({ store: up ? "up" : "down" }, "user store health changed");
    storeUp = up;
    const status = up ? "SERVING" : "NOT_SERVING";
    grpc.setStatus("", status);
    grpc.setStatus(USERS_SERVICE_NAME, status);
    grpc.setStatus(`${USERS_SERVICE_NAME}/store`, status);
    grpc.setStatus(`${USERS_SERVICE_NAME}/cache`, cache.health().up ? "SERVING" : "NOT_SERVING");
  };
  await checkHealth();
  const healthTimer = setInterval(() => void checkHealth(), config.healthIntervalMs);
  healthTimer.unref();

  const metrics = await serveMetrics(registry, config.host, config.metricsPort);
  logger.info(
    {
      grpcPort: grpc.port,
      metricsPort: metrics.port,
      store: config.mongoUrl ? "mongodb" : "memory",
      cache: cache.backend,
      workerId: config.workerId,
    },
    "users service ready",
  );

  return {
    grpcPort: grpc.port,
    metricsPort: metrics.port,
    store,
    cache,
    async stop() {
      clearInterval(healthTimer);
      await grpc.stop(config.shutdownTimeoutMs);
      await metrics.stop();
      await cache.close();
      await store.close();
      logger.info("users service stopped");
    },
  };
}
