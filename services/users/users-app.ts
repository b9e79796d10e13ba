/**
 * Composition of the users service: configuration → adapters → use cases → gRPC server,
 * health and metrics. main.ts runs it as a process; tests run it in-process on port 0.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { UsersServiceService } from "../../generated/proto/charter/users/v1/users.js";
import type { EventProducer } from "../../platform/events/bus.js";
import { type GrpcServiceBinding, startGrpcServer } from "../../platform/grpc-server.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsRegistry, rpcMetrics, serveMetrics } from "../../platform/metrics.js";
import { readEtcdConfig } from "../../platform/registry/etcd-config.js";
import { INSTANCE_VERSION, instanceAddresses } from "../../platform/registry/registry-config.js";
import { createServingRegistration } from "../../platform/registry/serving-registration.js";
import {
  createLeasedSnowflake,
  createWorkerIdLease,
  type WorkerIdLease,
} from "../../platform/registry/worker-id-lease.js";
import { createSnowflake, type SnowflakeGenerator } from "../../platform/snowflake.js";
import { watchStoreHealth } from "../../platform/store-health.js";
import { createMemoryCache } from "./adapters/memory-cache.js";
import { createMemoryUserStore } from "./adapters/memory-user-store.js";
import { createMongoUserStore } from "./adapters/mongo-user-store.js";
import { createRedisCache } from "./adapters/redis-cache.js";
import { createTimedUserStore, STORE_OPERATIONS } from "./adapters/timed-user-store.js";
import { createOutboxRelay } from "./app/outbox-relay.js";
import { createUsersService } from "./app/users-service.js";
import type { UserCache } from "./domain/user-cache.js";
import type { UserStore } from "./domain/user-store.js";
import { createUsersGrpcHandlers, USERS_RPCS } from "./transport/users-grpc.js";
import { MONGO_URL_KEY, REDIS_URL_KEY, type UsersConfig, withEtcdInfrastructure } from "./users-config.js";

export const USERS_SERVICE_NAME = "charter.users.v1.UsersService";
/** The name users instances register under: `/charter/services/users/<instance-id>`. */
export const USERS_REGISTRY_NAME = "users";

/**
 * In cluster mode (ETCD_ENDPOINTS set), MONGO_URL and REDIS_URL left unset are read once from etcd
 * (`/charter/config/mongo-url`, `/charter/config/redis-url`); the environment always wins. An etcd that does not
 * answer within ETCD_CONNECT_TIMEOUT_MS stops start-up.
 */
export async function resolveUsersConfig(config: UsersConfig, logger: Logger): Promise<UsersConfig> {
  if (config.etcdEndpoints.length === 0 || (config.mongoUrl && config.redisUrl)) return config;
  const values = await readEtcdConfig(
    config.etcdEndpoints,
    [MONGO_URL_KEY, REDIS_URL_KEY],
    config.etcdConnectTimeoutMs,
  );
  const resolved = withEtcdInfrastructure(config, values);
  logger.info(
    { mongo: resolved.sources.mongo, redis: resolved.sources.redis, keys: [MONGO_URL_KEY, REDIS_URL_KEY] },
    "infrastructure configuration (env wins over etcd; default: embedded)",
  );
  return resolved.config;
}

export interface RunningUsers {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly store: UserStore;
  readonly cache: UserCache;
  stop(): Promise<void>;
}

/** Another gRPC service this process serves on its own server (the embedded audit service). */
export interface HostedService {
  readonly binding: GrpcServiceBinding;
  /** Its proto file, for reflection. */
  readonly reflect: string;
  /** Its name in the health service, SERVING while this process serves. */
  readonly healthName: string;
  stop(): Promise<void>;
}

export interface UsersOptions {
  /** Where the outbox relay publishes user events; without one, events wait in the store's outbox. */
  readonly events?: EventProducer;
  /** Services to serve beside UsersService, built with this process's metrics registry. */
  readonly host?: (registry: Registry) => Promise<HostedService>;
}

export async function startUsers(
  config: UsersConfig,
  logger: Logger,
  options: UsersOptions = {},
): Promise<RunningUsers> {
  const startedAt = new Date().toISOString();
  const clustered = config.etcdEndpoints.length > 0;
  const registry = createMetricsRegistry("users");
  const storeDuration = new Histogram({
    name: "charter_users_store_duration_seconds",
    help: "User store call duration by operation (resolved or rejected).",
    labelNames: ["operation"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  for (const operation of STORE_OPERATIONS) storeDuration.zero({ operation });
  const store = createTimedUserStore(
    config.mongoUrl
      ? await createMongoUserStore({ url: config.mongoUrl, connectTimeoutMs: config.mongoConnectTimeoutMs })
      : createMemoryUserStore(),
    (operation, seconds) => storeDuration.observe({ operation }, seconds),
  );
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

  const onRpc = rpcMetrics(registry, "users", USERS_RPCS);

  // Worker id: USERS_WORKER_ID when set; else leased from etcd in cluster mode (creates are refused until it is
  // held, and whenever it goes unconfirmed); else 0.
  let workerLease: WorkerIdLease | undefined;
  let fixedIds: SnowflakeGenerator | undefined;
  if (config.workerId === undefined && clustered) {
    workerLease = createWorkerIdLease({
      endpoints: config.etcdEndpoints,
      service: USERS_REGISTRY_NAME,
      instanceId: config.instanceId,
      leaseTtlSeconds: Math.max(2, config.leaseTtlSeconds),
      logger,
    });
    const lease = workerLease;
    const held = await Promise.race([
      lease.start().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, config.etcdConnectTimeoutMs, false).unref()),
    ]);
    if (!held) {
      logger.warn(
        { timeoutMs: config.etcdConnectTimeoutMs },
        "no worker id leased yet; CreateUser is UNAVAILABLE until one is (reads are served)",
      );
    }
  } else {
    fixedIds = createSnowflake(config.workerId ?? 0);
  }
  const ids = workerLease ? createLeasedSnowflake(workerLease) : (fixedIds as SnowflakeGenerator);
  new Gauge({
    name: "charter_users_worker_id",
    help: "The snowflake worker id in use; -1 while none is usable (creates are refused).",
    registers: [registry],
    collect() {
      this.set(workerLease ? (workerLease.current()?.workerId ?? -1) : (fixedIds?.workerId ?? -1));
    },
  });

  const service = createUsersService({
    store,
    cache,
    ids,
    logger,
    idempotencyTtlMs: config.idempotencyTtlMs,
    onCacheRead: (result) => cacheReads.inc({ result }),
    onWrite: () => relay?.wake(),
  });
  const relay = options.events
    ? createOutboxRelay({
        store,
        producer: options.events,
        owner: config.instanceId,
        logger,
        ...config.outbox,
        metrics: registry,
      })
    : undefined;
  const hosted = await options.host?.(registry);
  const grpc = await startGrpcServer({
    host: config.host,
    port: config.grpcPort,
    services: [
      {
        definition: UsersServiceService,
        implementation: createUsersGrpcHandlers(service, logger, { onRpc }),
      },
      ...(hosted ? [hosted.binding] : []),
    ],
    reflect: ["charter/users/v1/users.proto", ...(hosted ? [hosted.reflect] : [])],
    logger,
  });

  // Registration in etcd (cluster mode): only while the service is SERVING. A store that stops answering
  // deregisters the instance (clients then stop sending it calls it cannot serve); it registers again when the
  // store is back. Changes are chained, so a new registration never races the revocation of the last one.
  // Served before the first registration, whose value carries this address for Prometheus to find.
  const metrics = await serveMetrics(registry, config.host, config.metricsPort);
  const { address, metricsAddress } = instanceAddresses(config, grpc.port, metrics.port);
  const registration = createServingRegistration({
    endpoints: config.etcdEndpoints,
    service: USERS_REGISTRY_NAME,
    instanceId: config.instanceId,
    value: { address, version: INSTANCE_VERSION, zone: config.zone, startedAt, metricsAddress },
    leaseTtlSeconds: config.leaseTtlSeconds,
    logger,
    dependency: "the user store",
    metrics: { registry, prefix: "users" },
    onChange: () => updateRegistryHealth(),
  });
  const registered = () => registration.registered();
  const updateRegistryHealth = () => {
    if (clustered) grpc.setStatus(`${USERS_SERVICE_NAME}/registry`, registered() ? "SERVING" : "NOT_SERVING");
  };
  // Serving while the store answers; the cache has its own entry and never takes the service down.
  const health = await watchStoreHealth({
    ping: () => store.ping(),
    intervalMs: config.healthIntervalMs,
    logger,
    name: "user store",
    onCheck(up) {
      const status = up ? "SERVING" : "NOT_SERVING";
      grpc.setStatus("", status);
      grpc.setStatus(USERS_SERVICE_NAME, status);
      grpc.setStatus(`${USERS_SERVICE_NAME}/store`, status);
      if (hosted) grpc.setStatus(hosted.healthName, "SERVING");
      grpc.setStatus(`${USERS_SERVICE_NAME}/cache`, cache.health().up ? "SERVING" : "NOT_SERVING");
      registration.sync(up);
    },
  });
  relay?.start();

  logger.info(
    {
      grpcPort: grpc.port,
      metricsPort: metrics.port,
      store: config.mongoUrl ? "mongodb" : "memory",
      cache: cache.backend,
      workerId: workerLease ? (workerLease.current()?.workerId ?? null) : (fixedIds?.workerId ?? null),
      workerIdSource: workerLease ? "etcd" : config.workerId === undefined ? "default" : "env",
      instanceId: config.instanceId,
      registry: clustered ? "etcd" : "none",
      address,
      metricsAddress,
    },
    "users service ready",
  );

  return {
    grpcPort: grpc.port,
    metricsPort: metrics.port,
    store,
    cache,
    async stop() {
      health.stop();
      // Deregister first, then give clients REGISTRY_DRAIN_MS to drop this instance while it still serves;
      // only then stop accepting calls (in-flight ones finish).
      await registration.stop(config.drainMs);
      await grpc.stop(config.shutdownTimeoutMs);
      // After the last call: the relay finishes the round in hand and sends what the last calls recorded.
      await relay?.stop();
      await hosted?.stop();
      await metrics.stop();
      // The worker id is released last: calls that finished above may still have minted ids under it.
      await workerLease?.stop();
      await cache.close();
      await store.close();
      logger.info("users service stopped");
    },
  };
}
