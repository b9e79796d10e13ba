/**
 * A token provider for the OAuth 2.0 client-credentials grant (RFC 6749 §4.4): what a service calling Charter
 * passes as the client's `token`. It asks the token endpoint once, keeps the token, and asks again shortly before
 * the token expires — when less than 30 s, or 10 % of its lifetime for a token that lives under 5 minutes, is
 * left. Callers that ask at the same time share one request to the token endpoint.
 */

export interface ClientCredentialsOptions {
  /** The issuer's token endpoint, e.g. `http://127.0.0.1:9400/token` or `https://kc.example/realms/charter/protocol/openid-connect/token`. */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The scopes to ask for, e.g. `["users:read"]`; unset: the client's default scopes at the issuer. */
  readonly scopes?: readonly string[];
  /** The API's resource identifier, sent as `resource` (RFC 8707), e.g. `urn:charter:api`; unset: not sent. */
  readonly audience?: string;
  /** A fetch to use instead of the global one. */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** The clock, in milliseconds since the epoch (for tests). Default Date.now. */
  readonly now?: () => number;
}

/** The token endpoint refused, or answered with something that is not a token. Never carries the secret. */
export interface TokenRequestError extends Error {
  readonly name: "TokenRequestError";
  /** The token endpoint's HTTP status. */
  readonly status: number;
  /** The OAuth error code (`invalid_client`, `invalid_scope`…), when the endpoint gave one. */
  readonly error: string | undefined;
}

export function isTokenRequestError(value: unknown): value is TokenRequestError {
  return value instanceof Error && value.name === "TokenRequestError";
}

const MAX_MARGIN_MS = 30_000;
const MARGIN_SHARE = 0.1;

interface Held {
  readonly token: string;
  /** When to ask for the next one. */
  readonly refreshAt: number;
}

export function clientCredentials(options: ClientCredentialsOptions): () => Promise<string> {
  const now = options.now ?? Date.now;
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  // RFC 6749 §2.3.1: the id and the secret are form-encoded before they are joined.
  const basic = btoa(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`);
  let held: Held | undefined;
  let inFlight: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (options.scopes && options.scopes.length > 0) form.set("scope", options.scopes.join(" "));
    if (options.audience) form.set("resource", options.audience);
    const asked = now();
    const response = await send(
      new Request(options.tokenUrl, {
        method: "POST",
        headers: {
          authorization: `Basic ${basic}`,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: form,
      }),
    );
    const body = (await response.json().catch(() => undefined)) as
      | { access_token?: unknown; expires_in?: unknown; error?: unknown }
      | undefined;
    if (!response.ok || typeof body?.access_token !== "string" || body.access_token === "") {
      const error = typeof body?.error === "string" ? body.error : undefined;
      const message = `the token endpoint ${options.tokenUrl} gave no token for client ${options.clientId}: ${response.status}${error ? ` ${error}` : ""}`;
      throw Object.assign(new Error(message), { name: "TokenRequestError" as const, status: response.status, error });
    }
    // Without expires_in (it is only RECOMMENDED) the token is used until the API refuses it… which the SDK cannot
    // see here, so keep it a minute.
    const lifetimeMs = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in * 1000 : 60_000;
    const margin = Math.min(MAX_MARGIN_MS, lifetimeMs * MARGIN_SHARE);
    held = { token: body.access_token, refreshAt: asked + lifetimeMs - margin };
    return body.access_token;
  };

  return () => {
    if (held && now() < held.refreshAt) return Promise.resolve(held.token);
    inFlight ??= fetchToken().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
