/**
 * Composition of the users service: configuration → adapters → use cases → the parts the service host serves
 * (gRPC, health, metrics, registration, the worker-id lease and the outbox relay). serve.ts runs it as a process;
 * tests run it in-process on port 0.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { UsersServiceService } from "../../generated/proto/charter/users/v1/users.js";
import { createGrpcAuthorizer } from "../../platform/auth/grpc-auth.js";
import { createTokenVerifier, type TokenVerifier } from "../../platform/auth/token-verifier.js";
import type { EventProducer } from "../../platform/events/bus.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsRegistry, rpcMetrics } from "../../platform/metrics.js";
import { readEtcdConfig } from "../../platform/registry/etcd-config.js";
import { createLeasedSnowflake, createWorkerIdLease } from "../../platform/registry/worker-id-lease.js";
import {
  closeResources,
  createServiceHost,
  type GrpcListening,
  type Resource,
  type ServiceHost,
  type ServiceParts,
  type Worker,
} from "../../platform/service-host.js";
import { createSnowflake, type SnowflakeGenerator } from "../../platform/snowflake.js";
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
    config.etcdTls,
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

export interface UsersOptions {
  /** Where the outbox relay publishes user events; without one, events wait in the store's outbox. */
  readonly events?: EventProducer;
  /**
   * Another service to serve beside UsersService (the embedded audit service), built with this process's metrics
   * and its token verifier (one key set, fetched once, for every service of the process).
   */
  readonly alongside?: (registry: Registry, verifier: TokenVerifier) => Promise<ServiceParts>;
  /** Opened before the service (the event bus): closed after everything else, the last given first. */
  readonly resources?: readonly Resource[];
}

/** The users service built on its host: backends open, nothing bound or started until `host.listen()`. */
export interface BuiltUsers {
  readonly host: ServiceHost<GrpcListening>;
  readonly store: UserStore;
  readonly cache: UserCache;
  readonly workerIds: WorkerIds;
}

/** The store, timed into `charter_users_store_duration_seconds`. */
async function openStore(config: UsersConfig, registry: Registry): Promise<UserStore> {
  const storeDuration = new Histogram({
    name: "charter_users_store_duration_seconds",
    help: "User store call duration by operation (resolved or rejected).",
    labelNames: ["operation"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  for (const operation of STORE_OPERATIONS) storeDuration.zero({ operation });
  return createTimedUserStore(
    config.mongoUrl
      ? await createMongoUserStore({ url: config.mongoUrl, connectTimeoutMs: config.mongoConnectTimeoutMs })
      : createMemoryUserStore(),
    (operation, seconds) => storeDuration.observe({ operation }, seconds),
  );
}

/** The cache (Redis or memory), with `charter_users_cache_up` and the hook that counts its reads. */
function openCache(config: UsersConfig, logger: Logger, registry: Registry) {
  const timings = { ttlMs: config.cacheTtlMs, fenceTtlMs: config.cacheFenceTtlMs };
  const cache = config.redisUrl
    ? createRedisCache({
        url: config.redisUrl,
        auth: config.redisAuth,
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
  return { cache, onCacheRead: (result: "hit" | "miss" | "bypass") => cacheReads.inc({ result }) };
}

export interface WorkerIds {
  readonly ids: Pick<SnowflakeGenerator, "next">;
  /** The worker id in use; null while none is usable (creates are refused). */
  current(): number | null;
  readonly source: "etcd" | "env" | "default";
  /** The lease, in cluster mode without USERS_WORKER_ID: held before the server serves, released after it stops. */
  readonly lease?: Worker;
}

/**
 * USERS_WORKER_ID when set; else leased from etcd in cluster mode (creates are refused until it is held, and
 * whenever it goes unconfirmed); else 0. Measured as `charter_users_worker_id`.
 */
function workerIds(config: UsersConfig, logger: Logger, registry: Registry): WorkerIds {
  let result: WorkerIds;
  if (config.workerId === undefined && config.etcdEndpoints.length > 0) {
    const lease = createWorkerIdLease({
      endpoints: config.etcdEndpoints,
      tls: config.etcdTls,
      service: USERS_REGISTRY_NAME,
      instanceId: config.instanceId,
      leaseTtlSeconds: Math.max(2, config.leaseTtlSeconds),
      logger,
    });
    result = {
      ids: createLeasedSnowflake(lease),
      current: () => lease.current()?.workerId ?? null,
      source: "etcd",
      lease: {
        name: "worker id lease",
        async start() {
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
        },
        stop: () => lease.stop(),
      },
    };
  } else {
    const ids = createSnowflake(config.workerId ?? 0);
    result = { ids, current: () => ids.workerId, source: config.workerId === undefined ? "default" : "env" };
  }
  new Gauge({
    name: "charter_users_worker_id",
    help: "The snowflake worker id in use; -1 while none is usable (creates are refused).",
    registers: [registry],
    collect() {
      this.set(result.current() ?? -1);
    },
  });
  return result;
}

/** Opens the backends and hands the service's parts to its host; on a failure closes what it had opened. */
export async function buildUsers(config: UsersConfig, logger: Logger, options: UsersOptions = {}): Promise<BuiltUsers> {
  const registry = createMetricsRegistry("users");
  const resources: Resource[] = [...(options.resources ?? [])];
  try {
    const store = await openStore(config, registry);
    resources.push({ name: "user store", close: () => store.close() });
    const { cache, onCacheRead } = openCache(config, logger, registry);
    resources.push({ name: "user cache", close: () => cache.close() });
    const onRpc = rpcMetrics(registry, "users", USERS_RPCS);
    const workers = workerIds(config, logger, registry);
    const service = createUsersService({
      store,
      cache,
      ids: workers.ids,
      logger,
      idempotencyTtlMs: config.idempotencyTtlMs,
      onCacheRead,
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
    const verifier = createTokenVerifier(config.auth);
    const alongside = await options.alongside?.(registry, verifier);
    resources.push(...(alongside?.resources ?? []));
    const host = createServiceHost({
      name: USERS_REGISTRY_NAME,
      logger,
      metrics: registry,
      grpc: {
        host: config.host,
        port: config.grpcPort,
        metricsPort: config.metricsPort,
        services: [
          {
            definition: UsersServiceService,
            implementation: createUsersGrpcHandlers(service, logger, createGrpcAuthorizer(verifier), {
              onRpc,
            }),
            proto: "charter/users/v1/users.proto",
          },
          ...(alongside?.services ?? []),
        ],
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        registration: config,
        tls: config.grpcTls,
        // Serving while the store answers; the cache has its own entry and never takes the service down.
        health: {
          dependency: "user store",
          ping: () => store.ping(),
          intervalMs: config.healthIntervalMs,
          names: [USERS_SERVICE_NAME, `${USERS_SERVICE_NAME}/store`],
          checks: [
            ...(alongside?.healthNames ?? []).map((name) => ({ name, up: () => true })),
            { name: `${USERS_SERVICE_NAME}/cache`, up: () => cache.health().up },
          ],
          registryName: `${USERS_SERVICE_NAME}/registry`,
        },
      },
      // The lease is released after the server stops (calls that finished may have minted ids under it); the relay
      // stops after the last call, finishing the round in hand and sending what the last calls recorded.
      workers: [
        ...(workers.lease ? [workers.lease] : []),
        ...(alongside?.workers ?? []),
        ...(relay ? [{ name: "outbox relay", start: () => relay.start(), stop: () => relay.stop() }] : []),
      ],
      resources,
    });
    return { host, store, cache, workerIds: workers };
  } catch (error) {
    await closeResources(resources, logger);
    throw error;
  }
}

/** buildUsers, then listen: resolves once the service is ready (logged as "users service ready"). */
export async function startUsers(
  config: UsersConfig,
  logger: Logger,
  options: UsersOptions = {},
): Promise<RunningUsers> {
  const { host, store, cache, workerIds } = await buildUsers(config, logger, options);
  const listening = await host.listen();
  logger.info(
    {
      grpcPort: listening.grpcPort,
      metricsPort: listening.metricsPort,
      store: config.mongoUrl ? "mongodb" : "memory",
      cache: cache.backend,
      workerId: workerIds.current(),
      workerIdSource: workerIds.source,
      instanceId: config.instanceId,
      registry: listening.registers ? "etcd" : "none",
      address: listening.address,
      metricsAddress: listening.metricsAddress,
    },
    "users service ready",
  );
  return {
    grpcPort: listening.grpcPort,
    metricsPort: listening.metricsPort,
    store,
    cache,
    async stop() {
      await host.stop();
      logger.info("users service stopped");
    },
  };
}
