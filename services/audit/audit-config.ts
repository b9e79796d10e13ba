import { type AuthConfig, authConfig } from "../../platform/auth/auth-config.js";
import { ConfigError, envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { type KafkaSecurity, kafkaBrokers, kafkaSecurity } from "../../platform/events/kafka-config.js";
import { type RegistrationConfig, registrationConfig } from "../../platform/registry/registry-config.js";
import { type MutualTls, mutualTls } from "../../platform/tls-config.js";

/** Registration in etcd (ETCD_ENDPOINTS, AUDIT_INSTANCE_ID, AUDIT_ADVERTISE_ADDR, …) as `audit`, see RegistrationConfig. */
export interface AuditConfig extends RegistrationConfig {
  readonly host: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** Unset → the in-memory history (nothing kept across restarts). */
  readonly mongoUrl: string | undefined;
  readonly mongoConnectTimeoutMs: number;
  /** Empty → the in-process bus (only events of this process). */
  readonly kafkaBrokers: readonly string[];
  /** KAFKA_TLS*, KAFKA_SASL_*. */
  readonly kafkaSecurity: KafkaSecurity;
  /** GRPC_TLS_*: mutual TLS for the gRPC server; plaintext when unset. */
  readonly grpcTls: MutualTls | undefined;
  /** AUTH_*: the issuer whose tokens every call must bring (platform/auth/auth-config.ts). */
  readonly auth: AuthConfig;
  readonly groupId: string;
  readonly retryDelayMs: number;
  /** The most events of a partition recorded in one bulk write and committed at once (AUDIT_BATCH_SIZE). */
  readonly batchSize: number;
  /** How often pending erasures that are due are carried out (AUDIT_ERASURE_SWEEP_MS). */
  readonly erasureSweepMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

/** The audit service's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadAuditConfig(env: Readonly<Record<string, string | undefined>> = process.env): AuditConfig {
  const e = envReader(env);
  const segment = (name: string, fallback: string): string => {
    const value = e.string(name, fallback);
    if (SEGMENT.test(value)) return value;
    throw new ConfigError(`${name} must be 1 to 128 of [A-Za-z0-9._-], got ${JSON.stringify(value)}`);
  };
  const groupId = segment("AUDIT_GROUP_ID", "charter-audit");
  const registration = registrationConfig(e, "AUDIT", `audit-${process.pid}`);
  return {
    ...registration,
    host: e.string("AUDIT_HOST", "0.0.0.0"),
    grpcPort: e.port("AUDIT_GRPC_PORT", 50061),
    metricsPort: e.port("AUDIT_METRICS_PORT", 9465),
    mongoUrl: e.optionalUrl("MONGO_URL", ["mongodb:", "mongodb+srv:"]),
    mongoConnectTimeoutMs: e.int("MONGO_CONNECT_TIMEOUT_MS", 5000, 100, 120_000),
    kafkaBrokers: kafkaBrokers(e),
    kafkaSecurity: kafkaSecurity(e),
    grpcTls: mutualTls(e, "GRPC_TLS"),
    auth: authConfig(e),
    groupId,
    retryDelayMs: e.int("AUDIT_RETRY_DELAY_MS", 500, 10, 60_000),
    batchSize: e.int("AUDIT_BATCH_SIZE", 500, 1, 10_000),
    erasureSweepMs: e.int("AUDIT_ERASURE_SWEEP_MS", 60_000, 10, 86_400_000),
    shutdownTimeoutMs: e.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}
