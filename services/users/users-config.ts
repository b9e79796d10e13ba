import { type AuthConfig, authConfig } from "../../platform/auth/auth-config.js";
import { envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { type KafkaSecurity, kafkaBrokers, kafkaSecurity } from "../../platform/events/kafka-config.js";
import { type RedisAuth, redisAuth } from "../../platform/redis-config.js";
import { CONFIG_PREFIX } from "../../platform/registry/etcd-config.js";
import { type RegistrationConfig, registrationConfig } from "../../platform/registry/registry-config.js";
import { MAX_WORKER_ID } from "../../platform/snowflake.js";
import { type MutualTls, mutualTls } from "../../platform/tls-config.js";

export interface UsersConfig extends RegistrationConfig {
  readonly host: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly mongoUrl: string | undefined;
  readonly mongoConnectTimeoutMs: number;
  readonly redisUrl: string | undefined;
  readonly redisCommandTimeoutMs: number;
  readonly redisAuth: RedisAuth;
  /** GRPC_TLS_*: mutual TLS for the gRPC server; plaintext when unset. */
  readonly grpcTls: MutualTls | undefined;
  /** AUTH_*: the issuer whose tokens every call must bring (platform/auth/auth-config.ts). */
  readonly auth: AuthConfig;
  /** KAFKA_TLS*, KAFKA_SASL_*. */
  readonly kafkaSecurity: KafkaSecurity;
  readonly cacheTtlMs: number;
  readonly cacheFenceTtlMs: number;
  readonly cacheProbeIntervalMs: number;
  /** USERS_WORKER_ID; undefined when unset: leased from etcd in cluster mode, 0 otherwise. */
  readonly workerId: number | undefined;
  readonly healthIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly etcdConnectTimeoutMs: number;
  readonly idempotencyTtlMs: number;
  /** KAFKA_BROKERS; empty → events go on the in-process bus. */
  readonly kafkaBrokers: readonly string[];
  readonly outbox: { readonly pollIntervalMs: number; readonly batchSize: number; readonly leaseMs: number };
}

/** The users service's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadUsersConfig(env: Readonly<Record<string, string | undefined>> = process.env): UsersConfig {
  const e = envReader(env);
  const registration = registrationConfig(e, "USERS");
  const explicitWorkerId = e.string("USERS_WORKER_ID", "") !== "";
  return {
    ...registration,
    host: e.string("USERS_HOST", "0.0.0.0"),
    grpcPort: e.port("USERS_GRPC_PORT", 50051),
    metricsPort: e.port("USERS_METRICS_PORT", 9464),
    mongoUrl: e.optionalUrl("MONGO_URL", MONGO_PROTOCOLS),
    mongoConnectTimeoutMs: e.int("MONGO_CONNECT_TIMEOUT_MS", 5000, 100, 120_000),
    redisUrl: e.optionalUrl("REDIS_URL", REDIS_PROTOCOLS),
    redisCommandTimeoutMs: e.int("REDIS_COMMAND_TIMEOUT_MS", 250, 10, 60_000),
    redisAuth: redisAuth(e),
    grpcTls: mutualTls(e, "GRPC_TLS"),
    auth: authConfig(e),
    kafkaSecurity: kafkaSecurity(e),
    cacheTtlMs: e.int("CACHE_TTL_MS", 60_000, 100, 86_400_000),
    cacheFenceTtlMs: e.int("CACHE_FENCE_TTL_MS", 5_000, 100, 600_000),
    cacheProbeIntervalMs: e.int("CACHE_PROBE_INTERVAL_MS", 500, 50, 60_000),
    workerId: explicitWorkerId ? e.int("USERS_WORKER_ID", 0, 0, MAX_WORKER_ID) : undefined,
    healthIntervalMs: e.int("USERS_HEALTH_INTERVAL_MS", 2_000, 50, 60_000),
    shutdownTimeoutMs: e.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
    etcdConnectTimeoutMs: e.int("ETCD_CONNECT_TIMEOUT_MS", 5_000, 100, 120_000),
    idempotencyTtlMs: e.int("IDEMPOTENCY_TTL_MS", 86_400_000, 1_000, 30 * 86_400_000),
    kafkaBrokers: kafkaBrokers(e),
    outbox: {
      pollIntervalMs: e.int("OUTBOX_POLL_INTERVAL_MS", 200, 10, 60_000),
      batchSize: e.int("OUTBOX_BATCH_SIZE", 1_000, 1, 10_000),
      leaseMs: e.int("OUTBOX_LEASE_MS", 10_000, 100, 600_000),
    },
  };
}

const MONGO_PROTOCOLS = ["mongodb:", "mongodb+srv:"] as const;
const REDIS_PROTOCOLS = ["redis:", "rediss:"] as const;
export const MONGO_URL_KEY = `${CONFIG_PREFIX}mongo-url`;
export const REDIS_URL_KEY = `${CONFIG_PREFIX}redis-url`;

export type Source = "env" | "etcd" | "default";

/**
 * Fills MONGO_URL and REDIS_URL from etcd values where the environment left them unset: the environment always
 * wins, an absent key leaves the embedded default. A value is validated as the variable would be (a bad one
 * throws ConfigError naming the key).
 */
export function withEtcdInfrastructure(
  config: UsersConfig,
  values: ReadonlyMap<string, string | undefined>,
): { config: UsersConfig; sources: { mongo: Source; redis: Source } } {
  const fromEtcd = envReader(Object.fromEntries(values));
  const mongo = config.mongoUrl ?? fromEtcd.optionalUrl(MONGO_URL_KEY, MONGO_PROTOCOLS);
  const redis = config.redisUrl ?? fromEtcd.optionalUrl(REDIS_URL_KEY, REDIS_PROTOCOLS);
  const source = (env: string | undefined, value: string | undefined): Source =>
    env !== undefined ? "env" : value !== undefined ? "etcd" : "default";
  return {
    config: { ...config, mongoUrl: mongo, redisUrl: redis },
    sources: { mongo: source(config.mongoUrl, mongo), redis: source(config.redisUrl, redis) },
  };
}
