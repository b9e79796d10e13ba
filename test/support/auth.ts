/**
 * Tokens for tests, from a real issuer: the development OpenID provider (platform/auth/dev-issuer.ts) on a free
 * port, and the environment that points a gateway or a service at it. One issuer per test file.
 */
import { type DevIssuer, startDevIssuer } from "../../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../../platform/auth/scopes.js";

export interface TestIssuer extends DevIssuer {
  /** A token of the all-scopes client (charter-dev), or with just `scopes`. */
  tokenWith(scopes?: readonly string[]): Promise<string>;
  /** `Bearer <token>` with every scope, fetched once and reused. */
  bearer(): Promise<string>;
  /** AUTH_ISSUER and AUTH_AUDIENCE for a process that should trust this issuer (short JWKS cache and cooldown). */
  readonly env: Readonly<Record<string, string>>;
}

export async function startTestIssuer(options: { tokenTtlS?: number } = {}): Promise<TestIssuer> {
  const issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES, ...options });
  const all = issuer.clients[0];
  if (!all) throw new Error("the development issuer has no client");
  let cached: Promise<string> | undefined;
  return Object.assign(issuer, {
    tokenWith: (scopes: readonly string[] = all.scopes) => issuer.token(all, scopes),
    bearer: () => {
      cached ??= issuer.token(all).then((token) => `Bearer ${token}`);
      return cached;
    },
    env: {
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
      AUTH_JWKS_CACHE_MS: "1000",
      AUTH_JWKS_COOLDOWN_MS: "0",
    },
  });
}
