/**
 * clientCredentials against a real development issuer (oidc-provider on a free port): the token it gives is the
 * issuer's, for the audience and scopes asked; it is reused until shortly before it expires (a clock the test
 * moves), then replaced; callers asking together share one token request; a refusal is a TokenRequestError that
 * does not carry the secret.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { clientCredentials, isTokenRequestError } from "charter/sdk";
import { decodeJwt } from "jose";
import { type DevIssuer, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";

const TTL_S = 60;

describe("clientCredentials, against the development issuer", () => {
  let issuer: DevIssuer;
  let tokenRequests = 0;
  const counting = (request: Request) => {
    tokenRequests++;
    return fetch(request);
  };

  before(async () => {
    issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES, tokenTtlS: TTL_S });
  });
  after(async () => {
    await issuer?.close();
  });

  const provider = (now: () => number, scopes: readonly string[] = ["users:read"]) =>
    clientCredentials({
      tokenUrl: issuer.tokenEndpoint,
      clientId: "charter-dev",
      clientSecret: "charter-dev-secret",
      scopes,
      audience: issuer.audience,
      fetch: counting,
      now,
    });

  test("the token is the issuer's, for the API's audience, with the scopes asked", async () => {
    const token = await provider(Date.now, ["users:read", "users:write"])();
    const claims = decodeJwt(token);
    assert.equal(claims.iss, issuer.issuer);
    assert.equal(claims.aud, issuer.audience);
    assert.equal(claims.sub, "charter-dev");
    assert.deepEqual(String(claims.scope).split(" ").sort(), ["users:read", "users:write"]);
  });

  test("a token is reused until 10 % of its lifetime is left, then a new one is fetched", async () => {
    let clock = 1_000_000;
    const token = provider(() => clock);
    const before = tokenRequests;
    const first = await token();
    assert.equal(tokenRequests, before + 1);

    clock += (TTL_S - 7) * 1000; // 7 s left of 60: more than 10 %
    assert.equal(await token(), first, "still fresh: the same token, no request");
    assert.equal(tokenRequests, before + 1);

    clock += 2000; // 5 s left: under 10 %
    const second = await token();
    assert.equal(tokenRequests, before + 2, "near its expiry the token is replaced");
    assert.notEqual(second, first);
    assert.equal(await token(), second, "and the new one is reused");
    assert.equal(tokenRequests, before + 2);
  });

  test("callers asking at the same time share one token request", async () => {
    const token = provider(Date.now);
    const before = tokenRequests;
    const tokens = await Promise.all(Array.from({ length: 10 }, () => token()));
    assert.equal(tokenRequests, before + 1);
    assert.equal(new Set(tokens).size, 1);
  });

  test("a refused request is a TokenRequestError with the OAuth error, without the secret; the next call asks again", async () => {
    const wrong = clientCredentials({
      tokenUrl: issuer.tokenEndpoint,
      clientId: "charter-dev",
      clientSecret: "not-the-secret",
      fetch: counting,
    });
    const before = tokenRequests;
    for (const attempt of [1, 2]) {
      const error = await wrong().then(
        () => assert.fail("a wrong secret got a token"),
        (e: unknown) => e,
      );
      assert.ok(isTokenRequestError(error), String(error));
      assert.equal(error.status, 401);
      assert.equal(error.error, "invalid_client");
      assert.doesNotMatch(error.message, /not-the-secret/);
      assert.equal(tokenRequests, before + attempt, "a failure is not cached");
    }
  });

  test("a scope the client may not have is refused (invalid_scope)", async () => {
    const reader = clientCredentials({
      tokenUrl: issuer.tokenEndpoint,
      clientId: "charter-reader",
      clientSecret: "charter-reader-secret",
      scopes: ["users:write"],
    });
    const error = await reader().then(
      () => assert.fail("the reader got users:write"),
      (e: unknown) => e,
    );
    assert.ok(isTokenRequestError(error));
    assert.equal(error.error, "invalid_scope");
  });
});
