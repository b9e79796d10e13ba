import { isIP } from "node:net";
import { type AuthConfig, authConfig } from "../../platform/auth/auth-config.js";
import { ConfigError, type EnvReader, envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { type RedisAuth, redisAuth } from "../../platform/redis-config.js";
import { etcdEndpoints, etcdTls, instanceId } from "../../platform/registry/registry-config.js";
import { type ClientTls, type MutualTls, mutualTls } from "../../platform/tls-config.js";

/** The target the gateway dials when it discovers users instances in etcd (ETCD_ENDPOINTS set, USERS_ADDR not). */
export const USERS_DISCOVERY_TARGET = "etcd:///users";

/** The gateway's route for Traefik, kept in etcd in Traefik's KV layout (see adapters/traefik-route.ts). */
export interface TraefikRouteConfig {
  /** GATEWAY_TRAEFIK=on (it needs ETCD_ENDPOINTS): the instance registers its route while it serves. */
  readonly enabled: boolean;
  /** The key prefix Traefik's etcd provider reads (its `rootKey`), e.g. `traefik`. */
  readonly rootKey: string;
  /** Lease TTL of the instance's server key: how long a gateway that dies stays in Traefik's rotation. */
  readonly leaseTtlSeconds: number;
  /** On stop, the wait between deleting the server key and draining: longer than Traefik's provider throttle. */
  readonly deregisterWaitMs: number;
}

/** The request budget per client (see transport/rate-limit.ts). */
export interface RateLimitConfig {
  /** Units a client may draw per window (GATEWAY_RATE_LIMIT_MAX): one per request, a GraphQL operation by its size. */
  readonly max: number;
  /** The window, in milliseconds (GATEWAY_RATE_LIMIT_WINDOW_MS). */
  readonly windowMs: number;
  /** REDIS_URL: the budget is kept in Redis and shared by every gateway using it; unset, in this process. */
  readonly redisUrl: string | undefined;
  /** A slower Redis command fails, and the request is let through (REDIS_COMMAND_TIMEOUT_MS). */
  readonly redisCommandTimeoutMs: number;
  /** REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS_CA(_FILE), as the users cache reads them. */
  readonly redisAuth: RedisAuth;
}

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  /**
   * The users service's gRPC target: USERS_ADDR when it is set; otherwise `etcd:///users` when ETCD_ENDPOINTS is
   * set (instances discovered in etcd, round-robin), else 127.0.0.1:50051.
   */
  readonly usersAddr: string;
  /** etcd client URLs (ETCD_ENDPOINTS); empty: no discovery. */
  readonly etcdEndpoints: readonly string[];
  /** ETCD_TLS_*: the CA of etcd's certificate and the gateway's client certificate. */
  readonly etcdTls: ClientTls | undefined;
  /** GRPC_TLS_*: the gateway's client certificate and the CA of the users and audit services'; plaintext when unset. */
  readonly grpcTls: MutualTls | undefined;
  readonly usersDeadlineMs: number;
  /** Consecutive UNAVAILABLE/DEADLINE_EXCEEDED failures, with no success for usersBreakerHalfOpenMs, that open the breaker. */
  readonly usersBreakerFailures: number;
  /** How long the open breaker answers 503 at once before one call probes the users service again. */
  readonly usersBreakerHalfOpenMs: number;
  readonly bodyLimit: number;
  /** Empty: no CORS headers (same-origin only); ["*"]: any origin. */
  readonly corsOrigins: readonly string[];
  /** Swagger UI and GraphiQL; off when NODE_ENV=production unless GATEWAY_DOCS=on. */
  readonly docs: boolean;
  /**
   * The audit service (users' history), a host:port or gRPC target: AUDIT_ADDR when it is set; otherwise, without
   * KAFKA_BROKERS, the users service's target (the users process hosts the audit service then), and with
   * KAFKA_BROKERS the audit service's own default port, 127.0.0.1:50061.
   */
  readonly auditAddr: string;
  /** Deadline of a history call (AUDIT_DEADLINE_MS, default USERS_DEADLINE_MS). */
  readonly auditDeadlineMs: number;
  /** Request metrics and /metrics (GATEWAY_METRICS=off turns them off, e.g. to measure what they cost). */
  readonly metrics: boolean;
  /** How long in-flight requests may run after SIGTERM before their connections are closed. */
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** GATEWAY_INSTANCE_ID: this instance's name in the registry (its Traefik server key). */
  readonly instanceId: string;
  readonly traefik: TraefikRouteConfig;
  readonly rateLimit: RateLimitConfig;
  /** GATEWAY_TRUSTED_PROXIES: addresses or CIDRs whose X-Forwarded-For names the client; empty: none. */
  readonly trustedProxies: readonly string[];
  /** AUTH_*: the issuer whose bearer tokens the gateway accepts, for which audience, and how its keys are kept. */
  readonly auth: AuthConfig;
}

/** A Traefik root key: segments of [A-Za-z0-9._-] joined by `/`, no leading or trailing `/`. */
const ROOT_KEY = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

function traefikRoute(e: EnvReader, etcd: readonly string[]): TraefikRouteConfig {
  const enabled = e.oneOf("GATEWAY_TRAEFIK", "off", ["on", "off"]) === "on";
  if (enabled && etcd.length === 0) {
    throw new ConfigError("GATEWAY_TRAEFIK=on needs ETCD_ENDPOINTS (the etcd Traefik reads its routes from)");
  }
  const rootKey = e.string("GATEWAY_TRAEFIK_ROOT_KEY", "traefik");
  if (!ROOT_KEY.test(rootKey)) {
    throw new ConfigError(
      `GATEWAY_TRAEFIK_ROOT_KEY must be segments of [A-Za-z0-9._-] joined by "/", like traefik, got ${JSON.stringify(rootKey)}`,
    );
  }
  return {
    enabled,
    rootKey,
    leaseTtlSeconds: e.int("REGISTRY_LEASE_TTL_S", 5, 1, 3_600),
    // Traefik applies a change at once, then none for its providers throttle (2 s by default): 3 s is past it.
    deregisterWaitMs: e.int("GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS", 3_000, 0, 60_000),
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/** GATEWAY_CORS_ORIGINS: "*" or comma-separated origins such as https://app.example.com (scheme, host, port only). */
function corsOrigins(env: Env): string[] {
  const raw = env.GATEWAY_CORS_ORIGINS?.trim() ?? "";
  if (raw === "") return [];
  const origins = raw.split(",").map((o) => o.trim());
  if (origins.length === 1 && origins[0] === "*") return ["*"];
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || !["http:", "https:"].includes(url.protocol) || url.origin !== origin) {
      throw new ConfigError(
        `GATEWAY_CORS_ORIGINS must be "*" or comma-separated origins like https://app.example.com, got ${JSON.stringify(origin)}`,
      );
    }
  }
  return origins;
}

/** GATEWAY_TRUSTED_PROXIES: comma-separated IP addresses or CIDRs (10.0.0.0/8, ::1, 2001:db8::/32). */
function trustedProxies(env: Env): string[] {
  const raw = env.GATEWAY_TRUSTED_PROXIES?.trim() ?? "";
  if (raw === "") return [];
  return raw.split(",").map((entry) => {
    const proxy = entry.trim();
    const [address = "", prefix, ...rest] = proxy.split("/");
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(
        `GATEWAY_TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs like 10.0.0.0/8, got ${JSON.stringify(proxy)}`,
      );
    }
    return proxy;
  });
}

/** The target the gateway dials for the audit service when it runs on its own and registers in etcd. */
export const AUDIT_DISCOVERY_TARGET = "etcd:///audit";

/** The audit service's own default address (its AUDIT_GRPC_PORT), where it runs as a process of its own. */
export const AUDIT_DEFAULT_ADDR = "127.0.0.1:50061";

/** A gRPC target variable: host:port or a target URI; an etcd:/// target needs ETCD_ENDPOINTS. */
function grpcTarget(e: EnvReader, name: string, fallback: string, etcd: readonly string[]): string {
  const target = e.string(name, fallback);
  if (!/^[^\s:/]+:\d{1,5}$/.test(target) && !/^[a-z][a-z0-9+.-]*:\/\/?\S+$/.test(target)) {
    throw new ConfigError(`${name} must be host:port or a gRPC target URI, got ${JSON.stringify(target)}`);
  }
  if (target.startsWith("etcd:") && etcd.length === 0) {
    throw new ConfigError(`${name} ${target} needs ETCD_ENDPOINTS (the etcd to discover the instances in)`);
  }
  return target;
}

/** The gateway's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const e = envReader(env);
  const etcd = etcdEndpoints(e);
  const usersAddr = grpcTarget(e, "USERS_ADDR", etcd.length > 0 ? USERS_DISCOVERY_TARGET : "127.0.0.1:50051", etcd);
  const usersDeadlineMs = e.int("USERS_DEADLINE_MS", 2_000, 10, 600_000);
  // Without Kafka the users process hosts the audit service (see services/users/serve.ts).
  const kafka = (env.KAFKA_BROKERS ?? "").trim() !== "";
  const nodeEnv = e.oneOf("NODE_ENV", "development", ["development", "production", "test"]);
  const docs = e.oneOf("GATEWAY_DOCS", nodeEnv === "production" ? "off" : "on", ["on", "off"]) === "on";
  return {
    host: e.string("GATEWAY_HOST", "0.0.0.0"),
    port: e.port("GATEWAY_PORT", 8080),
    usersAddr,
    etcdEndpoints: etcd,
    etcdTls: etcdTls(e, etcd),
    grpcTls: mutualTls(e, "GRPC_TLS"),
    usersDeadlineMs,
    usersBreakerFailures: e.int("USERS_BREAKER_FAILURES", 5, 1, 10_000),
    usersBreakerHalfOpenMs: e.int("USERS_BREAKER_HALF_OPEN_MS", 1_000, 50, 600_000),
    bodyLimit: e.int("GATEWAY_BODY_LIMIT", 65_536, 1_024, 16_777_216),
    corsOrigins: corsOrigins(env),
    docs,
    auditAddr: grpcTarget(
      e,
      "AUDIT_ADDR",
      kafka ? (etcd.length > 0 ? AUDIT_DISCOVERY_TARGET : AUDIT_DEFAULT_ADDR) : usersAddr,
      etcd,
    ),
    auditDeadlineMs: e.int("AUDIT_DEADLINE_MS", usersDeadlineMs, 10, 600_000),
    metrics: e.oneOf("GATEWAY_METRICS", "on", ["on", "off"]) === "on",
    shutdownTimeoutMs: e.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
    instanceId: instanceId(e, "GATEWAY"),
    traefik: traefikRoute(e, etcd),
    rateLimit: {
      max: e.int("GATEWAY_RATE_LIMIT_MAX", 600, 1, 1_000_000_000),
      windowMs: e.int("GATEWAY_RATE_LIMIT_WINDOW_MS", 60_000, 1_000, 86_400_000),
      redisUrl: e.optionalUrl("REDIS_URL", ["redis:", "rediss:"]),
      redisCommandTimeoutMs: e.int("REDIS_COMMAND_TIMEOUT_MS", 250, 10, 60_000),
      redisAuth: redisAuth(e),
    },
    trustedProxies: trustedProxies(env),
    auth: authConfig(e),
  };
}
