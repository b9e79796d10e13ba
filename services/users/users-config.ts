import { envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { MAX_WORKER_ID } from "../../platform/snowflake.js";

export interface UsersConfig {
  readonly host: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly mongoUrl: string | undefined;
  readonly mongoConnectTimeoutMs: number;
  readonly redisUrl: string | undefined;
  readonly redisCommandTimeoutMs: number;
  readonly cacheTtlMs: number;
  readonly cacheFenceTtlMs: number;
  readonly cacheProbeIntervalMs: number;
  readonly workerId: number;
  readonly healthIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/** The users service's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadUsersConfig(env: Readonly<Record<string, string | undefined>> = process.env): UsersConfig {
  const e = envReader(env);
  return {
    host: e.string("USERS_HOST", "0.0.0.0"),
    grpcPort: e.port("USERS_GRPC_PORT", 50051),
    metricsPort: e.port("USERS_METRICS_PORT", 9464),
    mongoUrl: e.optionalUrl("MONGO_URL", ["mongodb:", "mongodb+srv:"]),
    mongoConnectTimeoutMs: e.int("MONGO_CONNECT_TIMEOUT_MS", 5000, 100, 120_000),
    redisUrl: e.optionalUrl("REDIS_URL", ["redis:", "rediss:"]),
    redisCommandTimeoutMs: e.int("REDIS_COMMAND_TIMEOUT_MS", 250, 10, 60_000),
    cacheTtlMs: e.int("CACHE_TTL_MS", 60_000, 100, 86_400_000),
    cacheFenceTtlMs: e.int("CACHE_FENCE_TTL_MS", 5_000, 100, 600_000),
    cacheProbeIntervalMs: e.int("CACHE_PROBE_INTERVAL_MS", 500, 50, 60_000),
    workerId: e.int("USERS_WORKER_ID", 0, 0, MAX_WORKER_ID),
    healthIntervalMs: e.int("USERS_HEALTH_INTERVAL_MS", 2_000, 50, 60_000),
    shutdownTimeoutMs: e.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}
