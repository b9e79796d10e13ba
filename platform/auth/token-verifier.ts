/**
 * Bearer access tokens → the caller, with jose: the signature by a key of the issuer's JWKS (fetched, cached, and
 * fetched again when a token names a key it has not seen, so a key rotation is followed without a restart), an
 * asymmetric algorithm, the issuer, the audience, and `exp`/`nbf` within the allowed clock skew. Every refusal is
 * one AuthError whose message says nothing an attacker could use; the reason is kept for the logs.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { type AuthConfig, TOKEN_ALGORITHMS } from "./auth-config.js";

/** Who is calling: the token's subject and the scopes it grants. */
export interface Principal {
  /** The token's `sub`: a user, or a client in the client-credentials grant. */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** The token's `client_id` or `azp`, when it names one. */
  readonly clientId: string | undefined;
  /** The token's `exp`, in seconds since the epoch. */
  readonly expiresAt: number;
}

/** Why a token was refused: for the logs only; callers are told no more than "a valid bearer token is required". */
export type AuthFailure =
  | "missing"
  | "not-bearer"
  | "oversized"
  | "malformed"
  | "algorithm"
  | "signature"
  | "unknown-key"
  | "expired"
  | "not-yet-valid"
  | "claims"
  | "keys-unavailable";

export class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(readonly reason: AuthFailure) {
    super("a valid bearer token is required");
  }
}

/** A token longer than this is refused before it is parsed. */
export const MAX_TOKEN_BYTES = 8192;
/** Three base64url segments: what a JWS in compact form looks like, and nothing else. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface TokenVerifierOptions
  extends Pick<AuthConfig, "issuer" | "audience" | "clockSkewS" | "jwksCacheMs" | "jwksCooldownMs"> {
  /** The JWKS URL; unset: discovered from the issuer. Ignored when `keys` is given. */
  readonly jwksUri?: string | undefined;
  /** A fixed key set instead of a fetched one (tests, air-gapped installs). */
  readonly keys?: JSONWebKeySet;
  /** The clock the token's times are judged by (tests inject one; default: now). */
  readonly currentDate?: () => Date;
  /** A fetch of the keys or the discovery document gives up after this long. */
  readonly fetchTimeoutMs?: number;
}

export interface TokenVerifier {
  /** The caller of a request whose Authorization header is `authorization`; AuthError when it is missing or bad. */
  verify(authorization: string | undefined): Promise<Principal>;
}

/** The bearer token of an Authorization header value, or an AuthError (RFC 6750: the scheme is case-insensitive). */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization === "") throw new AuthError("missing");
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!match?.[1]) throw new AuthError("not-bearer");
  const token = match[1];
  if (token.length > MAX_TOKEN_BYTES) throw new AuthError("oversized");
  if (!COMPACT_JWS.test(token)) throw new AuthError("malformed");
  return token;
}

/** The scopes a token grants: RFC 9068's space-separated `scope`, or an `scp` list as some issuers write it. */
function scopesOf(payload: JWTPayload): Set<string> {
  const { scope, scp } = payload as { scope?: unknown; scp?: unknown };
  if (typeof scope === "string") return new Set(scope.split(" ").filter((s) => s !== ""));
  if (Array.isArray(scp)) return new Set(scp.filter((s): s is string => typeof s === "string"));
  return new Set();
}

function failureOf(error: unknown): AuthFailure {
  if (error instanceof AuthError) return error.reason;
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) return error.claim === "nbf" ? "not-yet-valid" : "claims";
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return "algorithm";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature";
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return "unknown-key";
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return "keys-unavailable";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed";
  if (error instanceof errors.JOSEError) return "malformed";
  return "keys-unavailable"; // the key set could not be fetched (network, discovery)
}

/** The issuer's jwks_uri from its OpenID discovery document. */
async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: unknown };
  if (typeof jwksUri !== "string") throw new Error(`${url} names no jwks_uri`);
  return new URL(jwksUri);
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
  let keySet: Promise<JWTVerifyGetKey> | undefined;
  const keys = (): Promise<JWTVerifyGetKey> => {
    if (options.keys) return Promise.resolve(createLocalJWKSet(options.keys));
    keySet ??= (
      options.jwksUri ? Promise.resolve(new URL(options.jwksUri)) : discoverJwksUri(options.issuer, fetchTimeoutMs)
    )
      .then((url) =>
        createRemoteJWKSet(url, {
          cacheMaxAge: options.jwksCacheMs,
          cooldownDuration: options.jwksCooldownMs,
          timeoutDuration: fetchTimeoutMs,
        }),
      )
      .catch((error: unknown) => {
        keySet = undefined; // discovery failed: try again on the next token
        throw error;
      });
    return keySet;
  };
  // Fetched at once, not by the first call: a service's first caller would otherwise wait for the discovery
  // document and the key set, and a caller with a short deadline would time out. A failure here is no failure:
  // the first token fetches them again.
  if (!options.keys) {
    void keys()
      .then((getKey) => (getKey as Partial<ReturnType<typeof createRemoteJWKSet>>).reload?.())
      .catch(() => undefined);
  }
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      try {
        const { payload } = await jwtVerify(token, await keys(), {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...TOKEN_ALGORITHMS],
          clockTolerance: options.clockSkewS,
          requiredClaims: ["sub", "exp"],
          ...(options.currentDate ? { currentDate: options.currentDate() } : {}),
        });
        const { client_id: clientId, azp } = payload as { client_id?: unknown; azp?: unknown };
        return {
          subject: payload.sub as string,
          scopes: scopesOf(payload),
          clientId: typeof clientId === "string" ? clientId : typeof azp === "string" ? azp : undefined,
          expiresAt: payload.exp as number,
        };
      } catch (error) {
        throw error instanceof AuthError ? error : new AuthError(failureOf(error));
      }
    },
  };
}

/** The first of `needed` that `principal` lacks, or undefined when it has them all. Scopes compare exactly. */
export function missingScope(principal: Principal, needed: readonly string[]): string | undefined {
  return needed.find((scope) => !principal.scopes.has(scope));
}
