/**
 * Who a process is at Redis and how it checks Redis's certificate, read the same way by every Redis client of the
 * platform (the users cache, the gateway's request budget): REDIS_USERNAME, REDIS_PASSWORD (or REDIS_PASSWORD_FILE)
 * and REDIS_TLS_CA (or REDIS_TLS_CA_FILE). Nothing read here is ever part of a message.
 */
import type { RedisOptions } from "ioredis";
import { ConfigError, type EnvReader } from "./config.js";

/** An ACL user and password, and the CA of Redis's certificate for rediss:// URLs. */
export interface RedisAuth {
  /** REDIS_USERNAME; unset: `default` (with a password: AUTH <password>). */
  readonly username?: string;
  readonly password?: string;
  /** REDIS_TLS_CA: the CA of Redis's certificate, for rediss:// URLs; unset: the system's CAs. */
  readonly ca?: Buffer;
}

export function redisAuth(e: EnvReader): RedisAuth {
  const username = e.string("REDIS_USERNAME", "");
  const password = e.secret("REDIS_PASSWORD");
  const ca = e.secret("REDIS_TLS_CA");
  if (username !== "" && password === undefined) {
    throw new ConfigError("REDIS_PASSWORD (or REDIS_PASSWORD_FILE) must be set when REDIS_USERNAME is");
  }
  if (ca !== undefined && !/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/.test(ca)) {
    throw new ConfigError("REDIS_TLS_CA (or REDIS_TLS_CA_FILE) must be PEM text with a CERTIFICATE block");
  }
  return {
    ...(username !== "" ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca !== undefined ? { ca: Buffer.from(ca) } : {}),
  };
}

/** The ioredis options of `auth` for a connection to `url`: rediss:// turns TLS on; the CA, when given, is the only one trusted. */
export function redisAuthOptions(url: string, auth: RedisAuth = {}): RedisOptions {
  return {
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(url.startsWith("rediss:") && auth.ca ? { tls: { ca: auth.ca } } : {}),
  };
}

/**
 * The ioredis options of a client that never makes a caller wait on Redis (the users cache, the gateway's request
 * budget): `auth` as above, no command queued while disconnected, none retried, a slow one failed after
 * `commandTimeoutMs`, and reconnection in the background every 100 ms more, up to a second.
 */
export function failFastRedisOptions(url: string, auth: RedisAuth | undefined, commandTimeoutMs: number): RedisOptions {
  return {
    ...redisAuthOptions(url, auth),
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  };
}
