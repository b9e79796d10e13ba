/**
 * The request budget in-process (Fastify inject, no users service): the key (the token's subject, or the address), the
 * RateLimit fields as the IETF draft writes them, a 429 problem past the budget, the exempt routes, and what a
 * GraphQL operation costs by its size. The contract-checked burst, and two gateways on one Redis, are in
 * test/gateway-rate-limit.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "graphql";
import { Registry } from "prom-client";
import { AppError } from "../../../platform/errors.js";
import {
  bearer,
  inProcessGatewayOptions,
  offlineAudit,
  offlineUsers,
} from "../../../test/support/in-process-gateway.js";
import { buildGateway } from "../app.js";
import { registerGraphql } from "./graphql/index.js";
import { countFields, queryCost } from "./graphql/query-cost.js";
import { budgetKey } from "./rate-limit.js";

// Every id is unknown: user(id:) resolves to null without a users service; getUser is NOT_FOUND.
const users = offlineUsers({
  batchGetUsers: async () => ({ users: [] }),
  getUser: async () => {
    throw new AppError("NOT_FOUND", "no such user");
  },
});
const authorization = await bearer();
const audit = offlineAudit();

const gateway = (max: number) =>
  buildGateway(
    inProcessGatewayOptions({
      users,
      audit,
      rateLimit: { max, windowMs: 60_000 },
      metrics: new Registry(),
      plugins: [
        (app, { budget }) => registerGraphql(app, { users, audit, graphiql: true, ...(budget ? { budget } : {}) }),
      ],
    }),
  );

/** `"gateway";r=7;t=60` → { r: 7, t: 60 }. */
function fieldOf(header: unknown): Record<string, number> {
  const match = /^"gateway"((?:;[a-z]+=\d+)+)$/.exec(String(header));
  assert.ok(match?.[1], `a RateLimit field of the "gateway" policy: ${String(header)}`);
  return Object.fromEntries(
    match[1]
      .slice(1)
      .split(";")
      .map((p) => p.split("=") as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
}

describe("budgetKey", () => {
  test("keys anonymous calls by address, IPv6 by its /64, and an authenticated subject by itself", () => {
    assert.equal(budgetKey("127.0.0.1"), "ip:127.0.0.1");
    assert.equal(budgetKey("::ffff:10.1.2.3"), "ip:10.1.2.3");
    assert.equal(budgetKey("2001:db8:1:2:aaaa::1"), budgetKey("2001:db8:1:2:bbbb::9"));
    assert.notEqual(budgetKey("2001:db8:1:2::1"), budgetKey("2001:db8:1:3::1"));
    assert.equal(budgetKey("127.0.0.1", "user-42"), "sub:user-42");
  });
});

describe("the budget on the gateway", () => {
  test("each request draws one unit; past the budget a 429 problem with Retry-After and RateLimit", async () => {
    const app = await gateway(3);
    try {
      const seen = [];
      for (let i = 0; i < 3; i++) {
        const res = await app.inject({ method: "GET", url: "/v1/nothing-here" });
        assert.equal(res.statusCode, 404, "a request no route takes still draws on the budget");
        assert.deepEqual(fieldOf(res.headers["ratelimit-policy"]), { q: 3, w: 60 });
        seen.push(fieldOf(res.headers.ratelimit).r);
      }
      assert.deepEqual(seen, [2, 1, 0]);
      const refused = await app.inject({ method: "GET", url: "/v1/users/1" });
      assert.equal(refused.statusCode, 429);
      assert.match(String(refused.headers["content-type"]), /^application\/problem\+json/);
      const retryAfter = Number(refused.headers["retry-after"]);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.deepEqual(fieldOf(refused.headers.ratelimit), { r: 0, t: retryAfter });
      const problem = refused.json() as { code: string; status: number; type: string; instance: string };
      assert.equal(problem.code, "RESOURCE_EXHAUSTED");
      assert.equal(problem.status, 429);
      assert.equal(problem.instance, "/v1/users/1");
    } finally {
      await app.close();
    }
  });

  test("health, readiness, metrics, the contract and the docs are never limited", async () => {
    const app = await gateway(1);
    try {
      await app.inject({ method: "GET", url: "/v1/users/1" });
      assert.equal((await app.inject({ method: "GET", url: "/v1/users/1" })).statusCode, 429);
      for (const url of [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/static/index.html",
        "/graphiql",
      ]) {
        for (let i = 0; i < 3; i++) {
          const res = await app.inject({ method: "GET", url });
          assert.ok(res.statusCode < 400, `${url} answers ${res.statusCode}`);
          assert.equal(res.headers.ratelimit, undefined, `${url} draws nothing`);
        }
      }
    } finally {
      await app.close();
    }
  });

  test("a GraphQL operation costs by its size, and past the budget is a GraphQL 429", async () => {
    const app = await gateway(100);
    const remaining = async (query: string): Promise<number> => {
      const res = await app.inject({ method: "POST", url: "/graphql", payload: { query }, headers: { authorization } });
      assert.equal(res.statusCode, 200, res.body);
      return fieldOf(res.headers.ratelimit).r ?? -1;
    };
    try {
      const start = await remaining("{ user(id: 1) { id name email } }");
      assert.equal(start, 99, "a small query costs one unit, as a REST call does");
      // 60 aliased lookups of 4 fields each: 300 fields, 30 units.
      const big = `{ ${Array.from({ length: 60 }, (_, i) => `u${i}: user(id: ${i + 1}) { id name email etag }`).join(" ")} }`;
      assert.equal(await remaining(big), start - 30);
      assert.equal(
        await remaining("{ __schema { types { name fields { name } } } }"),
        start - 31,
        "introspection is 1",
      );

      const spent = await gateway(20);
      try {
        const res = await spent.inject({
          method: "POST",
          url: "/graphql",
          payload: { query: big },
          headers: { authorization },
        });
        assert.equal(res.statusCode, 429);
        assert.ok(Number(res.headers["retry-after"]) >= 1);
        const body = res.json() as { errors: { extensions: { code: string; reason: string } }[] };
        assert.deepEqual(body.errors[0]?.extensions, { code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED" });
      } finally {
        await spent.close();
      }
    } finally {
      await app.close();
    }
  });
});

describe("the budget per caller", () => {
  test("two subjects have budgets of their own, one subject's tokens share one, the anonymous the address's", async () => {
    const app = await gateway(2);
    const get = async (headers: Record<string, string>) =>
      (await app.inject({ method: "GET", url: "/v1/users/1", headers })).statusCode;
    try {
      const ada = { authorization: await bearer({ sub: "ada" }) };
      const adaAgain = { authorization: await bearer({ sub: "ada", scopes: ["users:read"] }) };
      const bob = { authorization: await bearer({ sub: "bob" }) };
      assert.equal(await get(ada), 404);
      assert.equal(await get(adaAgain), 404, "another token of the same subject draws on the same budget");
      assert.equal(await get(ada), 429, "ada's budget of 2 is spent");
      assert.equal(await get(adaAgain), 429);
      assert.equal(await get(bob), 404, "bob's budget is his own");
      assert.equal(await get(bob), 404);
      assert.equal(await get(bob), 429);
      // Without a (valid) token the address's budget is drawn, untouched by the subjects': 401 twice, then 429.
      assert.equal(await get({}), 401);
      assert.equal(await get({ authorization: "Bearer not.a.token" }), 401);
      assert.equal(await get({}), 429, "refused tokens draw on the address's budget too");
      assert.equal(await get({ authorization: await bearer({ sub: "carol" }) }), 404, "a new subject is not limited");
    } finally {
      await app.close();
    }
  });
});

describe("queryCost", () => {
  const limits = { maxFields: 1000, maxTokens: 10_000 };
  test("counts fields with fragments expanded, introspection aside, one unit per ten started", () => {
    const query = "query Q { users { ...page } } fragment page on UserConnection { edges { node { id name } } }";
    assert.equal(countFields(parse(query), undefined, 1000), 5);
    assert.equal(queryCost(query, undefined, limits), 1);
    assert.equal(queryCost("{ __typename }", undefined, limits), 1);
    assert.equal(queryCost(`{ ${"a: __typename ".repeat(5)} x1: user(id: 1) { id } }`, undefined, limits), 1);
    const wide = `{ ${Array.from({ length: 11 }, (_, i) => `u${i}: user(id: ${i}) { id }`).join(" ")} }`;
    assert.equal(queryCost(wide, undefined, limits), 3, "22 fields: three units");
  });

  test("an unreadable query costs 1, the named operation is the one counted, a fragment bomb stops at the cap", () => {
    assert.equal(queryCost("{ users {", undefined, limits), 1);
    assert.equal(queryCost(undefined, undefined, limits), 1);
    const two = "query A { user(id: 1) { id } } query B { users { edges { node { id name email etag } } } }";
    assert.equal(countFields(parse(two), "B", 1000), 7);
    assert.equal(countFields(parse(two), undefined, 1000), 0, "two operations and no name: GraphQL refuses it");
    let bomb = "fragment f0 on User { id name }";
    for (let i = 1; i <= 20; i++) bomb += ` fragment f${i} on User { ...f${i - 1} ...f${i - 1} }`;
    assert.equal(queryCost(`{ user(id: 1) { ...f20 } } ${bomb}`, undefined, limits), 100, "capped at 1,000 fields");
  });
});
