/**
 * The request budget on real processes: a burst past it is 429 with Retry-After and the RateLimit fields, each
 * response checked against the contract (test/support/openapi-validator.ts); health, readiness, metrics, the
 * contract and the docs are never limited; GraphQL draws on the same budget; and two gateways on one real Redis
 * share one budget, kept per token subject: two subjects have budgets of their own, two tokens of one subject share
 * one. One users service behind three gateways, each with a small budget of its own.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type RunningServer, startRedis } from "../scripts/infra/index.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { GATEWAY_ENTRY, otherServicesOffline, USERS_ENTRY } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const validator = createOpenApiValidator();
const BUDGET = 5;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const headers = { authorization, ...(init.headers as Record<string, string> | undefined) };
  const response = await fetch(url, { ...init, headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** `"gateway";r=4;t=60` → { r: 4, t: 60 }. */
function rateLimitOf(answer: Answer): { r: number; t: number } {
  const match = /^"gateway";r=(\d+);t=(\d+)$/.exec(answer.headers.get("ratelimit") ?? "");
  assert.ok(match, `a RateLimit field: ${answer.headers.get("ratelimit")}`);
  return { r: Number(match[1]), t: Number(match[2]) };
}

describe("the request budget on real processes", { timeout: 120_000 }, () => {
  let redis: RunningServer | undefined;
  let users: ServiceProcess | undefined;
  const gateways: ServiceProcess[] = [];
  let alone = "";
  let sharedA = "";
  let sharedB = "";

  before(async () => {
    [redis, users] = await Promise.all([
      startRedis(),
      startService(
        USERS_ENTRY,
        { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
        "users service ready",
      ),
    ]);
    const gateway = (env: Record<string, string>) =>
      startService(
        GATEWAY_ENTRY,
        {
          GATEWAY_PORT: "0",
          GATEWAY_HOST: "127.0.0.1",
          ...issuer.env,
          ...otherServicesOffline(),
          USERS_ADDR: `127.0.0.1:${users?.ready.grpcPort}`,
          GATEWAY_RATE_LIMIT_WINDOW_MS: "60000",
          ...env,
        },
        "gateway ready",
      );
    const started = await Promise.all([
      gateway({ GATEWAY_RATE_LIMIT_MAX: String(BUDGET) }),
      gateway({ GATEWAY_RATE_LIMIT_MAX: "6", REDIS_URL: redis.url }),
      gateway({ GATEWAY_RATE_LIMIT_MAX: "6", REDIS_URL: redis.url }),
    ]);
    gateways.push(...started);
    [alone = "", sharedA = "", sharedB = ""] = started.map((g) => `http://127.0.0.1:${g.ready.port}`);
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await users?.stop();
    await redis?.stop();
  });

  test("a burst past the budget is 429 with Retry-After and RateLimit, as the contract documents it", async () => {
    const remaining: number[] = [];
    for (let i = 0; i < BUDGET; i++) {
      const answer = await call(`${alone}/v1/users?pageSize=1`);
      assert.deepEqual(validator.check("listUsers", answer), [], answer.text);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("ratelimit-policy"), `"gateway";q=${BUDGET};w=60`);
      remaining.push(rateLimitOf(answer).r);
    }
    assert.deepEqual(remaining, [4, 3, 2, 1, 0]);

    const refused = await call(`${alone}/v1/users?pageSize=1`);
    assert.equal(refused.status, 429, refused.text);
    assert.deepEqual(validator.check("listUsers", refused), [], "the 429 is the contract's TooManyRequests");
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
    assert.deepEqual(rateLimitOf(refused), { r: 0, t: retryAfter });
    const problem = JSON.parse(refused.text) as { code: string; requestId: string };
    assert.equal(problem.code, "RESOURCE_EXHAUSTED");
    assert.equal(problem.requestId, refused.headers.get("x-request-id"));

    // Every operation and protocol draws on the one budget.
    const create = await call(`${alone}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Too Many", email: "too.many@example.com" }),
    });
    assert.equal(create.status, 429);
    assert.deepEqual(validator.check("createUser", create), []);
    const graphql = await call(`${alone}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ users(first: 1) { edges { node { id } } } }" }),
    });
    assert.equal(graphql.status, 429);
    assert.equal(JSON.parse(graphql.text).errors[0].extensions.code, "RESOURCE_EXHAUSTED");
  });

  test("health, readiness, metrics, the contract and the docs are never limited", async () => {
    // The budget of this client is spent by the test before (and by this loop if not).
    for (let i = 0; i <= BUDGET; i++) await call(`${alone}/v1/users/1`);
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs/", "/graphiql"]) {
      for (let i = 0; i < BUDGET + 2; i++) {
        const answer = await call(`${alone}${path}`);
        assert.equal(answer.status, 200, `${path}: ${answer.text.slice(0, 200)}`);
        assert.equal(answer.headers.get("ratelimit"), null, `${path} draws nothing from the budget`);
      }
    }
  });

  test("two gateways on one Redis share one budget", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await call(`${i % 2 === 0 ? sharedA : sharedB}/v1/users?pageSize=1`);
      assert.equal(answer.status, 200, answer.text);
      seen.push(`${i % 2 === 0 ? "A" : "B"}:${rateLimitOf(answer).r}`);
    }
    assert.deepEqual(seen, ["A:5", "B:4", "A:3", "B:2", "A:1", "B:0"], "one count across both gateways");
    for (const base of [sharedA, sharedB]) {
      const refused = await call(`${base}/v1/users?pageSize=1`);
      assert.equal(refused.status, 429, `${base} refuses once the shared budget is spent`);
      assert.deepEqual(validator.check("listUsers", refused), []);
    }
  });

  test("on the shared Redis the budget is the token subject's: another subject has its own, another token of the same subject shares it", async () => {
    // The test before spent charter-dev's shared budget (6) on A and B.
    const again = `Bearer ${await issuer.tokenWith()}`;
    assert.notEqual(again, authorization, "a second token of the same client");
    for (const base of [sharedA, sharedB]) {
      const sameSubject = await call(`${base}/v1/users?pageSize=1`, { headers: { authorization: again } });
      assert.equal(sameSubject.status, 429, "a new token of the same subject draws on the spent budget");
    }
    const reader = issuer.clients[1];
    assert.ok(reader);
    const readerTokens = [`Bearer ${await issuer.token(reader)}`, `Bearer ${await issuer.token(reader)}`];
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await call(`${i % 2 === 0 ? sharedA : sharedB}/v1/users?pageSize=1`, {
        headers: { authorization: readerTokens[i % 2] ?? "" },
      });
      assert.equal(answer.status, 200, `charter-reader has a budget of its own: ${answer.text}`);
      seen.push(String(rateLimitOf(answer).r));
    }
    assert.deepEqual(
      seen,
      ["5", "4", "3", "2", "1", "0"],
      "both of charter-reader's tokens, on both gateways, share one",
    );
    const spent = await call(`${sharedA}/v1/users?pageSize=1`, { headers: { authorization: readerTokens[0] ?? "" } });
    assert.equal(spent.status, 429);
    // Without a token the address's budget is drawn: untouched by the subjects', the answer is the 401.
    const anonymous = await call(`${sharedB}/v1/users?pageSize=1`, { headers: { authorization: "" } });
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.deepEqual(validator.check("listUsers", anonymous), []);
    assert.equal(rateLimitOf(anonymous).r, 5);
  });
});
