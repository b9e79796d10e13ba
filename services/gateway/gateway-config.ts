import { ConfigError, envReader, type LogLevel, logLevels } from "../../platform/config.js";

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  /** The users service's gRPC target (host:port). */
  readonly usersAddr: string;
  readonly usersDeadlineMs: number;
  readonly bodyLimit: number;
  /** Empty: no CORS headers (same-origin only); ["*"]: any origin. */
  readonly corsOrigins: readonly string[];
  /** Swagger UI and GraphiQL; off when NODE_ENV=production unless GATEWAY_DOCS=on. */
  readonly docs: boolean;
  /** How long in-flight requests may run after SIGTERM before their connections are closed. */
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
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

/** The gateway's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const e = envReader(env);
  const usersAddr = e.string("USERS_ADDR", "127.0.0.1:50051");
  if (!/^[^\s:/]+:\d{1,5}$/.test(usersAddr) && !/^[a-z][a-z0-9+.-]*:\/\/?\S+$/.test(usersAddr)) {
    throw new ConfigError(`USERS_ADDR must be host:port or a gRPC target URI, got ${JSON.stringify(usersAddr)}`);
  }
  const nodeEnv = e.oneOf("NODE_ENV", "development", ["development", "production", "test"]);
  const docs = e.oneOf("GATEWAY_DOCS", nodeEnv === "production" ? "off" : "on", ["on", "off"]) === "on";
  return {
    host: e.string("GATEWAY_HOST", "0.0.0.0"),
    port: e.port("GATEWAY_PORT", 8080),
    usersAddr,
    usersDeadlineMs: e.int("USERS_DEADLINE_MS", 2_000, 10, 600_000),
    bodyLimit: e.int("GATEWAY_BODY_LIMIT", 65_536, 1_024, 16_777_216),
    corsOrigins: corsOrigins(env),
    docs,
    shutdownTimeoutMs: e.int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}
