/**
 * Who is calling, at the gateway: the bearer token of every request to a route that asks for one is verified
 * (platform/auth/token-verifier.ts) before the request budget is drawn, so that the budget is the caller's
 * (`sub:<subject>`, transport/rate-limit.ts); once the budget is drawn, a request without a valid token is refused
 * 401 and a REST call whose token lacks the operation's scope 403. The scopes are the contract's: a REST route
 * carries its operation's `security` (register-rest.ts), a GraphQL field its `@auth` directive (graphql/index.ts).
 * Health, readiness, metrics, the contract and the docs carry none and stay open.
 *
 * Refusals follow RFC 6750: `WWW-Authenticate: Bearer realm="charter"`, with `error="invalid_token"` when a token
 * was sent, and `error="insufficient_scope", scope="<scope>"` on a 403. The detail of a 401 never says which check
 * failed; the reason is on the request's log line (never the token).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AuthFailure, Principal, TokenVerifier } from "../../../platform/auth/token-verifier.js";
import { AuthError, missingScope } from "../../../platform/auth/token-verifier.js";
import { problemOf, sendProblem } from "./rest/problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * Who may call the route. REST: the operation's security alternatives (each the scopes it needs; any one
     * admits), from the contract. `graphql`: a valid token; each field checks its own scopes. Unset: open.
     */
    auth?: { readonly security: readonly (readonly string[])[] } | "graphql";
  }
}

export interface GatewayAuth {
  readonly verifier: TokenVerifier;
  /** The issuer the verifier trusts: the served contract's tokenUrl is its token endpoint. */
  readonly issuer: string;
}

/** The realm every challenge names. */
const REALM = 'Bearer realm="charter"';
export const UNAUTHENTICATED_DETAIL = "a valid bearer token is required";

/** What the gateway knows of a request's caller: a principal, or why there is none. */
type Identity =
  | { readonly principal: Principal; readonly failure?: undefined }
  | { readonly principal?: undefined; readonly failure: AuthFailure; readonly tokenSent: boolean };

const identities = new WeakMap<FastifyRequest, Identity>();

/** The verified caller of a request; undefined for a request without (a valid) token, or on an open route. */
export const principalOf = (request: FastifyRequest): Principal | undefined => identities.get(request)?.principal;

/** Why a request's token was refused, for its log line; undefined when it was not refused. */
export const authFailureOf = (request: FastifyRequest): AuthFailure | undefined => identities.get(request)?.failure;

/** A route needs a token unless it has no auth, or its security lists an alternative of no scheme at all. */
function needsToken(request: FastifyRequest): boolean {
  const auth = request.routeOptions.config?.auth;
  if (auth === undefined) return false;
  if (auth === "graphql") {
    // GET /graphql without a query is the IDE's page (a redirect) or a refusal; neither reaches a resolver.
    const query = request.query as { query?: unknown } | undefined;
    return !(request.method === "GET" && query?.query === undefined);
  }
  return auth.security.length > 0 && auth.security.every((alternative) => alternative.length > 0);
}

/** The header the gateway reads the token from; a repeated one is refused as malformed. */
function authorizationOf(request: FastifyRequest): string | undefined {
  const value = request.headers.authorization;
  return Array.isArray(value) ? value.join(", ") : value;
}

/** onRequest, before the budget: verifies the token of a request whose route needs one; refuses nothing yet. */
export function identify(verifier: TokenVerifier) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!needsToken(request)) return;
    const authorization = authorizationOf(request);
    try {
      identities.set(request, { principal: await verifier.verify(authorization) });
    } catch (error) {
      const failure = error instanceof AuthError ? error.reason : "keys-unavailable";
      identities.set(request, { failure, tokenSent: authorization !== undefined && authorization !== "" });
    }
  };
}

/** The RFC 6750 challenge of a 401: the error only when a token was sent. */
export const unauthenticatedChallenge = (tokenSent: boolean): string =>
  tokenSent ? `${REALM}, error="invalid_token"` : REALM;

/** The RFC 6750 challenge of a 403 for a missing scope. */
export const insufficientScopeChallenge = (scope: string): string =>
  `${REALM}, error="insufficient_scope", scope="${scope}"`;

/** The detail of a 403, naming the scope (GraphQL errors say the same). */
export const permissionDeniedDetail = (scope: string): string => `this operation needs the scope ${scope}`;

/** The scope to name when no alternative of `security` is met by `principal`; undefined when one is. */
export function scopeMissing(principal: Principal, security: readonly (readonly string[])[]): string | undefined {
  let first: string | undefined;
  for (const alternative of security) {
    const missing = missingScope(principal, alternative);
    if (missing === undefined) return undefined;
    first ??= missing;
  }
  return first;
}

/** onRequest, after the budget: 401 without a valid token; 403 for a REST operation whose scope the token lacks. */
export function enforce() {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const identity = identities.get(request);
    if (identity === undefined || reply.sent) return undefined;
    const auth = request.routeOptions.config?.auth;
    const instance = request.url.split("?", 1)[0] ?? "/";
    if (identity.failure !== undefined) {
      reply.header("www-authenticate", unauthenticatedChallenge(identity.tokenSent));
      if (auth === "graphql") {
        return reply
          .code(401)
          .type("application/json; charset=utf-8")
          .send({ errors: [{ message: UNAUTHENTICATED_DETAIL, extensions: { code: "UNAUTHENTICATED" } }] });
      }
      return sendProblem(
        reply,
        problemOf("UNAUTHENTICATED", UNAUTHENTICATED_DETAIL, { instance, requestId: request.id }),
      );
    }
    if (auth === undefined || auth === "graphql") return undefined;
    const missing = scopeMissing(identity.principal, auth.security);
    if (missing === undefined) return undefined;
    reply.header("www-authenticate", insufficientScopeChallenge(missing));
    return sendProblem(
      reply,
      problemOf("PERMISSION_DENIED", permissionDeniedDetail(missing), { instance, requestId: request.id }),
    );
  };
}

/** The discovery document's token endpoint of `issuer`; `<issuer>/token` when discovery fails. */
async function discoverTokenEndpoint(issuer: string, timeoutMs: number): Promise<{ url: string; found: boolean }> {
  const base = issuer.replace(/\/$/, "");
  try {
    const response = await fetch(`${base}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.ok) {
      const { token_endpoint: endpoint } = (await response.json()) as { token_endpoint?: unknown };
      if (typeof endpoint === "string" && /^https?:\/\//.test(endpoint)) return { url: endpoint, found: true };
    }
  } catch {
    // Unreachable or not JSON: the conventional path below, and another try later.
  }
  return { url: `${base}/token`, found: false };
}

/**
 * The issuer's token endpoint, discovered on first use and kept; a failed discovery answers `<issuer>/token` and is
 * tried again after `retryMs`.
 */
export function tokenEndpointOf(issuer: string, options: { timeoutMs?: number; retryMs?: number } = {}) {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const retryMs = options.retryMs ?? 30_000;
  let cached: Promise<{ url: string; found: boolean }> | undefined;
  let failedAt = 0;
  return async (): Promise<string> => {
    if (cached === undefined || (failedAt > 0 && Date.now() - failedAt > retryMs)) {
      failedAt = 0;
      cached = discoverTokenEndpoint(issuer, timeoutMs).then((result) => {
        if (!result.found) failedAt = Date.now();
        return result;
      });
    }
    return (await cached).url;
  };
}

/** A copy of the document whose oauth2 flows name `tokenUrl` as their token endpoint. */
export function withTokenUrl<D extends object>(document: D, tokenUrl: string): D {
  const copy = structuredClone(document) as D & {
    components?: { securitySchemes?: Record<string, { type?: string; flows?: Record<string, { tokenUrl?: string }> }> };
  };
  for (const scheme of Object.values(copy.components?.securitySchemes ?? {})) {
    if (scheme.type !== "oauth2") continue;
    for (const flow of Object.values(scheme.flows ?? {})) {
      if (flow.tokenUrl !== undefined) flow.tokenUrl = tokenUrl;
    }
  }
  return copy;
}
