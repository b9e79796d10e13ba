/**
 * What every function reads from the environment beside its own variables: where the runtime binds, and how to get
 * the platform's tokens (client credentials at the platform's issuer, as the function's own client).
 */

import { DEFAULT_AUDIENCE, DEV_ISSUER } from "../platform/auth/auth-config.js";
import { ConfigError, type EnvReader, envReader, type LogLevel, logLevels } from "../platform/config.js";
import { clientCredentials } from "../sdk/client-credentials.js";

export interface FunctionHostConfig {
  /** FUNCTION_NAME: the function to run (a folder of functions/), when the command line names none. */
  readonly name: string;
  /** FUNCTION_HOST: loopback by default; a container sets 0.0.0.0 (the chart does). */
  readonly host: string;
  /** FUNCTION_PORT: 8080 by default, as Knative expects; 0 picks a free one. */
  readonly port: number;
  readonly logLevel: LogLevel;
}

/** The host's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadFunctionHostConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): FunctionHostConfig {
  const e = envReader(env);
  return {
    name: e.string("FUNCTION_NAME", ""),
    host: e.string("FUNCTION_HOST", "127.0.0.1"),
    port: e.port("FUNCTION_PORT", 8080),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}

/** How a function gets the platform's tokens: the client-credentials grant as its own client at the issuer. */
export interface PlatformClientConfig {
  readonly issuer: string;
  /** Unset: the issuer's token_endpoint, found by OpenID discovery. */
  readonly tokenUrl: string | undefined;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly audience: string;
}

/**
 * The client settings of a function that calls into the platform: AUTH_ISSUER (or AUTH_TOKEN_URL), FUNCTION_CLIENT_ID
 * with FUNCTION_CLIENT_SECRET (or FUNCTION_CLIENT_SECRET_FILE), and the API's audience (AUTH_AUDIENCE).
 */
export function platformClientConfig(e: EnvReader): PlatformClientConfig {
  const clientSecret = e.secret("FUNCTION_CLIENT_SECRET");
  if (clientSecret === undefined) {
    throw new ConfigError(
      "FUNCTION_CLIENT_SECRET (or FUNCTION_CLIENT_SECRET_FILE) must give the function's client secret",
    );
  }
  return {
    issuer: (e.optionalUrl("AUTH_ISSUER", ["http:", "https:"]) ?? DEV_ISSUER).replace(/\/$/, ""),
    tokenUrl: e.optionalUrl("AUTH_TOKEN_URL", ["http:", "https:"]),
    clientId: e.string("FUNCTION_CLIENT_ID", "charter-functions"),
    clientSecret,
    audience: e.string("AUTH_AUDIENCE", DEFAULT_AUDIENCE),
  };
}

/**
 * A token provider for the function's calls into the platform: the client-credentials grant at the issuer's token
 * endpoint (found by OpenID discovery unless tokenUrl is set), asking for `scopes`; tokens are cached until near
 * their expiry by the SDK's client.
 */
export function platformToken(config: PlatformClientConfig, scopes: readonly string[]): () => Promise<string> {
  const { issuer, tokenUrl, clientId, clientSecret, audience } = config;
  let provider: Promise<() => Promise<string>> | undefined;
  const discover = async (): Promise<() => Promise<string>> => {
    let url = tokenUrl;
    if (url === undefined) {
      const response = await fetch(`${issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(5_000),
      });
      const document = (await response.json().catch(() => undefined)) as { token_endpoint?: unknown } | undefined;
      if (!response.ok || typeof document?.token_endpoint !== "string") {
        throw new Error(`the issuer ${issuer} published no token endpoint (${response.status})`);
      }
      url = document.token_endpoint;
    }
    return clientCredentials({ tokenUrl: url, clientId, clientSecret, scopes, audience });
  };
  return async () => {
    // A failed discovery is tried again at the next call.
    provider ??= discover().catch((error: unknown) => {
      provider = undefined;
      throw error;
    });
    return (await provider)();
  };
}

/** An error whose `code` is the HTTP status the runtime answers with (faas-js-runtime reads `code`). */
export function httpError(status: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code: status });
}
