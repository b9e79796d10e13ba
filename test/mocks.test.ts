/**
 * `npm run mock` as a user runs it: mocks/main.ts as a real process on free ports, asked with
 * clients built only from the contracts. The three mocks answer with the same example user and
 * the same history, reach the documented errors by Prefer, and refuse requests that break their
 * contract. Each needs a bearer token where the contract asks for one — any well-formed token, since the mocks
 * verify no signature (no issuer needed) — and refuses a request without one with the contract's error.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import type { components } from "../generated/openapi/users.v1.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { createUsersClient } from "../sdk/index.js";
import {
  type ContractServiceClient,
  type ContractUser,
  contractServiceClient,
  grpc,
  statusDetails,
  type UsersClient,
  usersClient,
} from "./support/contract-client.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

type ExampleEvent = components["schemas"]["UserEvent"];
/** A UserEvent as the gRPC mock answers it (proto-loader: longs and enums as strings, unset messages null). */
interface GrpcEvent {
  eventId: string;
  actor: string;
  type: string;
  userId: string;
  user: ContractUser | null;
  version: string;
  occurredAt: ContractUser["createTime"];
  redactedAt: ContractUser["createTime"] | null;
}

// The example user and the example history as the contract states them, read here from the document itself.
const contract = parse(readFileSync(new URL("../contracts/openapi/users.v1.yaml", import.meta.url), "utf8")) as {
  components: { examples: { AdaUser: { value: Record<string, string> } } };
  paths: Record<
    string,
    {
      get: {
        responses: Record<
          string,
          { content: Record<string, { examples: Record<string, { value: { events: ExampleEvent[] } }> }> }
        >;
      };
    }
  >;
};
const ada = contract.components.examples.AdaUser.value;
const historyExample =
  contract.paths["/v1/users/{id}/history"]?.get.responses["200"]?.content["application/json"]?.examples
    .createdThenDeleted?.value.events;
const COMMON = ["id", "name", "email", "etag", "createTime", "updateTime"] as const;
const common = (user: Record<string, unknown>) => Object.fromEntries(COMMON.map((k) => [k, user[k]]));
/** The proto3 JSON form of a Timestamp message ({ seconds, nanos }), as REST and GraphQL carry it. */
const rfc3339 = (t: ContractUser["createTime"]) =>
  t === null ? null : new Date(Number(t.seconds) * 1000 + t.nanos / 1e6).toISOString().replace(".000Z", "Z");

/** A JWT-shaped token nobody signed: what a front-end team sends to the mocks. */
const TOKEN = [
  { alg: "RS256", typ: "at+jwt" },
  { sub: "front-end", scope: "users:read users:write users:history" },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("unsigned")
  .join(".");
const AUTH = { authorization: `Bearer ${TOKEN}` };
const tokenMetadata = () => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", AUTH.authorization);
  return metadata;
};

const USER_QUERY = "query ($id: ID!) { user(id: $id) { id name email etag createTime updateTime } }";
const validator = createOpenApiValidator();
let mocks: ServiceProcess;
let rest: string;
let graphqlUrl: string;
let client: UsersClient;

const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${rest}${path}`, { headers: { ...AUTH, ...headers } });
  return { status: response.status, headers: response.headers, text: await response.text() };
};
// biome-ignore lint/suspicious/noExplicitAny: GraphQL results, asserted field by field
type GraphqlBody = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
const graphql = async (query: string, variables: object = {}, headers: Record<string, string> = {}) => {
  const response = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphqlBody };
};
const grpcError = async (promise: Promise<unknown>): Promise<grpc.ServiceError> => {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("the call succeeded; an error was expected");
};
const withPrefer = (value: string) => {
  const metadata = tokenMetadata();
  metadata.set("prefer", value);
  return metadata;
};
// For calls with metadata: a second client of the users service, and one of the audit service, built only from
// contracts/proto.
let preferClient: ContractServiceClient;
let audit: ContractServiceClient;
const callWith = <T = unknown>(method: string, request: object, metadata: grpc.Metadata): Promise<T> =>
  preferClient.call<T>(method, request, metadata);

before(async () => {
  mocks = await startService(
    "mocks/main.ts",
    { MOCK_REST_PORT: "0", MOCK_GRPC_PORT: "0", MOCK_GRAPHQL_PORT: "0" },
    "mocks ready",
    60_000,
  );
  rest = `http://127.0.0.1:${mocks.ready.restPort}`;
  graphqlUrl = `http://127.0.0.1:${mocks.ready.graphqlPort}/graphql`;
  client = usersClient(`127.0.0.1:${mocks.ready.grpcPort}`, AUTH.authorization);
  const grpcAddress = `127.0.0.1:${mocks.ready.grpcPort}`;
  preferClient = contractServiceClient("charter/users/v1/users.proto", "charter.users.v1.UsersService", grpcAddress);
  audit = contractServiceClient("charter/audit/v1/audit.proto", "charter.audit.v1.AuditService", grpcAddress);
});

after(async () => {
  client?.close();
  preferClient?.close();
  audit?.close();
  if (mocks) assert.equal(await mocks.stop(), 0, `the mocks did not stop cleanly:\n${mocks.output.join("\n")}`);
});

describe("REST mock (Prism)", () => {
  test("GET /v1/users/{id} answers the example user, as the contract documents it", async () => {
    const response = await get(`/v1/users/${ada.id}`);
    assert.deepEqual(validator.check("getUser", response), []);
    assert.equal(response.status, 200);
    assert.deepEqual(common(JSON.parse(response.text)), ada);
  });

  test("Prefer: code=404 gives the documented NOT_FOUND problem", async () => {
    const response = await get(`/v1/users/${ada.id}`, { prefer: "code=404" });
    assert.equal(response.status, 404);
    assert.deepEqual(validator.check("getUser", response), []);
    assert.equal(JSON.parse(response.text).code, "NOT_FOUND");
  });

  test("a request that breaks the contract is refused, naming what is wrong", async () => {
    const response = await fetch(`${rest}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH },
      body: JSON.stringify({ name: "Ada Lovelace", nickname: "ada" }),
    });
    assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
    // Prism answers a documented 4xx example and says what is wrong in sl-violations.
    const violations = JSON.parse(response.headers.get("sl-violations") ?? "[]") as { message: string }[];
    const messages = violations.map((v) => v.message).join("\n");
    assert.match(messages, /required property 'email'/);
    assert.match(messages, /additional properties; found 'nickname'/);

    const badId = await get("/v1/users/not-a-number");
    assert.equal(badId.status, 400);
    assert.match(badId.headers.get("sl-violations") ?? "", /path parameter id must match pattern/);
  });
});

describe("gRPC mock", () => {
  test("GetUser answers the same example user", async () => {
    const response = await client.call<{ user: ContractUser }>("GetUser", { id: ada.id });
    const user = response.user;
    assert.deepEqual(
      common({ ...user, createTime: rfc3339(user.createTime), updateTime: rfc3339(user.updateTime) }),
      ada,
    );
  });

  test("health is SERVING and reflection lists the service", async () => {
    assert.equal(await client.health(), "SERVING");
    assert.equal(await client.health("charter.users.v1.UsersService"), "SERVING");
    assert.ok((await client.listServices()).includes("charter.users.v1.UsersService"));
  });

  test("prefer: code=NOT_FOUND gives NOT_FOUND with the documented message", async () => {
    const error = await grpcError(callWith("GetUser", { id: ada.id }, withPrefer("code=NOT_FOUND")));
    assert.equal(error.code, grpc.status.NOT_FOUND);
    assert.equal(statusDetails(error).message, "user 7281634251938816001 not found");
  });

  test("prefer: example=<name> picks an example; an unknown one is refused", async () => {
    const empty = await callWith<{ users: unknown[] }>("ListUsers", {}, withPrefer("example=empty"));
    assert.deepEqual(empty.users, []);
    const first = await callWith<{ users: ContractUser[]; nextPageToken: string }>("ListUsers", {}, withPrefer(""));
    assert.equal(first.users[0]?.id, ada.id);
    assert.notEqual(first.nextPageToken, "");
    const error = await grpcError(callWith("ListUsers", {}, withPrefer("example=nope")));
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error.details, /no example "nope".*firstPage, empty/);
  });

  test("requests that break the proto's field rules are INVALID_ARGUMENT with BadRequest details", async () => {
    const badId = await grpcError(client.call("GetUser", { id: "abc" }));
    assert.equal(badId.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      statusDetails(badId).fieldViolations.map((v) => v.field),
      ["id"],
    );

    const noEmail = await grpcError(client.call("CreateUser", { user: { name: "Ada Lovelace" } }));
    assert.equal(noEmail.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(statusDetails(noEmail).fieldViolations, [{ field: "user.email", description: "is required" }]);

    // A contract-breaking request is refused whatever it prefers.
    const preferred = await grpcError(
      callWith("CreateUser", { user: { name: "x", email: "nope" } }, withPrefer("code=OK")),
    );
    assert.equal(preferred.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(statusDetails(preferred).fieldViolations[0]?.field, "user.email");
  });

  test("the documented errors of an RPC are reachable, with their details", async () => {
    const taken = await grpcError(
      callWith("CreateUser", { user: { name: "Ada", email: "ada@example.com" } }, withPrefer("code=ALREADY_EXISTS")),
    );
    assert.equal(taken.code, grpc.status.ALREADY_EXISTS);
    assert.equal(statusDetails(taken).reason, "EMAIL_TAKEN");

    const stale = await grpcError(
      callWith("UpdateUser", { user: { id: ada.id, name: "Ada King", etag: "1" } }, withPrefer("code=ABORTED")),
    );
    assert.equal(stale.code, grpc.status.ABORTED);
    assert.equal(statusDetails(stale).reason, "ETAG_MISMATCH");

    const invalid = await grpcError(
      callWith("CreateUser", { user: { name: "Ada", email: "ada@example.com" } }, withPrefer("code=INVALID_ARGUMENT")),
    );
    assert.equal(invalid.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      statusDetails(invalid).fieldViolations.map((v) => v.field),
      ["user.email"],
    );

    const undocumented = await grpcError(callWith("GetUser", { id: ada.id }, withPrefer("code=ABORTED")));
    assert.equal(undocumented.code, grpc.status.INVALID_ARGUMENT);
    assert.match(undocumented.details, /GetUser documents no ABORTED error/);
  });

  test("every RPC answers", async () => {
    assert.equal(
      (await client.call<{ user: ContractUser }>("CreateUser", { user: { name: "A", email: "a@b.co" } })).user.id,
      ada.id,
    );
    assert.equal(
      (await client.call<{ user: ContractUser }>("UpdateUser", { user: { id: ada.id, name: "Ada King" } })).user.name,
      "Ada King",
    );
    assert.deepEqual(await client.call("DeleteUser", { id: ada.id }), {});
    assert.equal(
      (await client.call<{ users: ContractUser[] }>("BatchGetUsers", { ids: [ada.id] })).users[0]?.id,
      ada.id,
    );
  });
});

describe("GraphQL mock", () => {
  const USER = USER_QUERY;

  test("user(id) answers the same example user", async () => {
    const { status, body } = await graphql(USER, { id: ada.id });
    assert.equal(status, 200);
    assert.deepEqual(body.errors, undefined);
    assert.deepEqual(common(body.data.user), ada);
  });

  test("Prefer: code=NOT_FOUND makes user null; other documented codes are errors with extensions.code", async () => {
    const missing = await graphql(USER, { id: ada.id }, { prefer: "code=NOT_FOUND" });
    assert.equal(missing.body.data.user, null);
    const created = await graphql(
      'mutation { createUser(input: { name: "Ada", email: "ada@example.com" }) { id } }',
      {},
      { prefer: "code=ALREADY_EXISTS" },
    );
    assert.equal(created.body.errors?.[0]?.extensions?.code, "ALREADY_EXISTS");
  });

  test("users answers a connection of the example page", async () => {
    const { body } = await graphql(
      "{ users(first: 10) { nodes { id } edges { cursor } pageInfo { hasNextPage endCursor } } }",
    );
    assert.deepEqual(body.data.users.nodes, [{ id: ada.id }]);
    assert.equal(body.data.users.pageInfo.hasNextPage, true);
    assert.equal(body.data.users.pageInfo.endCursor, body.data.users.edges[0].cursor);
  });

  test("a query that breaks the schema is refused with a clear error", async () => {
    const unknownField = await graphql(`{ user(id: "${ada.id}") { id nickname } }`);
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.errors?.[0]?.message ?? "", /Cannot query field "nickname" on type "User"/);
    const broken = await graphql("{ user(id: ");
    assert.equal(broken.status, 400);
    assert.match(broken.body.errors?.[0]?.message ?? "", /Syntax Error/);
    const badId = await graphql(USER, { id: "abc" });
    assert.equal(badId.body.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  });
});

test("the three mocks answer with one example user", async () => {
  const fromRest = JSON.parse((await get(`/v1/users/${ada.id}`)).text) as Record<string, unknown>;
  const { user } = await client.call<{ user: ContractUser }>("GetUser", { id: ada.id });
  const fromGrpc = { ...user, createTime: rfc3339(user.createTime), updateTime: rfc3339(user.updateTime) };
  const fromGraphql = (await graphql(USER_QUERY, { id: ada.id })).body.data.user as Record<string, unknown>;
  assert.deepEqual(common(fromRest), ada);
  assert.deepEqual(common(fromGrpc), ada);
  assert.deepEqual(common(fromGraphql), ada);
});

describe("a user's history in the three mocks", () => {
  const events = historyExample ?? [];
  const GRAPHQL_HISTORY = `query ($id: ID!, $first: Int) { userHistory(id: $id, first: $first) {
    nodes { eventId type userId user { id name email etag createTime updateTime } version occurredAt }
    edges { cursor }
    pageInfo { hasNextPage endCursor }
  } }`;

  test("the contract has a history example with every event type", () => {
    assert.deepEqual(
      events.map((e) => e.type),
      ["CREATED", "UPDATED", "DELETED"],
    );
  });

  test("REST: GET /v1/users/{id}/history answers the example, Prefer picks another or an error", async () => {
    const page = await get(`/v1/users/${ada.id}/history`);
    assert.deepEqual(validator.check("listUserHistory", page), []);
    assert.equal(page.status, 200);
    assert.deepEqual(JSON.parse(page.text).events, events);

    const empty = await get(`/v1/users/${ada.id}/history`, { prefer: "example=empty" });
    assert.deepEqual(validator.check("listUserHistory", empty), []);
    assert.deepEqual(JSON.parse(empty.text), { events: [] });

    const down = await get(`/v1/users/${ada.id}/history`, { prefer: "code=503" });
    assert.equal(down.status, 503);
    assert.deepEqual(validator.check("listUserHistory", down), []);
    assert.equal(JSON.parse(down.text).code, "UNAVAILABLE");
  });

  test("gRPC: AuditService.ListUserHistory answers the same events, with the proto's enum names", async () => {
    const page = await audit.call<{ events: GrpcEvent[] }>("ListUserHistory", { userId: ada.id }, tokenMetadata());
    // proto3 has no absent string: an empty actor is the unknown one, which REST leaves out.
    const asRest = page.events.map(({ user, occurredAt, actor, redactedAt, ...event }) => ({
      ...event,
      ...(actor ? { actor } : {}),
      ...(redactedAt ? { redactedAt: rfc3339(redactedAt) } : {}),
      ...(user
        ? { user: { ...user, createTime: rfc3339(user.createTime), updateTime: rfc3339(user.updateTime) } }
        : {}),
      occurredAt: rfc3339(occurredAt),
    }));
    assert.deepEqual(
      asRest,
      events.map((e) => ({ ...e, type: `USER_EVENT_TYPE_${e.type}` })),
    );

    const empty = await audit.call<{ events: unknown[] }>(
      "ListUserHistory",
      { userId: ada.id },
      withPrefer("example=empty"),
    );
    assert.deepEqual(empty.events, []);
    const down = await grpcError(audit.call("ListUserHistory", { userId: ada.id }, withPrefer("code=UNAVAILABLE")));
    assert.equal(down.code, grpc.status.UNAVAILABLE);

    const badId = await grpcError(audit.call("ListUserHistory", { userId: "abc", pageSize: 5000 }, tokenMetadata()));
    assert.equal(badId.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      statusDetails(badId)
        .fieldViolations.map((v) => v.field)
        .sort(),
      ["page_size", "user_id"],
    );

    assert.equal(await client.health("charter.audit.v1.AuditService"), "SERVING");
    assert.ok((await client.listServices()).includes("charter.audit.v1.AuditService"));
  });

  test("GraphQL: userHistory is a connection of the same events; Prefer reaches the documented errors", async () => {
    const { body } = await graphql(GRAPHQL_HISTORY, { id: ada.id });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(
      body.data.userHistory.nodes,
      events.map((e) => ({ ...e, user: e.user ?? null })),
    );
    assert.equal(body.data.userHistory.pageInfo.hasNextPage, false);

    const first = await graphql(GRAPHQL_HISTORY, { id: ada.id, first: 1 });
    assert.deepEqual(
      first.body.data.userHistory.nodes.map((n: ExampleEvent) => n.eventId),
      [events[0]?.eventId],
    );
    assert.equal(first.body.data.userHistory.pageInfo.hasNextPage, true);
    assert.equal(first.body.data.userHistory.pageInfo.endCursor, first.body.data.userHistory.edges[0].cursor);

    const empty = await graphql(GRAPHQL_HISTORY, { id: ada.id }, { prefer: "example=empty" });
    assert.deepEqual(empty.body.data.userHistory.nodes, []);
    const down = await graphql(GRAPHQL_HISTORY, { id: ada.id }, { prefer: "code=UNAVAILABLE" });
    assert.equal(down.body.errors?.[0]?.extensions?.code, "UNAVAILABLE");
    const badId = await graphql(GRAPHQL_HISTORY, { id: "abc" });
    assert.equal(badId.body.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  });
});

describe("the latest user stats in the three mocks", () => {
  type Stats = components["schemas"]["UserStats"];
  const statsExample = (
    contract.paths["/v1/stats/users"]?.get.responses["200"]?.content["application/json"]?.examples.latest as
      | { value: unknown }
      | undefined
  )?.value as Stats | undefined;
  const STATS_QUERY = "{ userStats { windowStart windowEnd created updated deleted liveUsers lateEvents } }";
  const NOT_RUNNING = /^the stats pipeline is not running/;

  test("REST: GET /v1/stats/users answers the example; Prefer reaches the 503 of a stats pipeline not running", async () => {
    assert.ok(statsExample, "the contract has a `latest` example of GET /v1/stats/users");
    const latest = await get("/v1/stats/users");
    assert.deepEqual(validator.check("getUserStats", latest), []);
    assert.equal(latest.status, 200);
    assert.deepEqual(JSON.parse(latest.text), statsExample);

    const down = await get("/v1/stats/users", { prefer: "code=503" });
    assert.equal(down.status, 503);
    assert.deepEqual(validator.check("getUserStats", down), []);
    assert.equal(JSON.parse(down.text).code, "UNAVAILABLE");
    assert.match(JSON.parse(down.text).detail, NOT_RUNNING);
  });

  test("gRPC: AuditService.GetUserStats answers the same counts; UNAVAILABLE by prefer with the reason", async () => {
    type Timestamp = ContractUser["createTime"];
    const { stats } = await audit.call<{ stats: { windowStart: Timestamp; windowEnd: Timestamp } }>(
      "GetUserStats",
      {},
      tokenMetadata(),
    );
    // proto-loader (oneofs: true) also names the synthetic oneof of each proto3 `optional` count: `_created: "created"`.
    const { windowStart, windowEnd, ...rest } = stats;
    const counts = Object.fromEntries(Object.entries(rest).filter(([name]) => !name.startsWith("_")));
    assert.deepEqual({ windowStart: rfc3339(windowStart), windowEnd: rfc3339(windowEnd), ...counts }, statsExample);
    const down = await grpcError(audit.call("GetUserStats", {}, withPrefer("code=UNAVAILABLE")));
    assert.equal(down.code, grpc.status.UNAVAILABLE);
    assert.match(down.details, NOT_RUNNING);
    assert.equal(statusDetails(down).reason, "STATS_PIPELINE_NOT_RUNNING");
  });

  test("GraphQL: userStats answers the same counts; Prefer: code=UNAVAILABLE is the error that says why", async () => {
    const { body } = await graphql(STATS_QUERY);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data.userStats, statsExample);
    const down = await graphql(STATS_QUERY, {}, { prefer: "code=UNAVAILABLE" });
    assert.equal(down.body.data?.userStats ?? null, null);
    assert.equal(down.body.errors?.[0]?.extensions?.code, "UNAVAILABLE");
    assert.match(String(down.body.errors?.[0]?.message), NOT_RUNNING);
  });
});

describe("LookupUser in the three mocks", () => {
  const lookup = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${rest}/v1/users:lookup`, {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH, ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
  const BY_EMAIL =
    "query ($email: String!) { userByEmail(email: $email) { id name email etag createTime updateTime } }";

  test("REST: POST /v1/users:lookup answers the example user; Prefer reaches 404; a bad email is refused", async () => {
    const found = await lookup({ email: ada.email });
    assert.deepEqual(validator.check("lookupUser", found), []);
    assert.equal(found.status, 200);
    assert.deepEqual(common(JSON.parse(found.text)), ada);

    const missing = await lookup({ email: ada.email }, { prefer: "code=404" });
    assert.equal(missing.status, 404);
    assert.deepEqual(validator.check("lookupUser", missing), []);
    assert.equal(JSON.parse(missing.text).code, "NOT_FOUND");

    const bad = await lookup({ email: "not-an-email", extra: 1 });
    assert.equal(bad.status, 400);
    const messages = (JSON.parse(bad.headers.get("sl-violations") ?? "[]") as { message: string }[])
      .map((v) => v.message)
      .join("\n");
    assert.match(messages, /format "email"/);
    assert.match(messages, /additional properties; found 'extra'/);
  });

  test("gRPC: LookupUser answers the same user; NOT_FOUND by prefer; a bad email is INVALID_ARGUMENT", async () => {
    const { user } = await client.call<{ user: ContractUser }>("LookupUser", { email: ada.email });
    assert.deepEqual(
      common({ ...user, createTime: rfc3339(user.createTime), updateTime: rfc3339(user.updateTime) }),
      ada,
    );
    const missing = await grpcError(callWith("LookupUser", { email: ada.email }, withPrefer("code=NOT_FOUND")));
    assert.equal(missing.code, grpc.status.NOT_FOUND);
    assert.equal(missing.details, "no user has this email");
    for (const email of ["not-an-email", "ünï@example.com", ""]) {
      const bad = await grpcError(client.call("LookupUser", { email }));
      assert.equal(bad.code, grpc.status.INVALID_ARGUMENT, email);
      assert.deepEqual(
        statusDetails(bad).fieldViolations.map((v) => v.field),
        ["email"],
        email,
      );
    }
  });

  test("GraphQL: userByEmail answers the same user; null by Prefer: code=NOT_FOUND; a bad email is refused", async () => {
    const found = await graphql(BY_EMAIL, { email: ada.email });
    assert.deepEqual(found.body.errors, undefined);
    assert.deepEqual(common(found.body.data.userByEmail), ada);
    const missing = await graphql(BY_EMAIL, { email: ada.email }, { prefer: "code=NOT_FOUND" });
    assert.equal(missing.body.data.userByEmail, null);
    const bad = await graphql(BY_EMAIL, { email: "ünï@example.com" });
    assert.equal(bad.body.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  });
});

describe("a request without a token, in the three mocks", () => {
  const refused = [{}, { authorization: "Basic Y2hhcnRlcjpzZWNyZXQ=" }, { authorization: "Bearer" }];

  test("REST (Prism): the contract's 401 problem, UNAUTHENTICATED, with WWW-Authenticate", async () => {
    for (const headers of refused) {
      const response = await fetch(`${rest}/v1/users/${ada.id}`, { headers });
      const answer = { status: response.status, headers: response.headers, text: await response.text() };
      assert.equal(answer.status, 401, JSON.stringify(headers));
      assert.deepEqual(validator.check("getUser", answer), [], "the 401 is the one the contract documents");
      assert.equal(answer.headers.get("content-type"), "application/problem+json");
      assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer /);
      const problem = JSON.parse(answer.text) as { code: string; status: number };
      assert.equal(problem.code, "UNAUTHENTICATED");
      assert.equal(problem.status, 401);
    }
    assert.equal((await get(`/v1/users/${ada.id}`)).status, 200, "any bearer token is accepted");
  });

  test("the SDK surfaces the 401 as the contract's problem, and sends its token", async () => {
    const anonymous = await createUsersClient({ baseUrl: rest, retry: false }).get(ada.id ?? "");
    assert.equal(anonymous.ok, false);
    assert.equal(anonymous.status, 401);
    assert.equal(!anonymous.ok && anonymous.problem.code, "UNAUTHENTICATED");
    const withToken = await createUsersClient({ baseUrl: rest, token: async () => TOKEN }).get(ada.id ?? "");
    assert.equal(withToken.ok && withToken.data.id, ada.id);
  });

  test("gRPC: UNAUTHENTICATED, the services' message; any well-formed token passes", async () => {
    const anonymous = usersClient(`127.0.0.1:${mocks.ready.grpcPort}`);
    const garbled = usersClient(`127.0.0.1:${mocks.ready.grpcPort}`, "Bearer not-a-jwt");
    try {
      for (const caller of [anonymous, garbled]) {
        const error = await grpcError(caller.call("GetUser", { id: ada.id }));
        assert.equal(error.code, grpc.status.UNAUTHENTICATED);
        assert.equal(error.details, "a valid bearer token is required");
      }
      const history = await grpcError(audit.call("ListUserHistory", { userId: ada.id }));
      assert.equal(history.code, grpc.status.UNAUTHENTICATED);
      assert.equal(await anonymous.health(), "SERVING", "health needs no token");
    } finally {
      anonymous.close();
      garbled.close();
    }
  });

  test("GraphQL: every @auth field is the error UNAUTHENTICATED; any well-formed token passes", async () => {
    for (const headers of refused) {
      const response = await fetch(graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: USER_QUERY, variables: { id: ada.id } }),
      });
      const body = (await response.json()) as GraphqlBody;
      assert.equal(body.data?.user ?? null, null);
      assert.deepEqual(
        body.errors?.map((e) => [e.message, e.extensions?.code]),
        [["a valid bearer token is required", "UNAUTHENTICATED"]],
        JSON.stringify(headers),
      );
    }
    const mutation = await graphql(
      'mutation { deleteUser(id: "7281634251938816001") { id } }',
      {},
      { authorization: "" },
    );
    assert.equal(mutation.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.equal((await graphql(USER_QUERY, { id: ada.id })).body.data.user.id, ada.id);
  });
});

describe("Prefer: delay in the three mocks (without the store)", () => {
  const since = async (run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return performance.now() - start;
  };

  test("each waits at least the delay asked for, and still answers the preferred example or code", async () => {
    let answer: Awaited<ReturnType<typeof get>> | undefined;
    const overRest = await since(async () => {
      answer = await get(`/v1/users/${ada.id}`, { prefer: "code=404, delay=250" });
    });
    assert.ok(overRest >= 250, `REST answered after ${overRest} ms`);
    assert.equal(answer?.status, 404);
    assert.deepEqual(validator.check("getUser", answer as NonNullable<typeof answer>), []);
    const overGrpc = await since(() => callWith("GetUser", { id: ada.id }, withPrefer("delay=250")));
    assert.ok(overGrpc >= 250, `gRPC answered after ${overGrpc} ms`);
    const overGraphql = await since(() => graphql(USER_QUERY, { id: ada.id }, { prefer: "delay=250" }));
    assert.ok(overGraphql >= 250, `GraphQL answered after ${overGraphql} ms`);
  });

  test("a delay past 10 s or not a number is refused in each protocol's error form", async () => {
    const overRest = await get(`/v1/users/${ada.id}`, { prefer: "delay=10001" });
    assert.equal(overRest.status, 400);
    assert.deepEqual(validator.check("getUser", overRest), []);
    assert.equal(JSON.parse(overRest.text).code, "INVALID_ARGUMENT");
    const overGrpc = await grpcError(callWith("GetUser", { id: ada.id }, withPrefer("delay=1.5")));
    assert.equal(overGrpc.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(statusDetails(overGrpc).fieldViolations[0]?.field, "prefer");
    const overGraphql = await graphql(USER_QUERY, { id: ada.id }, { prefer: "delay=later" });
    assert.equal(overGraphql.body.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  });
});
