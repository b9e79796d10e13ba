/**
 * The token verifier against hostile tokens, with a key set served over loopback HTTP as an issuer serves it
 * (discovery document and JWKS, keys rotated and retired by the test), and times judged by an injected clock.
 * Every refusal is the same AuthError message; the reason (for the logs) tells which check refused it.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import {
  AuthError,
  type AuthFailure,
  createTokenVerifier,
  MAX_TOKEN_BYTES,
  missingScope,
  type TokenVerifier,
} from "./token-verifier.js";

const AUDIENCE = "urn:charter:api";

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** The published keys; the tests rotate and retire them. */
let published: Key[] = [];
let jwksFetches = 0;
const server = createServer((req, res) => {
  const { port } = server.address() as AddressInfo;
  if (req.url === "/.well-known/openid-configuration") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ issuer: `http://127.0.0.1:${port}`, jwks_uri: `http://127.0.0.1:${port}/jwks` }));
  } else if (req.url === "/jwks") {
    jwksFetches++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  } else {
    res.writeHead(404).end();
  }
});
let issuer = "";
let first: Key;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  first = await newKey("key-1");
  published = [first];
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The clock the verifiers judge times by; the tests move it. */
let now = new Date();

function verifier(options: { cacheMs?: number } = {}): TokenVerifier {
  return createTokenVerifier({
    issuer,
    audience: AUDIENCE,
    clockSkewS: 30,
    jwksCacheMs: options.cacheMs ?? 600_000,
    jwksCooldownMs: 0,
    currentDate: () => now,
  });
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** A token as the issuer signs one (RS256, kid, iss, aud, sub, exp in ten minutes), with `claims` on top. */
async function token(
  options: { key?: Key; claims?: JWTPayload; header?: Record<string, unknown>; iss?: string; aud?: string } = {},
) {
  const key = options.key ?? first;
  return new SignJWT({ scope: "users:read users:write", ...options.claims })
    .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "at+jwt", ...options.header })
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? AUDIENCE)
    .setSubject("client-1")
    .setIssuedAt(seconds(now))
    .setExpirationTime(seconds(now) + 600)
    .sign(key.privateKey);
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Asserts the header is refused with the generic message, for `reason`. */
async function refused(v: TokenVerifier, authorization: string | undefined, reason: AuthFailure) {
  await assert.rejects(v.verify(authorization), (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.message, "a valid bearer token is required");
    assert.equal(error.reason, reason, `refused for ${error.reason}, expected ${reason}`);
    return true;
  });
}

describe("a token of the issuer", () => {
  test("is accepted: subject, scopes, client id and expiry", async () => {
    now = new Date();
    const principal = await verifier().verify(`Bearer ${await token({ claims: { client_id: "charter-dev" } })}`);
    assert.equal(principal.subject, "client-1");
    assert.deepEqual([...principal.scopes].sort(), ["users:read", "users:write"]);
    assert.equal(principal.clientId, "charter-dev");
    assert.equal(principal.expiresAt, seconds(now) + 600);
    // The scheme is case-insensitive (RFC 6750).
    assert.equal((await verifier().verify(`bearer ${await token()}`)).subject, "client-1");
  });
});

describe("hostile tokens are refused with the same message", () => {
  test("no header, another scheme, an empty token", async () => {
    const v = verifier();
    await refused(v, undefined, "missing");
    await refused(v, "", "missing");
    await refused(v, `Basic ${b64("a:b")}`, "not-bearer");
    await refused(v, "Bearer ", "not-bearer");
    await refused(v, `Bearer ${await token()} extra`, "not-bearer");
  });

  test("alg none, signed or not", async () => {
    const v = verifier();
    const claims = { iss: issuer, aud: AUDIENCE, sub: "client-1", scope: "users:write", exp: seconds(now) + 600 };
    await refused(v, `Bearer ${b64({ alg: "none" })}.${b64(claims)}.`, "malformed");
    await refused(v, `Bearer ${b64({ alg: "none", kid: first.kid })}.${b64(claims)}.c2ln`, "algorithm");
  });

  test("HS256 signed with the issuer's public key (key confusion)", async () => {
    const pem = new TextEncoder().encode(await exportSPKI(first.publicKey));
    const forged = await new SignJWT({ scope: "users:write" })
      .setProtectedHeader({ alg: "HS256", kid: first.kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject("client-1")
      .setExpirationTime(seconds(now) + 600)
      .sign(pem);
    await refused(verifier(), `Bearer ${forged}`, "algorithm");
    // The JWK's own bytes as the secret are refused the same way.
    const jwkSecret = new TextEncoder().encode(JSON.stringify(first.jwk));
    const forged2 = await new SignJWT({ scope: "users:write" })
      .setProtectedHeader({ alg: "HS256", kid: first.kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject("client-1")
      .setExpirationTime(seconds(now) + 600)
      .sign(jwkSecret);
    await refused(verifier(), `Bearer ${forged2}`, "algorithm");
  });

  test("expired, beyond the clock skew; within it, accepted", async () => {
    now = new Date();
    const t = `Bearer ${await token()}`;
    const v = verifier();
    now = new Date(Date.now() + 600_000 + 20_000); // 20 s past exp: within the 30 s skew
    assert.equal((await v.verify(t)).subject, "client-1");
    now = new Date(Date.now() + 600_000 + 31_000);
    await refused(v, t, "expired");
    now = new Date();
  });

  test("not yet valid (nbf in the future, beyond the skew)", async () => {
    now = new Date();
    await refused(verifier(), `Bearer ${await token({ claims: { nbf: seconds(now) + 120 } })}`, "not-yet-valid");
    assert.ok(await verifier().verify(`Bearer ${await token({ claims: { nbf: seconds(now) + 10 } })}`));
  });

  test("another issuer, another audience, no subject, no expiry", async () => {
    const v = verifier();
    await refused(v, `Bearer ${await token({ iss: "http://127.0.0.1:1" })}`, "claims");
    await refused(v, `Bearer ${await token({ iss: `${issuer}/` })}`, "claims");
    await refused(v, `Bearer ${await token({ aud: "urn:another:api" })}`, "claims");
    const noSub = await new SignJWT({ scope: "users:write" })
      .setProtectedHeader({ alg: "RS256", kid: first.kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setExpirationTime(seconds(now) + 600)
      .sign(first.privateKey);
    await refused(v, `Bearer ${noSub}`, "claims");
    const noExp = await new SignJWT({ scope: "users:write" })
      .setProtectedHeader({ alg: "RS256", kid: first.kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject("client-1")
      .sign(first.privateKey);
    await refused(v, `Bearer ${noExp}`, "claims");
  });

  test("an unknown kid, a kid that is a path or a URL, a key the issuer never published", async () => {
    const v = verifier();
    const stranger = await newKey("key-1"); // the published kid, another key: the signature fails
    await refused(v, `Bearer ${await token({ key: stranger })}`, "signature");
    for (const kid of ["nobody", "../../etc/passwd", "file:///etc/passwd", `${issuer}/jwks`, "http://evil.test/k"]) {
      await refused(v, `Bearer ${await token({ header: { kid } })}`, "unknown-key");
    }
    // A jku or x5u header is not followed: the key still comes from the issuer's set.
    await refused(v, `Bearer ${await token({ key: stranger, header: { jku: "http://evil.test/jwks" } })}`, "signature");
  });

  test("oversized, and malformed base64 or JSON", async () => {
    const v = verifier();
    const big = await token({ claims: { pad: "x".repeat(MAX_TOKEN_BYTES) } });
    await refused(v, `Bearer ${big}`, "oversized");
    const [h, p, s] = (await token()).split(".");
    await refused(v, `Bearer ${h}.${p}!.${s}`, "malformed");
    await refused(v, `Bearer ${h}.${p}`, "malformed");
    // A payload that is not JSON is never read: the signature over it fails first.
    await refused(v, `Bearer ${h}.${b64("not json")}.${s}`, "signature");
    await refused(v, `Bearer ${b64("{")}.${p}.${s}`, "malformed");
    await refused(v, `Bearer ${h}.${p}.${s}.${s}`, "malformed");
  });
});

describe("scopes compare exactly", () => {
  test("near misses of users:write grant nothing", async () => {
    const v = verifier();
    const holds = async (claims: JWTPayload) =>
      missingScope(await v.verify(`Bearer ${await token({ claims })}`), ["users:write"]) === undefined;
    assert.equal(await holds({ scope: "users:read users:write" }), true);
    assert.equal(await holds({ scope: "users:writer" }), false);
    assert.equal(await holds({ scope: "users:writ" }), false);
    assert.equal(await holds({ scope: "USERS:WRITE" }), false);
    assert.equal(await holds({ scope: "users:read,users:write" }), false);
    assert.equal(await holds({ scope: "users:read+users:write" }), false);
    assert.equal(await holds({ scope: " users:write\t" }), false);
    assert.equal(await holds({ scope: ["users:write"] }), false, "scope must be a string");
    assert.equal(await holds({ scope: undefined, scp: "users:write" }), false, "scp must be a list");
    assert.equal(await holds({ scope: "users:read", scp: ["users:write"] }), false, "scope wins over scp");
    assert.equal(await holds({ scope: undefined, scp: ["users:write"] }), true);
    assert.equal(await holds({ scope: undefined, scp: [["users:write"]] }), false);
  });
});

describe("key rotation", () => {
  test("a token of a new key is accepted without a restart; one of a retired key is refused once the cache refreshes", async () => {
    now = new Date();
    const v = verifier({ cacheMs: 100 });
    const old = `Bearer ${await token()}`;
    assert.ok(await v.verify(old));
    const second = await newKey("key-2");
    published = [first, second];
    const fresh = `Bearer ${await token({ key: second })}`;
    const before = jwksFetches;
    assert.equal((await v.verify(fresh)).subject, "client-1", "the new kid fetches the key set again");
    assert.ok(jwksFetches > before);
    assert.ok(await v.verify(old), "the old key is still published");
    published = [second];
    await sleep(150); // past the 100 ms cache
    await refused(v, old, "unknown-key");
    assert.ok(await v.verify(fresh));
    published = [first];
  });

  test("an issuer that cannot be reached refuses every token, and is asked again later", async () => {
    const v = createTokenVerifier({
      issuer: "http://127.0.0.1:9",
      audience: AUDIENCE,
      clockSkewS: 30,
      jwksCacheMs: 1000,
      jwksCooldownMs: 0,
      fetchTimeoutMs: 500,
    });
    await refused(v, `Bearer ${await token()}`, "keys-unavailable");
    await refused(v, `Bearer ${await token()}`, "keys-unavailable");
  });
});
