/**
 * The service-side check on its own: a verifier over a fixed key set (jose, the real one), tokens signed here. What
 * the check answers for a missing, repeated, foreign or under-scoped token, and for a method the contracts do not
 * know; the end-to-end run over gRPC is test/users-grpc-auth.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { methodScopes } from "../../generated/proto/method-rules.js";
import { createGrpcAuthorizer, GrpcAuthError } from "./grpc-auth.js";
import { createTokenVerifier } from "./token-verifier.js";

const issuer = "https://issuer.test";
const audience = "urn:charter:api";
const trusted = await generateKeyPair("RS256", { extractable: true });
const stranger = await generateKeyPair("RS256");
const jwk = { ...(await exportJWK(trusted.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
const authorize = createGrpcAuthorizer(
  createTokenVerifier({ issuer, audience, keys: { keys: [jwk] }, clockSkewS: 0, jwksCacheMs: 0, jwksCooldownMs: 0 }),
);

const sign = (sub: string, scope: string, key = trusted.privateKey) =>
  new SignJWT({ scope })
    .setProtectedHeader({ alg: "RS256", kid: "k1", typ: "at+jwt" })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
const metadata = (...values: string[]) => {
  const m = new Metadata();
  for (const value of values) m.add("authorization", value);
  return m;
};
const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GrpcAuthError, String(error));
    return { code: error.code, message: error.message, reason: error.details.reason, why: error.logReason };
  }
  assert.fail("the call was let through");
};
const GET = "charter.users.v1.UsersService/GetUser";

test("the scopes come from the contracts: GetUser needs users:read", () => {
  assert.deepEqual(methodScopes[GET], ["users:read"]);
});

test("no token, two of them, or a token signed by another key: UNAUTHENTICATED, one message, the reason for the log", async () => {
  const token = await sign("charter-dev", "users:read");
  const forged = await sign("someone-else", "users:read users:write users:history", stranger.privateKey);
  for (const [m, why] of [
    [new Metadata(), "missing"],
    [metadata(`Bearer ${token}`, `Bearer ${token}`), "missing"],
    [metadata(`Bearer ${forged}`), "signature"],
    [metadata(`Basic ${Buffer.from("a:b").toString("base64")}`), "not-bearer"],
  ] as const) {
    assert.deepEqual(await refusal(authorize(GET, m)), {
      code: "UNAUTHENTICATED",
      message: "a valid bearer token is required",
      reason: "INVALID_TOKEN",
      why,
    });
  }
});

test("a valid token without the scope: PERMISSION_DENIED naming it; with it, the caller", async () => {
  const writer = await sign("charter-writer", "users:write");
  assert.deepEqual(await refusal(authorize(GET, metadata(`Bearer ${writer}`))), {
    code: "PERMISSION_DENIED",
    message: "this operation needs the scope users:read",
    reason: "INSUFFICIENT_SCOPE",
    why: "insufficient-scope",
  });
  const reader = await sign("charter-reader", "users:read");
  const caller = await authorize(GET, metadata(`Bearer ${reader}`));
  assert.equal(caller.subject, "charter-reader");
});

test("a method the contracts give no scope rule is refused, whatever the token grants", async () => {
  const all = await sign("charter-dev", "users:read users:write users:history");
  const denied = await refusal(authorize("charter.users.v1.UsersService/DropEverything", metadata(`Bearer ${all}`)));
  assert.equal(denied.code, "PERMISSION_DENIED");
  assert.equal(denied.why, "no-rule");
});
