/**
 * Who the platform believes about a caller, read the same way by every process that checks tokens (the gateway,
 * the users and audit services): AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URI, AUTH_CLOCK_SKEW_S,
 * AUTH_JWKS_CACHE_MS and AUTH_JWKS_COOLDOWN_MS. Unset, they name the development issuer that `npm start` runs.
 */
import { ConfigError, type EnvReader } from "../config.js";

/** The development issuer's defaults: its port, and the audience (resource) its tokens are for. */
export const DEV_ISSUER_PORT = 9400;
export const DEV_ISSUER = `http://127.0.0.1:${DEV_ISSUER_PORT}`;
export const DEFAULT_AUDIENCE = "urn:charter:api";

/** The signature algorithms a token may use: asymmetric only, so a public key can never sign (no HS*, no none). */
export const TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;

export interface AuthConfig {
  /** The `iss` every token must carry, and where its keys are found (OpenID discovery) unless jwksUri says. */
  readonly issuer: string;
  /** The `aud` every token must carry: this API's resource identifier at the issuer. */
  readonly audience: string;
  /** The issuer's JWKS URL; unset: the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri: string | undefined;
  /** Seconds of clock difference allowed on `exp` and `nbf`. */
  readonly clockSkewS: number;
  /** How long fetched keys are used before they are fetched again. */
  readonly jwksCacheMs: number;
  /** The least time between two fetches of the keys (an unknown `kid` fetches them, at most this often). */
  readonly jwksCooldownMs: number;
}

export function authConfig(e: EnvReader): AuthConfig {
  const issuer = e.optionalUrl("AUTH_ISSUER", ["http:", "https:"]) ?? DEV_ISSUER;
  const audience = e.string("AUTH_AUDIENCE", DEFAULT_AUDIENCE);
  if (/\s/.test(audience))
    throw new ConfigError(`AUTH_AUDIENCE must not contain spaces, got ${JSON.stringify(audience)}`);
  return {
    issuer,
    audience,
    jwksUri: e.optionalUrl("AUTH_JWKS_URI", ["http:", "https:"]),
    clockSkewS: e.int("AUTH_CLOCK_SKEW_S", 30, 0, 300),
    jwksCacheMs: e.int("AUTH_JWKS_CACHE_MS", 600_000, 0, 86_400_000),
    jwksCooldownMs: e.int("AUTH_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000),
  };
}
