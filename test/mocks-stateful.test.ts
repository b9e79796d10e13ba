/**
 * `npm run mock -- --stateful` (MOCK_STATEFUL=true) as a user runs it, with faults configured: one store behind
 * the three mocks. A user created over REST is read over gRPC and GraphQL, an update changes its etag (a stale
 * If-Match is 412), a delete makes it 404 / NOT_FOUND / null everywhere, pages go on; every REST answer is held to
 * the contract. Prefer: delay waits at least that long on each protocol; a configured fault answers in each
 * protocol's error form; a seeded rate gives the same sequence for the same seed. Tokens are required as without
 * the store.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadContractExamples } from "../mocks/contract-examples.js";
import { createFaultInjector, parseFaults } from "../mocks/faults.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { type ContractServiceClient, contractServiceClient, grpc, statusDetails } from "./support/contract-client.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

const TOKEN = [{ alg: "none" }, { sub: "front-end" }]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("unsigned")
  .join(".");
const AUTH = `Bearer ${TOKEN}`;
const validator = createOpenApiValidator();
let mocks: ServiceProcess;
let rest: string;
let graphqlUrl: string;
let users: ContractServiceClient;
let audit: ContractServiceClient;

/** A REST call, its answer checked against the operation's contract. */
async function call(operationId: string, method: string, path: string, init: { body?: object; headers?: object } = {}) {
  const response = await fetch(`${rest}${path}`, {
    method,
    headers: {
      authorization: AUTH,
      ...(init.body
        ? { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" }
        : {}),
      ...init.headers,
    },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  assert.deepEqual(validator.check(operationId, { status: response.status, headers: response.headers, text }), []);
  // biome-ignore lint/suspicious/noExplicitAny: bodies asserted field by field
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as any };
}
const metadata = (prefer?: string) => {
  const m = new grpc.Metadata();
  m.set("authorization", AUTH);
  if (prefer) m.set("prefer", prefer);
  return m;
};
const grpcError = async (promise: Promise<unknown>): Promise<grpc.ServiceError> => {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("the call succeeded; an error was expected");
};
async function graphql(query: string, variables: object = {}, headers: Record<string, string> = {}) {
  const response = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: AUTH, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL results, asserted field by field
  return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}
const USER = "query ($id: ID!) { user(id: $id) { id name email etag } }";
const elapsed = async (run: () => Promise<unknown>) => {
  const start = performance.now();
  await run();
  return performance.now() - start;
};

before(async () => {
  mocks = await startService(
    "mocks/main.ts",
    {
      MOCK_STATEFUL: "true",
      MOCK_REST_PORT: "0",
      MOCK_GRPC_PORT: "0",
      MOCK_GRAPHQL_PORT: "0",
      MOCK_FAULTS: "getUserStats=503",
      MOCK_SEED: "7",
    },
    "mocks ready",
    60_000,
  );
  rest = `http://127.0.0.1:${mocks.ready.restPort}`;
  graphqlUrl = `http://127.0.0.1:${mocks.ready.graphqlPort}/graphql`;
  const address = `127.0.0.1:${mocks.ready.grpcPort}`;
  users = contractServiceClient("charter/users/v1/users.proto", "charter.users.v1.UsersService", address);
  audit = contractServiceClient("charter/audit/v1/audit.proto", "charter.audit.v1.AuditService", address);
});

after(async () => {
  users?.close();
  audit?.close();
  if (mocks) assert.equal(await mocks.stop(), 0, `the mocks did not stop cleanly:\n${mocks.output.join("\n")}`);
});

describe("the stateful mocks share one store", () => {
  test("create over REST → read, update and delete across REST, gRPC and GraphQL", async () => {
    const created = await call("createUser", "POST", "/v1/users", {
      body: { name: "Grace Hopper", email: "grace@example.com" },
    });
    assert.equal(created.status, 201);
    const id: string = created.body.id;
    assert.equal(created.headers.get("location"), `/v1/users/${id}`);

    const overGrpc = await users.call<{ user: { name: string; etag: string } }>("GetUser", { id }, metadata());
    assert.equal(overGrpc.user.name, "Grace Hopper");
    assert.equal(overGrpc.user.etag, created.body.etag);
    assert.deepEqual((await graphql(USER, { id })).data.user, {
      id,
      name: "Grace Hopper",
      email: "grace@example.com",
      etag: created.body.etag,
    });

    const updated = await call("updateUser", "PATCH", `/v1/users/${id}`, {
      body: { name: "Grace B. Hopper" },
      headers: { "if-match": created.headers.get("etag") },
    });
    assert.equal(updated.status, 200);
    assert.notEqual(updated.body.etag, created.body.etag);
    assert.equal(updated.headers.get("etag"), `"${updated.body.etag}"`);
    const stale = await call("updateUser", "PATCH", `/v1/users/${id}`, {
      body: { name: "Too Late" },
      headers: { "if-match": created.headers.get("etag") },
    });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.code, "ABORTED");
    const staleGrpc = await grpcError(users.call("DeleteUser", { id, etag: created.body.etag }, metadata()));
    assert.equal(staleGrpc.code, grpc.status.ABORTED);
    assert.equal((await graphql(USER, { id })).data.user.name, "Grace B. Hopper");

    const history = await call("listUserHistory", "GET", `/v1/users/${id}/history`);
    assert.deepEqual(
      history.body.events.map((e: { type: string; actor: string }) => [e.type, e.actor]),
      [
        ["CREATED", "front-end"],
        ["UPDATED", "front-end"],
      ],
    );

    const deleted = await graphql("mutation ($id: ID!, $etag: String) { deleteUser(id: $id, etag: $etag) { id } }", {
      id,
      etag: updated.body.etag,
    });
    assert.deepEqual(deleted.data, { deleteUser: { id } });
    const gone = await call("getUser", "GET", `/v1/users/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, "NOT_FOUND");
    assert.equal((await grpcError(users.call("GetUser", { id }, metadata()))).code, grpc.status.NOT_FOUND);
    const overGraphql = await graphql(USER, { id });
    assert.equal(overGraphql.data.user, null);
    assert.equal(overGraphql.errors, undefined);
    const afterDelete = await audit.call<{ events: { type: string }[] }>("ListUserHistory", { userId: id }, metadata());
    assert.deepEqual(
      afterDelete.events.map((e) => e.type),
      ["USER_EVENT_TYPE_CREATED", "USER_EVENT_TYPE_UPDATED", "USER_EVENT_TYPE_DELETED"],
    );
  });

  test("an update over gRPC changes only the masked field, at the version it names, and REST sees it", async () => {
    const created = await users.call<{ user: { id: string; etag: string } }>(
      "CreateUser",
      { user: { name: "Katherine Johnson", email: "katherine@example.com" } },
      metadata(),
    );
    const { id, etag } = created.user;
    const updated = await users.call<{ user: { name: string; email: string; etag: string } }>(
      "UpdateUser",
      { user: { id, etag, name: "Ignored", email: "kj@example.com" }, updateMask: { paths: ["email"] } },
      metadata(),
    );
    assert.deepEqual([updated.user.name, updated.user.email], ["Katherine Johnson", "kj@example.com"]);
    assert.notEqual(updated.user.etag, etag);
    const overRest = await call("getUser", "GET", `/v1/users/${id}`);
    assert.equal(overRest.body.email, "kj@example.com");
    assert.equal(overRest.headers.get("etag"), `"${updated.user.etag}"`);
    const stale = await grpcError(
      users.call("UpdateUser", { user: { id, etag, name: "Late" }, updateMask: { paths: ["name"] } }, metadata()),
    );
    assert.equal(stale.code, grpc.status.ABORTED);
    assert.equal(statusDetails(stale).reason, "ETAG_MISMATCH");
    const taken = await call("updateUser", "PATCH", `/v1/users/${id}`, { body: { email: "ADA@example.com" } });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, "ALREADY_EXISTS");
  });

  test("a create sent again with its key makes one user, over REST's Idempotency-Key and gRPC's request_id alike", async () => {
    const user = { name: "Mary Jackson", email: "mary@example.com" };
    const overRest = await call("createUser", "POST", "/v1/users", {
      body: user,
      headers: { "idempotency-key": "create-mary" },
    });
    assert.equal(overRest.status, 201);
    type Created = { user: { id: string; email: string } };
    const again = await users.call<Created>("CreateUser", { user, requestId: "create-mary" }, metadata());
    assert.equal(again.user.id, overRest.body.id, "the key's first create answers");
    const first = await users.call<Created>(
      "CreateUser",
      { user: { ...user, email: "mj@example.com" }, requestId: "mj" },
      metadata(),
    );
    const repeated = await users.call<Created>(
      "CreateUser",
      { user: { ...user, email: "mj@example.com" }, requestId: "mj" },
      metadata(),
    );
    assert.equal(repeated.user.id, first.user.id);
    const reused = await grpcError(
      users.call("CreateUser", { user: { ...user, email: "other@example.com" }, requestId: "mj" }, metadata()),
    );
    assert.equal(reused.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(statusDetails(reused).reason, "IDEMPOTENCY_KEY_REUSED");
    const withoutKey = await grpcError(users.call("CreateUser", { user }, metadata()));
    assert.equal(
      withoutKey.code,
      grpc.status.ALREADY_EXISTS,
      "without a key it is a second create, refused by the email",
    );
  });

  test("a user created over gRPC is in REST's pages, which go on until the last", async () => {
    for (const n of [1, 2, 3]) {
      await users.call("CreateUser", { user: { name: `Pager ${n}`, email: `pager${n}@example.com` } }, metadata());
    }
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await call("listUsers", "GET", `/v1/users?pageSize=2${token ? `&pageToken=${token}` : ""}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.users.length <= 2);
      seen.push(...page.body.users.map((u: { email: string }) => u.email));
      token = page.body.nextPageToken;
    } while (token);
    for (const n of [1, 2, 3]) assert.ok(seen.includes(`pager${n}@example.com`), `pager${n} missing from ${seen}`);
    const overGraphql = await graphql("{ users(first: 1000) { nodes { email } pageInfo { hasNextPage } } }");
    assert.deepEqual(
      overGraphql.data.users.nodes.map((u: { email: string }) => u.email),
      seen,
    );
  });

  test("a request that breaks the contract is the operation's 400 problem and changes nothing", async () => {
    const before = await call("listUsers", "GET", "/v1/users?pageSize=1000");
    const refused = await call("createUser", "POST", "/v1/users", { body: { name: "No Email" } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, "INVALID_ARGUMENT");
    assert.deepEqual(
      refused.body.errors.map((e: { field: string }) => e.field),
      ["/email"],
    );
    const badId = await call("getUser", "GET", "/v1/users/not-a-number");
    assert.equal(badId.status, 400);
    assert.deepEqual(
      badId.body.errors.map((e: { field: string }) => e.field),
      ["/id"],
    );
    const afterwards = await call("listUsers", "GET", "/v1/users?pageSize=1000");
    assert.deepEqual(afterwards.body, before.body);
  });

  test("a call without a token is refused on each protocol", async () => {
    const response = await fetch(`${rest}/v1/users`);
    const text = await response.text();
    assert.deepEqual(validator.check("listUsers", { status: response.status, headers: response.headers, text }), []);
    assert.equal(response.status, 401);
    assert.equal(JSON.parse(text).code, "UNAUTHENTICATED");
    const grpcRefusal = await grpcError(users.call("ListUsers", {}, new grpc.Metadata()));
    assert.equal(grpcRefusal.code, grpc.status.UNAUTHENTICATED);
    const graphqlRefusal = await graphql("{ users { nodes { id } } }", {}, { authorization: "" });
    assert.equal(graphqlRefusal.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });
});

describe("latency and faults, the same on every protocol", () => {
  test("Prefer: delay waits at least that long; a bad one is the contract's invalid argument", async () => {
    const id = "7281634251938816001";
    assert.ok(
      (await elapsed(() => call("getUser", "GET", `/v1/users/${id}`, { headers: { prefer: "delay=300" } }))) >= 300,
    );
    assert.ok((await elapsed(() => users.call("GetUser", { id }, metadata("delay=300")))) >= 300);
    assert.ok((await elapsed(() => graphql(USER, { id }, { prefer: "delay=300" }))) >= 300);

    const bad = await call("getUser", "GET", `/v1/users/${id}`, { headers: { prefer: "delay=60000" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "INVALID_ARGUMENT");
    const badGrpc = await grpcError(users.call("GetUser", { id }, metadata("delay=-1")));
    assert.equal(badGrpc.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(statusDetails(badGrpc).fieldViolations[0]?.field, "prefer");
    const badGraphql = await graphql(USER, { id }, { prefer: "delay=soon" });
    assert.equal(badGraphql.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  });

  test("a configured fault (getUserStats=503) answers in each protocol's error form", async () => {
    const overRest = await call("getUserStats", "GET", "/v1/stats/users");
    assert.equal(overRest.status, 503);
    assert.equal(overRest.body.code, "UNAVAILABLE");
    const overGrpc = await grpcError(audit.call("GetUserStats", {}, metadata()));
    assert.equal(overGrpc.code, grpc.status.UNAVAILABLE);
    const overGraphql = await graphql("{ userStats { created } }");
    assert.equal(overGraphql.errors?.[0]?.extensions?.code, "UNAVAILABLE");
  });

  test("a seeded rate gives the same sequence for the same seed, and another for another seed", () => {
    const rules = parseFaults("getUser=503@0.5", loadContractExamples());
    const sequence = (seed: number) => {
      const faults = createFaultInjector(rules, seed);
      return Array.from({ length: 64 }, () => (faults.draw("getUser") ? 1 : 0)).join("");
    };
    assert.equal(sequence(7), sequence(7));
    assert.notEqual(sequence(7), sequence(8));
    assert.match(sequence(7), /1/);
    assert.match(sequence(7), /0/);
    assert.throws(() => parseFaults("getUser=418", loadContractExamples()), /getUser documents no 418/);
  });
});
