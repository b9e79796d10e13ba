/**
 * What every function reads from the environment beside its own variables: where the runtime binds, and how to get
 * the platform's tokens (client credentials at the platform's issuer, as the function's own client).
 */

import { DEFAULT_AUDIENCE, DEV_ISSUER } from "../platform/auth/auth-config.js";
import { ConfigError, type EnvReader, type LogLevel, logLevels } from "../platform/config.js";
import { clientCredentials } from "../sdk/client-credentials.js";

export interface FunctionHostConfig {
  /** FUNCTION_HOST: loopback by default; a container sets 0.0.0.0 (the chart does). */
  readonly host: string;
  /** FUNCTION_PORT: 8080 by default, as Knative expects; 0 picks a free one. */
  readonly port: number;
  readonly logLevel: LogLevel;
}

export function functionHostConfig(e: EnvReader): FunctionHostConfig {
  return {
    host: e.string("FUNCTION_HOST", "127.0.0.1"),
    port: e.port("FUNCTION_PORT", 8080),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}

/**
 * A token provider for the function's calls into the platform: the client-credentials grant at the token endpoint
 * of AUTH_ISSUER (found by OpenID discovery, or AUTH_TOKEN_URL), as FUNCTION_CLIENT_ID with FUNCTION_CLIENT_SECRET
 * (or FUNCTION_CLIENT_SECRET_FILE), asking for `scopes` and the API's audience (AUTH_AUDIENCE).
 */
export function platformToken(e: EnvReader, scopes: readonly string[]): () => Promise<string> {
  const issuer = (e.optionalUrl("AUTH_ISSUER", ["http:", "https:"]) ?? DEV_ISSUER).replace(/\/$/, "");
  const tokenUrl = e.optionalUrl("AUTH_TOKEN_URL", ["http:", "https:"]);
  const clientId = e.string("FUNCTION_CLIENT_ID", "charter-functions");
  const clientSecret = e.secret("FUNCTION_CLIENT_SECRET");
  if (clientSecret === undefined) {
    throw new ConfigError(
      "FUNCTION_CLIENT_SECRET (or FUNCTION_CLIENT_SECRET_FILE) must give the function's client secret",
    );
  }
  const audience = e.string("AUTH_AUDIENCE", DEFAULT_AUDIENCE);
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
