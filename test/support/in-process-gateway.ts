/**
 * The gateway built in-process for unit tests (Fastify inject): backends that are never reached, and the gateway's
 * options around them. A test that needs one backend call to answer overrides just that method. Its tokens are
 * checked against a local key set made here (`keys`), and `bearer()` signs one with it as an issuer would.
 */
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { DEFAULT_AUDIENCE } from "../../platform/auth/auth-config.js";
import { API_SCOPES } from "../../platform/auth/scopes.js";
import { createTokenVerifier } from "../../platform/auth/token-verifier.js";
import { createLogger } from "../../platform/logging.js";
import { createAuditBackend } from "../../services/gateway/adapters/audit-backend.js";
import type { AuditBackend, UsersBackend } from "../../services/gateway/app/backends.js";
import type { GatewayOptions } from "../../services/gateway/app.js";
import { loadOpenApiDocument } from "../../services/gateway/transport/rest/openapi-document.js";

const unreachable = async (): Promise<never> => {
  throw new Error("not called in these tests");
};

/** The in-process gateway's issuer: nothing listens there (the served tokenUrl falls back to <issuer>/token). */
export const TEST_ISSUER = "http://127.0.0.1:9/issuer";
const signing = await generateKeyPair("ES256");
const publicJwk = { ...(await exportJWK(signing.publicKey)), kid: "in-process", alg: "ES256", use: "sig" };
/** The public key set the in-process gateway trusts. */
export const testKeys = { keys: [publicJwk] };

/** A token of the in-process issuer for `scopes` (default: all of the API's), subject `sub`; `claims` override. */
export async function signToken(
  options: { scopes?: readonly string[]; sub?: string; claims?: JWTPayload } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: TEST_ISSUER,
    aud: DEFAULT_AUDIENCE,
    sub: options.sub ?? "in-process-client",
    iat: now,
    exp: now + 600,
    scope: (options.scopes ?? API_SCOPES).join(" "),
    client_id: "in-process",
    ...options.claims,
  })
    .setProtectedHeader({ alg: "ES256", kid: "in-process", typ: "at+jwt" })
    .sign(signing.privateKey);
}

/** `Bearer <token>` of the in-process issuer (see signToken). */
export const bearer = async (options: Parameters<typeof signToken>[0] = {}): Promise<string> =>
  `Bearer ${await signToken(options)}`;

/** The in-process gateway's auth: a verifier of the local key set. */
export const inProcessAuth = () => ({
  issuer: TEST_ISSUER,
  verifier: createTokenVerifier({
    issuer: TEST_ISSUER,
    audience: DEFAULT_AUDIENCE,
    keys: testKeys,
    clockSkewS: 30,
    jwksCacheMs: 600_000,
    jwksCooldownMs: 30_000,
  }),
});

/** A users backend whose calls all fail as not expected; healthy, its breaker closed. */
export function offlineUsers(overrides: Partial<UsersBackend> = {}): UsersBackend {
  return {
    getUser: unreachable,
    listUsers: unreachable,
    createUser: unreachable,
    updateUser: unreachable,
    deleteUser: unreachable,
    batchGetUsers: unreachable,
    lookupUser: unreachable,
    health: async () => "SERVING",
    breakerState: () => "closed",
    isolate: () => () => {},
    close: () => {},
    ...overrides,
  };
}

/** A real audit client of an address where nothing listens: these tests never ask for a history. */
export const offlineAudit = (): AuditBackend => createAuditBackend({ target: "127.0.0.1:9", deadlineMs: 100 });

/** The gateway's options with offline backends, the contract, a silent logger, a 64 KiB body limit, docs on. */
export function inProcessGatewayOptions(overrides: Partial<GatewayOptions> = {}): GatewayOptions {
  return {
    users: overrides.users ?? offlineUsers(),
    audit: overrides.audit ?? offlineAudit(),
    document: loadOpenApiDocument(),
    logger: createLogger("gateway", "silent"),
    auth: inProcessAuth(),
    bodyLimit: 65536,
    corsOrigins: [],
    docs: true,
    ...overrides,
  };
}
