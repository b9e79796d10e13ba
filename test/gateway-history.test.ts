/**
 * A user's history through the gateway, with real processes on free ports: the users service (which hosts the
 * audit service on the embedded in-process bus, so its writes become history), a gateway in front of it, a second
 * gateway in front of a stand-alone audit service (services/audit/main.ts) that the tests stop and start again, and
 * a third in front of a server that never answers. Every REST response is checked against the contract.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { components } from "../generated/openapi/users.v1.js";
import { freePorts } from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const validator = createOpenApiValidator();
const AUDIT_HEALTH = "charter.audit.v1.AuditService";
const AUDIT_DEADLINE_MS = 500;
const USERS_DEADLINE_MS = 30_000;
const HISTORY_DEADLINE_MS = 10_000;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked against the contract before use
  readonly body: any;
}

type RestEvent = components["schemas"]["UserEvent"];

interface GraphqlAnswer {
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL data, asserted field by field
  data?: any;
  errors?: { message: string; extensions?: { code?: string; fieldViolations?: { field: string }[] } }[];
}

/** One request to a gateway; its response must conform to the contract. */
async function call(base: string, method: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...init,
    headers: { authorization, ...(init.headers as Record<string, string> | undefined) },
  });
  const text = await response.text();
  const answer = { status: response.status, headers: response.headers, text };
  const operation = validator.operationFor(method, new URL(path, base).pathname);
  assert.ok(operation, `${method} ${path} is in the contract`);
  assert.deepEqual(validator.check(operation.id, answer), [], `${method} ${path} → ${response.status} ${text}`);
  return { ...answer, body: text === "" ? undefined : JSON.parse(text) };
}

async function graphql(base: string, query: string, variables: object = {}): Promise<GraphqlAnswer> {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlAnswer;
}

const HISTORY_QUERY = `query ($id: ID!, $first: Int, $after: String) {
  userHistory(id: $id, first: $first, after: $after) {
    nodes { eventId type userId user { id name email etag createTime updateTime } version occurredAt actor }
    edges { cursor node { eventId } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const readiness = async (base: string) => {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
};

const startGateway = (usersPort: unknown, env: Record<string, string> = {}) =>
  startService(
    "services/gateway/main.ts",
    {
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      ...issuer.env,
      ...otherServicesOffline(),
      USERS_ADDR: `127.0.0.1:${usersPort}`,
      ...LOAD_BUDGET,
      ...env,
    },
    "gateway ready",
  );

describe("a user's history through the gateway (users hosting the audit service)", () => {
  let users: ServiceProcess;
  let gateway: ServiceProcess;
  let base = "";

  before(async () => {
    users = await startService(
      "services/users/main.ts",
      { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
      "users service ready",
    );
    // No AUDIT_ADDR: without Kafka the gateway finds the audit service at USERS_ADDR.
    gateway = await startGateway(users.ready.grpcPort);
    base = `http://127.0.0.1:${gateway.ready.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await users?.stop();
  });

  test("create, update, delete: REST pages and GraphQL cursors give the three events, mapped from the proto", async () => {
    const json = { "content-type": "application/json" };
    const email = `history.${randomUUID().slice(0, 8)}@example.com`;
    const created = await call(base, "POST", "/v1/users", {
      headers: json,
      body: JSON.stringify({ name: "Ada Lovelace", email }),
    });
    assert.equal(created.status, 201);
    const id: string = created.body.id;
    const renamed = await call(base, "PATCH", `/v1/users/${id}`, {
      headers: json,
      body: JSON.stringify({ name: "Ada King" }),
    });
    assert.equal(renamed.status, 200);
    assert.equal((await call(base, "DELETE", `/v1/users/${id}`)).status, 204);

    const path = `/v1/users/${id}/history`;
    const events: RestEvent[] = await waitFor(
      "the three events in the history",
      async () => {
        const page = await call(base, "GET", path);
        assert.equal(page.status, 200);
        return page.body.events.length >= 3 ? page.body.events : undefined;
      },
      HISTORY_DEADLINE_MS,
    );
    // Each event: its kind, the user as that write answered it (none for DELETED), the version as a string, when.
    const deletedAt = events[2]?.occurredAt ?? "";
    const actor = issuer.clients[0]?.clientId; // the subject of every request's token: who made each change
    assert.deepEqual(
      events.map(({ eventId: _, ...event }) => event),
      [
        { type: "CREATED", userId: id, user: created.body, version: "1", occurredAt: created.body.createTime, actor },
        { type: "UPDATED", userId: id, user: renamed.body, version: "2", occurredAt: renamed.body.updateTime, actor },
        { type: "DELETED", userId: id, version: "3", occurredAt: deletedAt, actor },
      ],
    );
    assert.ok(Date.parse(deletedAt) >= Date.parse(renamed.body.updateTime), `deleted at ${deletedAt}`);
    assert.equal(new Set(events.map((e) => e.eventId)).size, 3, "three distinct event ids");

    // REST, a page of one at a time: the tokens lead through all three and the last page has none.
    const paged: string[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const query = `?pageSize=1${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      const page = await call(base, "GET", `${path}${query}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.events.length <= 1);
      paged.push(...page.body.events.map((e: RestEvent) => e.eventId));
      token = page.body.nextPageToken;
      if (token === undefined) break;
    }
    assert.equal(token, undefined);
    assert.deepEqual(
      paged,
      events.map((e) => e.eventId),
    );

    // GraphQL: the same events, one edge at a time through the cursors.
    const nodes: RestEvent[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const answer = await graphql(base, HISTORY_QUERY, { id, first: 1, after: cursor });
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      const connection = answer.data.userHistory;
      nodes.push(...connection.nodes);
      assert.equal(connection.pageInfo.endCursor, connection.edges.at(-1)?.cursor ?? connection.pageInfo.endCursor);
      if (!connection.pageInfo.hasNextPage) break;
      cursor = connection.pageInfo.endCursor;
    }
    assert.deepEqual(
      nodes,
      events.map((e) => ({ ...e, user: e.user ?? null })),
    );
  });

  test("bad ids, page sizes and tokens are 400 problems (REST) and INVALID_ARGUMENT errors (GraphQL)", async () => {
    const fields = (answer: Answer) => (answer.body.errors ?? []).map((e: { field: string }) => e.field);
    const cases: [string, string[]][] = [
      ["/v1/users/abc/history", ["id"]],
      ["/v1/users/1/history?pageSize=0", ["pageSize"]],
      ["/v1/users/1/history?pageSize=1001", ["pageSize"]],
      // Checked by the audit service: a token it did not issue.
      ["/v1/users/1/history?pageToken=garbage", ["pageToken"]],
    ];
    for (const [path, expected] of cases) {
      const answer = await call(base, "GET", path);
      assert.equal(answer.status, 400, path);
      assert.equal(answer.body.code, "INVALID_ARGUMENT");
      assert.deepEqual(fields(answer), expected, path);
    }
    const empty = await call(base, "GET", "/v1/users/1/history");
    assert.deepEqual(empty.body, { events: [] }, "an id with no recorded change has an empty history");

    const badId = await graphql(base, HISTORY_QUERY, { id: "abc" });
    assert.equal(badId.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
    const badFirst = await graphql(base, HISTORY_QUERY, { id: "1", first: 1001 });
    assert.equal(badFirst.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
    const badCursor = await graphql(base, HISTORY_QUERY, { id: "1", after: "not-a-cursor" });
    assert.equal(badCursor.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
    assert.deepEqual(
      badCursor.errors?.[0]?.extensions?.fieldViolations?.map((v) => v.field),
      ["after"],
    );
  });

  test("readiness lists the audit service", async () => {
    const ready = await readiness(base);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.checks[AUDIT_HEALTH], "SERVING");
  });
});

describe("the gateway when the audit service goes away, comes back, or never answers", () => {
  let users: ServiceProcess;
  let audit: ServiceProcess | undefined;
  let gateway: ServiceProcess;
  let auditPort = 0;
  let base = "";

  const startAudit = () =>
    startService(
      "services/audit/main.ts",
      { AUDIT_GRPC_PORT: String(auditPort), AUDIT_METRICS_PORT: "0", AUDIT_HOST: "127.0.0.1", ...issuer.env },
      "audit service ready",
    );

  before(async () => {
    [auditPort = 0] = await freePorts(1);
    users = await startService(
      "services/users/main.ts",
      { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
      "users service ready",
    );
    audit = await startAudit();
    gateway = await startGateway(users.ready.grpcPort, {
      AUDIT_ADDR: `127.0.0.1:${auditPort}`,
      AUDIT_DEADLINE_MS: String(AUDIT_DEADLINE_MS),
    });
    base = `http://127.0.0.1:${gateway.ready.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all([audit?.stop(), users?.stop()]);
  });

  test("the request id reaches the audit service", async () => {
    const requestId = `history-${randomUUID()}`;
    const answer = await call(base, "GET", "/v1/users/1/history", { headers: { "x-request-id": requestId } });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("x-request-id"), requestId);
    const line = await waitFor("the audit service to log the call with the request id", () =>
      audit?.output.find((l) => l.includes(`"requestId":"${requestId}"`) && l.includes('"rpc":"ListUserHistory"')),
    );
    assert.match(line, /"code":"OK"/);
  });

  test("audit down: 503 with Retry-After and UNAVAILABLE; users still served and the gateway still ready", async () => {
    await audit?.stop();
    audit = undefined;

    const down = await waitFor("the history to answer 503", async () => {
      const answer = await call(base, "GET", "/v1/users/1/history");
      return answer.status === 503 ? answer : undefined;
    });
    assert.equal(down.body.code, "UNAVAILABLE");
    assert.equal(down.body.detail, "the audit service is unavailable");
    assert.equal(down.headers.get("retry-after"), "1");
    assert.doesNotMatch(down.text, /127\.0\.0\.1|ECONNREFUSED|No connection/);

    const fromGraphql = await graphql(base, HISTORY_QUERY, { id: "1" });
    assert.equal(fromGraphql.data, null);
    assert.equal(fromGraphql.errors?.[0]?.extensions?.code, "UNAVAILABLE");
    assert.equal(fromGraphql.errors?.[0]?.message, "the audit service is unavailable");

    assert.equal((await call(base, "GET", "/v1/users")).status, 200, "the users API does not depend on the audit");
    const ready = await readiness(base);
    assert.equal(ready.status, 200, "history is secondary: readiness does not fail for it");
    assert.equal(ready.body.checks[AUDIT_HEALTH], "UNREACHABLE");
    assert.equal(ready.body.checks["charter.users.v1.UsersService/store"], "SERVING");
  });

  test("audit back on its port: the history is served again and readiness lists it as serving", async () => {
    audit = await startAudit();
    await waitFor(
      "the history to be served again",
      async () => ((await call(base, "GET", "/v1/users/1/history")).status === 200 ? true : undefined),
      HISTORY_DEADLINE_MS,
    );
    await waitFor(
      "readiness to list the audit service as serving",
      async () => ((await readiness(base)).body.checks[AUDIT_HEALTH] === "SERVING" ? true : undefined),
      HISTORY_DEADLINE_MS,
    );
  });

  test("an audit service that never answers: 504 DEADLINE_EXCEEDED after AUDIT_DEADLINE_MS", async () => {
    // A server that takes connections and never says a word, and a gateway whose audit service it is.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    let stalled: ServiceProcess | undefined;
    try {
      stalled = await startGateway(users.ready.grpcPort, {
        AUDIT_ADDR: `127.0.0.1:${(silent.address() as AddressInfo).port}`,
        AUDIT_DEADLINE_MS: String(AUDIT_DEADLINE_MS),
        // Far longer: the history call must use its own deadline, not the users one.
        USERS_DEADLINE_MS: String(USERS_DEADLINE_MS),
      });
      const slowBase = `http://127.0.0.1:${stalled.ready.port}`;
      const started = Date.now();
      const slow = await call(slowBase, "GET", "/v1/users/1/history");
      assert.equal(slow.status, 504, slow.text);
      const waited = Date.now() - started;
      assert.ok(waited >= AUDIT_DEADLINE_MS && waited < USERS_DEADLINE_MS, `AUDIT_DEADLINE_MS applies (${waited} ms)`);
      assert.equal(slow.body.code, "DEADLINE_EXCEEDED");
      assert.equal(slow.body.detail, "the audit service did not answer in time");
      const fromGraphql = await graphql(slowBase, HISTORY_QUERY, { id: "1" });
      assert.equal(fromGraphql.errors?.[0]?.extensions?.code, "DEADLINE_EXCEEDED");
    } finally {
      await stalled?.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
