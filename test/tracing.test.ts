/**
 * Traces and logs across every hop, on real processes: the gateway and the users service (on real MongoDB and
 * Redis) export to an OTLP/HTTP receiver this test runs on port 0. One REST request makes one trace whose spans
 * are parented gateway route → gRPC client → gRPC server → Redis and MongoDB commands; the response's traceparent,
 * the spans and both services' log lines name the same trace. An incoming traceparent is continued.
 * On the same processes and store: a user stored in MongoDB that no longer fits the REST contract is left out of
 * list pages (which page on past it), is the documented DATA_LOSS problem on a single read, and is counted and logged.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Long, MongoClient } from "mongodb";
import { type RunningServer, startMongo, startRedis } from "../scripts/infra/index.js";
import { waitFor } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const TRACE_DEADLINE_MS = 15_000;
const SPAN_KIND = { SERVER: 2, CLIENT: 3, CONSUMER: 5 } as const;

/** A span as OTLP/JSON carries it, with the service that sent it. */
interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
type OtlpAttributes = { key: string; value: OtlpValue }[] | undefined;

interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttributes;
      }[];
    }[];
  }[];
}

const attributesOf = (list: OtlpAttributes): Record<string, unknown> =>
  Object.fromEntries(
    (list ?? []).map(({ key, value }) => [
      key,
      value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue,
    ]),
  );

/** An OTLP/HTTP traces receiver (JSON encoding) on a free port, keeping every span it is sent. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method !== "POST" || request.url !== "/v1/traces") {
        response.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = String(attributesOf(resourceSpans.resource?.attributes)["service.name"]);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? "",
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
            });
          }
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, server };
}

let redis: RunningServer;
let mongo: RunningServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let platform: RunningPlatform;

before(async () => {
  [redis, mongo, receiver] = await Promise.all([startRedis(), startMongo(), startReceiver()]);
  platform = await startPlatform({
    ...issuer.env,
    MONGO_URL: mongo.url,
    REDIS_URL: redis.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // Every trace recorded: the default samples a share of the traces that start here.
    OTEL_TRACES_SAMPLER: "parentbased_always_on",
    OTEL_BSP_SCHEDULE_DELAY: "50",
  });
});

after(async () => {
  await platform?.stop();
  receiver?.server.close();
  await Promise.all([redis?.stop(), mongo?.stop()]);
});

const traceIdOf = (traceparent: string | null): string => {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent ?? "");
  assert.ok(match, `traceparent ${traceparent} is not a W3C trace context`);
  return match[1] as string;
};

/** The database a command span is for (current semantic conventions first, then the older attribute). */
const dbSystem = (span: ReceivedSpan): unknown => span.attributes["db.system.name"] ?? span.attributes["db.system"];

const spansOf = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);

/** The log lines (JSON) a service wrote with `msg`. */
const logLines = (output: readonly string[], msg: string): Record<string, unknown>[] =>
  output.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });

async function createUser(): Promise<string> {
  const response = await fetch(`${platform.baseUrl}/v1/users`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify({ name: "Trace Me", email: `trace-${randomUUID()}@example.com` }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

describe("tracing across the gateway and the users service", () => {
  test("one REST request is one trace: route → gRPC client → gRPC server → Redis and MongoDB", async () => {
    // A create writes to MongoDB and fences the id in Redis: both kinds of command in one request.
    const response = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Trace Me", email: `trace-${randomUUID()}@example.com` }),
    });
    assert.equal(response.status, 201);
    const traceId = traceIdOf(response.headers.get("traceparent"));
    const requestId = response.headers.get("x-request-id");

    const spans = await waitFor(
      "the request's spans from both services",
      () => {
        const found = spansOf(traceId);
        const has = (predicate: (span: ReceivedSpan) => boolean) => found.some(predicate);
        // The change's event goes on in this trace (relay, audit consumer, history store): a span of it can be
        // exported before its parent ends, so the trace is taken once every parent has arrived too.
        const ids = new Set(found.map((span) => span.spanId));
        const whole = found.every((span) => span.parentSpanId === "" || ids.has(span.parentSpanId));
        return whole &&
          has((s) => s.service === "gateway" && s.kind === SPAN_KIND.SERVER) &&
          has((s) => s.service === "users" && s.kind === SPAN_KIND.SERVER) &&
          has((s) => s.service === "users" && dbSystem(s) === "redis") &&
          has((s) => dbSystem(s) === "mongodb")
          ? found
          : undefined;
      },
      TRACE_DEADLINE_MS,
    );
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const describeSpans = () => spans.map((s) => `${s.service} ${s.name} ${s.spanId}←${s.parentSpanId}`).join("\n");
    const isUnder = (span: ReceivedSpan, ancestor: ReceivedSpan): boolean => {
      for (let parent = byId.get(span.parentSpanId); parent; parent = byId.get(parent.parentSpanId)) {
        if (parent.spanId === ancestor.spanId) return true;
      }
      return false;
    };

    // One root: the gateway's route span, named by the route template, whose id the response's traceparent carries.
    const roots = spans.filter((span) => span.parentSpanId === "");
    assert.equal(roots.length, 1, `one root span expected:\n${describeSpans()}`);
    const route = roots[0] as ReceivedSpan;
    assert.equal(route.service, "gateway");
    assert.equal(route.kind, SPAN_KIND.SERVER);
    assert.equal(route.name, "POST /v1/users");
    assert.equal(route.attributes["http.route"], "/v1/users");
    assert.equal(response.headers.get("traceparent")?.split("-")[2], route.spanId);
    for (const span of spans) {
      if (span !== route) assert.ok(byId.has(span.parentSpanId), `${span.name}'s parent is not in the trace`);
    }

    const client = spans.find(
      (s) => s.service === "gateway" && s.kind === SPAN_KIND.CLIENT && s.name.endsWith("UsersService/CreateUser"),
    );
    assert.ok(client, `no gRPC client span:\n${describeSpans()}`);
    assert.match(client.name, /charter\.users\.v1\.UsersService\/CreateUser$/);
    assert.ok(isUnder(client, route), "the gRPC client span is under the route span");

    const server = spans.find((s) => s.service === "users" && s.kind === SPAN_KIND.SERVER);
    assert.ok(server);
    assert.match(server.name, /charter\.users\.v1\.UsersService\/CreateUser$/);
    assert.equal(server.parentSpanId, client.spanId, "the gRPC server span is the client span's child");

    const commands = spans.filter((s) => dbSystem(s) === "redis" || dbSystem(s) === "mongodb");
    for (const command of commands) {
      if (command.service === "gateway") {
        // The gateway keeps its request budget in the same Redis (REDIS_URL): the budget's script, under the route.
        assert.equal(dbSystem(command), "redis", `${command.name}: the gateway's only command is the budget's`);
        assert.ok(isUnder(command, route), `${command.name} is under the route span:\n${describeSpans()}`);
        continue;
      }
      assert.equal(command.service, "users");
      assert.ok(isUnder(command, server), `${command.name} is under the gRPC server span:\n${describeSpans()}`);
    }

    // The same trace in both services' log lines for this request.
    const gatewayLine = await waitFor("the gateway's request line", () =>
      logLines(platform.gateway.output, "request").find((line) => line.requestId === requestId),
    );
    assert.equal(gatewayLine.trace_id, traceId);
    assert.equal(gatewayLine.span_id, route.spanId);
    assert.equal(gatewayLine.route, "/v1/users");
    assert.equal(gatewayLine.status, 201);
    assert.equal(typeof gatewayLine.duration_ms, "number");
    const usersLine = logLines(platform.users.output, "rpc").find((line) => line.requestId === requestId);
    assert.ok(usersLine, "the users service logged the call with the request id");
    assert.equal(usersLine.trace_id, traceId);
    assert.equal(usersLine.span_id, server.spanId);
  });

  test("the change's event is handled in the request's trace: relay → audit consumer → history write", async () => {
    const response = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Trace My Event", email: `event-${randomUUID()}@example.com` }),
    });
    assert.equal(response.status, 201);
    const traceId = traceIdOf(response.headers.get("traceparent"));
    const { id } = (await response.json()) as { id: string };
    const isProcess = (s: ReceivedSpan) => s.name === "process charter.users.v1.events";
    // Each process exports in its own batches: the gateway's root span may arrive after the users service's.
    const spans = await waitFor(
      "the request's root span, the audit consumer's span and its history write in the request's trace",
      () => {
        const found = spansOf(traceId);
        const processing = found.find(isProcess);
        return processing &&
          found.some((s) => s.parentSpanId === processing.spanId && dbSystem(s) === "mongodb") &&
          found.some((s) => s.parentSpanId === "")
          ? found
          : undefined;
      },
      TRACE_DEADLINE_MS,
    );
    const describeSpans = () => spans.map((s) => `${s.service} ${s.name} ${s.spanId}←${s.parentSpanId}`).join("\n");
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const processing = spans.find(isProcess) as ReceivedSpan;
    assert.equal(processing.kind, SPAN_KIND.CONSUMER);
    assert.equal(processing.attributes["messaging.message.id"], `${id}-1`, "the span names the event it handled");
    assert.equal(processing.attributes["messaging.destination.name"], "charter.users.v1.events");
    // Its ancestors lead to the users service's CreateUser span: the event carried the request's context.
    const ancestors: string[] = [];
    for (let parent = byId.get(processing.parentSpanId); parent; parent = byId.get(parent.parentSpanId)) {
      ancestors.push(parent.name);
    }
    assert.ok(
      ancestors.some((name) => /charter\.users\.v1\.UsersService\/CreateUser$/.test(name)),
      `the processing span is not under the CreateUser span:\n${describeSpans()}`,
    );
    assert.equal(spans.filter((s) => s.parentSpanId === "").length, 1, `one root span expected:\n${describeSpans()}`);
  });

  test("every request's log line carries the trace id the exporter saw", async () => {
    const id = await createUser();
    const base = platform.baseUrl;
    const json = { "content-type": "application/json", authorization };
    const requests: [string, RequestInit][] = [
      [`${base}/v1/users/${id}`, { headers: { authorization } }],
      [`${base}/v1/users/${id}`, { method: "PATCH", headers: json, body: JSON.stringify({ name: "Renamed" }) }],
      [`${base}/v1/users?pageSize=2`, { headers: { authorization } }],
      [`${base}/v1/users/0`, { headers: { authorization } }],
      [`${base}/v1/users`, { method: "POST", headers: json, body: "{" }],
      [
        `${base}/graphql`,
        { method: "POST", headers: json, body: JSON.stringify({ query: `{ user(id: "${id}") { name } }` }) },
      ],
      [`${base}/no/such/route`, {}],
    ];
    for (const [url, init] of requests) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      const traceId = traceIdOf(response.headers.get("traceparent"));
      const requestId = response.headers.get("x-request-id");
      const what = `${init.method ?? "GET"} ${url} (${response.status})`;
      await waitFor(`spans of ${what}`, () => (spansOf(traceId).length > 0 ? true : undefined), TRACE_DEADLINE_MS);
      const line = await waitFor(`the log line of ${what}`, () =>
        logLines(platform.gateway.output, "request").find((entry) => entry.requestId === requestId),
      );
      assert.equal(line.trace_id, traceId, what);
      assert.equal(line.status, response.status, what);
      if (url.endsWith("/graphql")) {
        // GraphQL parsing, validation, execution and resolvers have spans in the route's trace, the batch call too.
        const names = await waitFor(
          "the GraphQL spans",
          () => {
            const spans = spansOf(traceId);
            return spans.some((s) => s.name === "graphql.resolve user") &&
              spans.some((s) => s.name.endsWith("UsersService/BatchGetUsers"))
              ? spans.map((s) => s.name)
              : undefined;
          },
          TRACE_DEADLINE_MS,
        );
        for (const name of ["POST /graphql", "graphql.parse", "graphql.validate", "query"]) {
          assert.ok(names.includes(name), `${name} not in ${names.join(", ")}`);
        }
      }
    }
  });

  test("a caller's traceparent is continued, and e-mail addresses never reach the logs", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parent = randomBytes(8).toString("hex");
    const email = `secret.person-${randomUUID()}@example.com`;
    const response = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization, traceparent: `00-${traceId}-${parent}-01` },
      body: JSON.stringify({ name: "Private", email }),
    });
    assert.equal(response.status, 201);
    assert.equal(traceIdOf(response.headers.get("traceparent")), traceId);
    const route = await waitFor(
      "the continued route span",
      () => spansOf(traceId).find((s) => s.service === "gateway" && s.kind === SPAN_KIND.SERVER),
      TRACE_DEADLINE_MS,
    );
    assert.equal(route.parentSpanId, parent);
    // The same address again: a conflict whose problem names the field, not the address, in any log.
    const conflict = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Private", email }),
    });
    assert.equal(conflict.status, 409);
    await waitFor("the conflict's log line", () =>
      logLines(platform.gateway.output, "request").find((e) => e.requestId === conflict.headers.get("x-request-id")),
    );
    const local = email.split("@")[0] as string;
    for (const line of [...platform.gateway.output, ...platform.users.output]) {
      assert.ok(!line.includes(local), `an e-mail address in a log line: ${line}`);
    }
  });
});

/** The gateway's charter_gateway_unservable_records_total for one operation (0 before the first). */
async function unservableCount(operation: string): Promise<number> {
  const text = await (await fetch(`${platform.baseUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("charter_gateway_unservable_records_total{") && l.includes(`operation="${operation}"`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("a stored user that no longer fits the REST contract", () => {
  test("lists leave it out and page on past it; a single read is the documented DATA_LOSS problem", async () => {
    const validator = createOpenApiValidator();
    const first = await createUser();
    const last = await createUser();
    // Two records written "before a rule tightened", between the two good users in id order: one with a name over
    // the contract's 100 characters, one with an e-mail address the contract's format refuses.
    const between = (k: number) => Long.fromString(first).add(k);
    assert.ok(between(2).lessThan(Long.fromString(last)), `no id between ${first} and ${last}`);
    const badEmail = `bad..${randomUUID()}@example.com`;
    const now = new Date().toISOString();
    const stored = (k: number, name: string, email: string) => ({
      _id: between(k),
      name,
      email,
      emailKey: email.toLowerCase(),
      version: 1,
      createTime: now,
      updateTime: now,
    });
    const client = await MongoClient.connect(mongo.url);
    try {
      await client
        .db()
        .collection<{ _id: Long }>("users")
        .insertMany([
          stored(1, "N".repeat(150), `long-name-${randomUUID()}@example.com`),
          stored(2, "Old Rules", badEmail),
        ]);
    } finally {
      await client.close();
    }
    const [longName, oldEmail] = [between(1).toString(), between(2).toString()];
    const before = { list: await unservableCount("listUsers"), get: await unservableCount("getUser") };

    // One user a page: the two bad records' pages are empty but carry a next page token, and paging reaches `last`.
    const served: string[] = [];
    let emptyPagesWithToken = 0;
    let token: string | undefined;
    for (let pages = 0; pages < 200; pages += 1) {
      const url = `${platform.baseUrl}/v1/users?pageSize=1${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      const response = await fetch(url, { headers: { authorization } });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.deepEqual(validator.check("listUsers", { status: response.status, headers: response.headers, text }), []);
      const page = JSON.parse(text) as { users: { id: string }[]; nextPageToken?: string };
      served.push(...page.users.map((u) => u.id));
      if (page.users.length === 0 && page.nextPageToken) emptyPagesWithToken += 1;
      token = page.nextPageToken;
      if (!token) break;
    }
    assert.equal(token, undefined, "paging ends");
    assert.ok(served.includes(first) && served.includes(last), `${first} and ${last} are served: ${served}`);
    assert.ok(!served.includes(longName) && !served.includes(oldEmail), "the unservable records are not served");
    assert.equal(served.indexOf(last), served.indexOf(first) + 1, "nothing else between them");
    assert.equal(emptyPagesWithToken, 2);

    // A single read: the contract's documented problem, naming the fields (never their values).
    for (const [id, field] of [
      [oldEmail, "/email"],
      [longName, "/name"],
    ] as const) {
      const response = await fetch(`${platform.baseUrl}/v1/users/${id}`, { headers: { authorization } });
      const text = await response.text();
      assert.equal(response.status, 500, text);
      assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.deepEqual(validator.check("getUser", { status: response.status, headers: response.headers, text }), []);
      const problem = JSON.parse(text) as { type: string; code: string; detail: string; errors: { field: string }[] };
      assert.equal(problem.type, "https://charter.dev/problems/unservable-record");
      assert.equal(problem.code, "DATA_LOSS");
      assert.match(problem.detail, /stored record no longer fits the contract/);
      assert.deepEqual(
        problem.errors.map((e) => e.field),
        [field],
      );
      assert.ok(!text.includes(badEmail) && !text.includes("N".repeat(101)), "the values are not echoed");
    }

    // GraphQL's User promises only String!, so it serves the record as it is (see docs/gateway.md).
    const graphql = await fetch(`${platform.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ query: `{ user(id: "${longName}") { id name } }` }),
    });
    const { data } = (await graphql.json()) as { data: { user: { id: string; name: string } | null } };
    assert.equal(data.user?.name.length, 150);

    // Counted (two list pages, two reads) and logged with the id, without the e-mail address.
    assert.equal((await unservableCount("listUsers")) - before.list, 2);
    assert.equal((await unservableCount("getUser")) - before.get, 2);
    const reports = logLines(platform.gateway.output, "stored user does not fit the contract: not served");
    for (const [id, operation] of [
      [oldEmail, "listUsers"],
      [oldEmail, "getUser"],
      [longName, "getUser"],
    ]) {
      assert.ok(
        reports.some((line) => line.userId === id && line.operation === operation),
        `a log line names ${id} (${operation})`,
      );
    }
    const local = badEmail.split("@")[0] as string;
    for (const line of platform.gateway.output)
      assert.ok(!line.includes(local), `an e-mail address in a log line: ${line}`);
  });
});
