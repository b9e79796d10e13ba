/**
 * The GraphQL plugin on a bare Fastify instance in front of the real users process (port 0):
 * CRUD through mutations, the users connection across pages, one BatchGetUsers per request
 * (asserted from the users service's own RPC counters), the error model, the query limits,
 * and GraphiQL served from this process only. Tokens come from a real issuer (the development OpenID provider on a
 * free port) that the users service trusts too; the host app verifies them with the gateway's own hooks.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { getIntrospectionQuery } from "graphql";
import { createTokenVerifier } from "../../../../platform/auth/token-verifier.js";
import { type ServiceProcess, startService, waitFor } from "../../../../scripts/lib/processes.js";
import { startTestIssuer } from "../../../../test/support/auth.js";
import { createAuditBackend } from "../../adapters/audit-backend.js";
import { createUsersBackend } from "../../adapters/users-backend.js";
import type { UsersBackend } from "../../app/backends.js";
import { enforce, identify } from "../auth.js";
import { type GraphqlOptions, registerGraphql } from "./index.js";

const issuer = await startTestIssuer();
after(() => issuer.close());
const verifier = createTokenVerifier({
  issuer: issuer.issuer,
  audience: issuer.audience,
  clockSkewS: 30,
  jwksCacheMs: 60_000,
  jwksCooldownMs: 0,
});
/** The Authorization header of a caller with every scope. */
const authorization = await issuer.bearer();

/** An unsigned token (alg none) with every claim a valid one would have. */
function unsigned(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer.issuer, aud: issuer.audience, sub: "charter-dev", scope: "users:read", exp: now + 600 };
  return `${part({ alg: "none", typ: "at+jwt" })}.${part(claims)}.`;
}

/** The gateway's authentication hooks on a host app: who is calling, then 401 without a valid token. */
function withAuth(host: FastifyInstance): FastifyInstance {
  host.addHook("onRequest", identify(verifier));
  host.addHook("onRequest", enforce());
  return host;
}

const email = (tag = "gql") => `${tag}.${randomUUID().slice(0, 8)}@example.com`;

interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions: { code: string; reason?: string; fieldViolations?: { field: string; description: string }[] };
}
// biome-ignore lint/suspicious/noExplicitAny: response data is checked field by field
type Data = any;
interface GqlResponse {
  status: number;
  headers: Record<string, unknown>;
  data?: Data;
  errors?: GqlError[];
}

async function gql(
  app: FastifyInstance,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GqlResponse> {
  const res = await app.inject({
    method: "POST",
    url: "/graphql",
    payload: { query, variables },
    headers: { authorization, ...headers },
  });
  const body = res.json() as { data?: Data; errors?: GqlError[] };
  return { status: res.statusCode, headers: res.headers, ...body };
}

/** The one error of a response, with its code. */
function onlyError(res: GqlResponse, code: string): GqlError {
  assert.equal(res.errors?.length, 1, JSON.stringify(res.errors));
  const [error] = res.errors ?? [];
  assert.ok(error);
  assert.equal(error.extensions.code, code, JSON.stringify(error));
  return error;
}

const fieldsOf = (error: GqlError) => (error.extensions.fieldViolations ?? []).map((v) => v.field).sort();

/** Calls of one users RPC so far, all outcomes, from the service's Prometheus counter. */
async function rpcCalls(metricsPort: number, method: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("charter_users_rpc_total{") && line.includes(`method="${method}"`))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

/** History is tested with the audit service in test/gateway-history.test.ts; here nothing listens at its address. */
const audit = createAuditBackend({ target: "127.0.0.1:9", deadlineMs: 200 });

const USER_FIELDS = "id name email etag createTime updateTime";
const CREATE = `mutation ($input: CreateUserInput!) { createUser(input: $input) { ${USER_FIELDS} } }`;

async function buildApp(opts: GraphqlOptions): Promise<FastifyInstance> {
  const app = withAuth(Fastify({ logger: false }));
  await registerGraphql(app, opts);
  await app.ready();
  return app;
}

describe("GraphQL API over the real users service", () => {
  let service: ServiceProcess;
  let users: UsersBackend;
  let app: FastifyInstance;
  let metricsPort: number;
  const create = async (name: string, mail = email()) => {
    const res = await gql(app, CREATE, { input: { name, email: mail } });
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return res.data.createUser as { id: string; name: string; email: string; etag: string };
  };

  before(async () => {
    service = await startService(
      "services/users/main.ts",
      {
        USERS_GRPC_PORT: "0",
        USERS_METRICS_PORT: "0",
        USERS_HOST: "127.0.0.1",
        LOG_LEVEL: "debug",
        ...issuer.env,
      },
      "users service ready",
    );
    metricsPort = Number(service.ready.metricsPort);
    users = createUsersBackend({ target: `127.0.0.1:${service.ready.grpcPort}`, deadlineMs: 5_000 });
    app = await buildApp({ users, audit, graphiql: true });
  });
  after(async () => {
    await app?.close();
    users?.close();
    await service?.stop();
  });

  test("createUser, then user(id) reads it back; the request id reaches the users service", async () => {
    const mail = email("Ada");
    const requestId = `graphql-test-${randomUUID()}`;
    const created = await gql(
      app,
      CREATE,
      { input: { name: "Ada Lovelace", email: mail } },
      { "x-request-id": requestId },
    );
    assert.equal(created.status, 200);
    assert.equal(created.headers["x-request-id"], requestId);
    const user = created.data.createUser;
    assert.match(user.id, /^[0-9]{1,19}$/);
    assert.equal(user.name, "Ada Lovelace");
    assert.equal(user.email, mail);
    assert.equal(user.etag, "1");
    assert.match(user.createTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const read = await gql(app, `query ($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`, { id: user.id });
    assert.deepEqual(read.data.user, user);

    await waitFor("the users service to log the request id", () =>
      service.output.some((line) => line.includes(requestId) && line.includes('"rpc":"CreateUser"')) ? true : undefined,
    );
    const generated = await gql(app, "{ __typename }");
    assert.match(String(generated.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
  });

  test("a request id the host app already settled is the one the users service sees", async () => {
    const host = withAuth(Fastify({ logger: false }));
    const requestId = `host-${randomUUID()}`;
    host.addHook("onRequest", async (_request, reply) => {
      reply.header("x-request-id", requestId);
    });
    await registerGraphql(host, { users, audit, graphiql: false });
    try {
      const res = await gql(host, `{ user(id: "1") { id } }`, undefined, { "x-request-id": "client-chosen" });
      assert.equal(res.headers["x-request-id"], requestId);
      await waitFor("the users service to log the host's request id", () =>
        service.output.some((line) => line.includes(requestId) && line.includes('"rpc":"BatchGetUsers"'))
          ? true
          : undefined,
      );
    } finally {
      await host.close();
    }
  });

  test("updateUser with the current etag, stale etag is ABORTED, deleteUser, then user(id) is null", async () => {
    const user = await create("Grace");
    const UPDATE = `mutation ($input: UpdateUserInput!) { updateUser(input: $input) { ${USER_FIELDS} } }`;
    const renamed = await gql(app, UPDATE, { input: { id: user.id, etag: user.etag, name: "Grace Hopper" } });
    assert.equal(renamed.data.updateUser.name, "Grace Hopper");
    assert.equal(renamed.data.updateUser.email, user.email, "fields not given are kept");
    assert.notEqual(renamed.data.updateUser.etag, user.etag);

    const stale = await gql(app, UPDATE, { input: { id: user.id, etag: user.etag, name: "Lost" } });
    const aborted = onlyError(stale, "ABORTED");
    assert.equal(aborted.extensions.reason, "ETAG_MISMATCH");
    assert.deepEqual(aborted.path, ["updateUser"]);
    assert.equal(stale.data, null);

    const latest = await gql(app, UPDATE, { input: { id: user.id, email: email("new") } });
    assert.equal(latest.data.updateUser.name, "Grace Hopper", "an update without etag applies to the latest version");

    const DELETE = "mutation ($id: ID!, $etag: String) { deleteUser(id: $id, etag: $etag) { id } }";
    onlyError(await gql(app, DELETE, { id: user.id, etag: user.etag }), "ABORTED");
    const deleted = await gql(app, DELETE, { id: user.id, etag: latest.data.updateUser.etag });
    assert.deepEqual(deleted.data, { deleteUser: { id: user.id } });
    onlyError(await gql(app, DELETE, { id: user.id }), "NOT_FOUND");
    onlyError(await gql(app, UPDATE, { input: { id: user.id, name: "Ghost" } }), "NOT_FOUND");

    const gone = await gql(app, `query ($id: ID!) { user(id: $id) { id } }`, { id: user.id });
    assert.deepEqual(gone.data, { user: null });
    assert.equal(gone.errors, undefined);
  });

  test("users connection walks every page in creation order; any edge's cursor resumes after it", async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await create(`Pager ${i}`)).id);
    const PAGE = `query ($first: Int, $after: String) {
      users(first: $first, after: $after) { edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } }
    }`;
    const seen: string[] = [];
    const cursors = new Map<string, string>();
    let after: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const res = await gql(app, PAGE, { first: 3, after });
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const page = res.data.users;
      assert.ok(page.edges.length <= 3);
      assert.deepEqual(
        page.nodes.map((n: { id: string }) => n.id),
        page.edges.map((e: { node: { id: string } }) => e.node.id),
      );
      for (const edge of page.edges) {
        seen.push(edge.node.id);
        cursors.set(edge.node.id, edge.cursor);
      }
      if (!page.pageInfo.hasNextPage) break;
      assert.equal(page.pageInfo.endCursor, page.edges.at(-1).cursor);
      after = page.pageInfo.endCursor;
    }
    assert.equal(new Set(seen).size, seen.length, "no user twice");
    assert.deepEqual(
      seen.filter((id) => made.includes(id)),
      made,
      "all created users, in order",
    );

    // Resume from an edge in the middle of a page, not only from a page's end.
    const resumed = await gql(app, PAGE, { first: 2, after: cursors.get(made[1] as string) });
    assert.deepEqual(
      resumed.data.users.nodes.map((n: { id: string }) => n.id),
      made.slice(2, 4),
    );

    const bad = onlyError(await gql(app, PAGE, { first: 2, after: "bm90LWEtY3Vyc29y" }), "INVALID_ARGUMENT");
    assert.deepEqual(fieldsOf(bad), ["after"]);
    const tooMany = onlyError(await gql(app, PAGE, { first: 5000 }), "INVALID_ARGUMENT");
    assert.deepEqual(fieldsOf(tooMany), ["first"]);
  });

  test("50 aliased user(id:) fields make exactly one BatchGetUsers call and no GetUser call", async () => {
    const a = await create("Batch A");
    const b = await create("Batch B");
    const c = await create("Batch C");
    const ids = [a.id, b.id, c.id, "1"];
    const fields = Array.from({ length: 50 }, (_, i) => `u${i}: user(id: "${ids[i % ids.length]}") { id name }`);
    const batchBefore = await rpcCalls(metricsPort, "BatchGetUsers");
    const getBefore = await rpcCalls(metricsPort, "GetUser");

    const res = await gql(app, `{ ${fields.join("\n")} }`);

    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.equal((await rpcCalls(metricsPort, "BatchGetUsers")) - batchBefore, 1);
    assert.equal((await rpcCalls(metricsPort, "GetUser")) - getBefore, 0);
    assert.deepEqual(res.data.u0, { id: a.id, name: "Batch A" });
    assert.deepEqual(res.data.u1, { id: b.id, name: "Batch B" });
    assert.deepEqual(res.data.u2, { id: c.id, name: "Batch C" });
    assert.equal(res.data.u3, null, "an id with no user is null");
    assert.deepEqual(res.data.u48, res.data.u0);
    assert.equal(Object.keys(res.data).length, 50);
  });

  test("a bad id fails only its own field; the others are still loaded in one batch", async () => {
    const a = await create("Neighbour");
    const batchBefore = await rpcCalls(metricsPort, "BatchGetUsers");
    const res = await gql(app, `{ ok: user(id: "${a.id}") { id } bad: user(id: "12ab") { id } }`);
    assert.deepEqual(res.data, { ok: { id: a.id }, bad: null });
    const error = onlyError(res, "INVALID_ARGUMENT");
    assert.deepEqual(error.path, ["bad"]);
    assert.deepEqual(fieldsOf(error), ["id"]);
    assert.equal((await rpcCalls(metricsPort, "BatchGetUsers")) - batchBefore, 1);
  });

  test("bad input is INVALID_ARGUMENT naming every bad field", async () => {
    const both = onlyError(await gql(app, CREATE, { input: { name: "", email: "not-an-email" } }), "INVALID_ARGUMENT");
    assert.deepEqual(fieldsOf(both), ["input.email", "input.name"]);
    assert.ok(both.extensions.fieldViolations?.every((v) => v.description.length > 0));
    assert.match(both.message, /input\.name/);

    // A blank name passes the length limit and fails the pattern, told as the contract's patternMessage says.
    const blank = onlyError(await gql(app, CREATE, { input: { name: "   ", email: email() } }), "INVALID_ARGUMENT");
    assert.deepEqual(fieldsOf(blank), ["input.name"]);
    assert.deepEqual(
      blank.extensions.fieldViolations?.map((v) => v.description),
      ["must not be blank"],
    );

    const long = onlyError(
      await gql(app, CREATE, { input: { name: "x".repeat(101), email: email() } }),
      "INVALID_ARGUMENT",
    );
    assert.deepEqual(fieldsOf(long), ["input.name"]);

    const user = await create("Unchanged");
    const nothing = onlyError(
      await gql(app, "mutation ($id: ID!) { updateUser(input: { id: $id }) { id } }", { id: user.id }),
      "INVALID_ARGUMENT",
    );
    assert.deepEqual(fieldsOf(nothing), ["input"]);
    const emptyEtag = onlyError(
      await gql(app, 'mutation ($id: ID!) { deleteUser(id: $id, etag: "") { id } }', { id: user.id }),
      "INVALID_ARGUMENT",
    );
    assert.deepEqual(fieldsOf(emptyEtag), ["etag"]);
  });

  test("userByEmail finds the user case-insensitively (one LookupUser call); null when none; bad emails refused", async () => {
    const mail = email("Ada.Lookup");
    const created = await create("Ada Lookup", mail);
    const BY_EMAIL = `query ($email: String!) { userByEmail(email: $email) { ${USER_FIELDS} } }`;
    const lookupsBefore = await rpcCalls(metricsPort, "LookupUser");
    const found = await gql(app, BY_EMAIL, { email: mail.toUpperCase() });
    assert.equal(found.errors, undefined, JSON.stringify(found.errors));
    assert.deepEqual(found.data.userByEmail, created, "upper case finds the lower-case address");
    assert.equal((await rpcCalls(metricsPort, "LookupUser")) - lookupsBefore, 1);

    const none = await gql(app, BY_EMAIL, { email: email("nobody") });
    assert.equal(none.errors, undefined, "no user is null, as user(id:) answers it, not an error");
    assert.equal(none.data.userByEmail, null);

    for (const bad of ["not-an-email", "ünï@example.com", "a@b", `${"x".repeat(250)}@example.com`]) {
      const refused = onlyError(await gql(app, BY_EMAIL, { email: bad }), "INVALID_ARGUMENT");
      assert.deepEqual(fieldsOf(refused), ["email"], bad);
    }
    const missing = await gql(app, "{ userByEmail { id } }");
    assert.equal(missing.data, undefined, "a missing argument is refused before anything runs");
    assert.match(missing.errors?.[0]?.message ?? "", /email/);
    const unknown = await gql(app, `{ userByEmail(email: "${mail}", name: "x") { id } }`);
    assert.equal(unknown.data, undefined, "an unknown argument is refused");
    assert.match(unknown.errors?.[0]?.message ?? "", /name/);

    await gql(app, "mutation ($id: ID!) { deleteUser(id: $id) { id } }", { id: created.id });
    assert.equal((await gql(app, BY_EMAIL, { email: mail })).data.userByEmail, null, "a deleted user is not found");
  });

  test("a taken email is ALREADY_EXISTS on input.email", async () => {
    const mail = email("Twin");
    await create("First", mail);
    const taken = onlyError(
      await gql(app, CREATE, { input: { name: "Second", email: mail.toUpperCase() } }),
      "ALREADY_EXISTS",
    );
    assert.deepEqual(fieldsOf(taken), ["input.email"]);
  });

  test("malformed, invalid, too deep and too wide queries are refused with a code and a reason", async () => {
    const syntax = await gql(app, "{ user(id: ");
    assert.equal(syntax.status, 400);
    assert.equal(syntax.data, undefined);
    assert.equal(onlyError(syntax, "INVALID_ARGUMENT").extensions.reason, "GRAPHQL_PARSE_FAILED");

    const unknown = await gql(app, "{ nope }");
    assert.equal(unknown.status, 400);
    assert.equal(onlyError(unknown, "INVALID_ARGUMENT").extensions.reason, "GRAPHQL_VALIDATION_FAILED");

    const missingVariable = await gql(app, "query ($id: ID!) { user(id: $id) { id } }");
    assert.equal(missingVariable.status, 400);
    assert.equal(onlyError(missingVariable, "INVALID_ARGUMENT").extensions.reason, "GRAPHQL_VALIDATION_FAILED");

    const wide = Array.from({ length: 101 }, (_, i) => `a${i}: __typename`).join(" ");
    const tooWide = await gql(app, `{ ${wide} }`);
    assert.equal(tooWide.status, 400);
    const complex = onlyError(tooWide, "INVALID_ARGUMENT");
    assert.equal(complex.extensions.reason, "QUERY_TOO_COMPLEX");
    assert.match(complex.message, /100 aliased fields/);

    const shallow = await buildApp({ users, audit, graphiql: false, maxDepth: 3 });
    try {
      const deep = await gql(shallow, "{ users(first: 1) { edges { node { id } } } }");
      assert.equal(deep.status, 400);
      const error = onlyError(deep, "INVALID_ARGUMENT");
      assert.equal(error.extensions.reason, "QUERY_TOO_DEEP");
      assert.match(error.message, /more than 3 levels deep/);
      // Fragments count at their full depth.
      const viaFragment = await gql(
        shallow,
        "fragment E on UserEdge { node { id } } { users(first: 1) { edges { ...E } } }",
      );
      assert.equal(onlyError(viaFragment, "INVALID_ARGUMENT").extensions.reason, "QUERY_TOO_DEEP");
      const fine = await gql(shallow, "{ users(first: 1) { nodes { id } } }");
      assert.equal(fine.errors, undefined);
    } finally {
      await shallow.close();
    }

    // GraphiQL's schema query is deeper than the data limit; introspection does not count.
    const schema = await gql(app, getIntrospectionQuery());
    assert.equal(schema.errors, undefined, JSON.stringify(schema.errors));
    assert.ok(schema.data.__schema.types.some((t: { name: string }) => t.name === "User"));
  });

  test("without a valid token every operation is 401 with WWW-Authenticate and UNAUTHENTICATED", async () => {
    const cases: [string, Record<string, string>, string][] = [
      ["no token", {}, 'Bearer realm="charter"'],
      ["not a JWT", { authorization: "Bearer not-a-token" }, 'Bearer realm="charter", error="invalid_token"'],
      ["alg none", { authorization: `Bearer ${unsigned()}` }, 'Bearer realm="charter", error="invalid_token"'],
    ];
    for (const [label, headers, challenge] of cases) {
      for (const query of [
        `{ user(id: "1") { id } }`,
        getIntrospectionQuery(),
        `mutation { deleteUser(id: "1") { id } }`,
      ]) {
        const res = await app.inject({ method: "POST", url: "/graphql", payload: { query }, headers });
        assert.equal(res.statusCode, 401, label);
        assert.equal(res.headers["www-authenticate"], challenge, label);
        const body = res.json() as { data?: unknown; errors: GqlError[] };
        assert.equal(body.data, undefined, label);
        assert.equal(body.errors[0]?.extensions.code, "UNAUTHENTICATED", label);
        assert.equal(body.errors[0]?.message, "a valid bearer token is required", label);
      }
    }
    // GraphiQL's page stays open: a browser asking for /graphql is sent to it.
    const browser = await app.inject({ method: "GET", url: "/graphql", headers: { accept: "text/html" } });
    assert.equal(browser.statusCode, 302);
    assert.equal((await app.inject({ method: "GET", url: "/graphiql" })).statusCode, 200);
  });

  test("a field whose @auth scope the token lacks is PERMISSION_DENIED at that field; the others resolve", async () => {
    const reader = `Bearer ${await issuer.tokenWith(["users:read"])}`;
    const user = await create("Scoped");
    const both = await gql(
      app,
      `query ($id: ID!) { user(id: $id) { id } userHistory(id: $id) { nodes { type } } }`,
      { id: user.id },
      { authorization: reader },
    );
    assert.equal(both.status, 200);
    // The one error is the field without its scope; user(id) resolved (userHistory is non-null, so data is null).
    const denied = onlyError(both, "PERMISSION_DENIED");
    assert.deepEqual(denied.path, ["userHistory"]);
    assert.equal(denied.message, "this operation needs the scope users:history");

    const historian = `Bearer ${await issuer.tokenWith(["users:history"])}`;
    const read = await gql(
      app,
      `query ($id: ID!) { user(id: $id) { id } }`,
      { id: user.id },
      { authorization: historian },
    );
    assert.deepEqual(read.data, { user: null });
    const noRead = onlyError(read, "PERMISSION_DENIED");
    assert.deepEqual(noRead.path, ["user"]);
    assert.equal(noRead.message, "this operation needs the scope users:read");

    const write = await gql(app, `mutation { deleteUser(id: "${user.id}") { id } }`, undefined, {
      authorization: reader,
    });
    assert.equal(onlyError(write, "PERMISSION_DENIED").message, "this operation needs the scope users:write");
    // Nothing was deleted: the user is still there for a caller with every scope.
    const still = await gql(app, `query ($id: ID!) { user(id: $id) { id } }`, { id: user.id });
    assert.equal(still.data.user.id, user.id);
  });

  test("HTTP-level refusals carry a code too: mutation over GET, body that is not JSON", async () => {
    const query = encodeURIComponent(`mutation { deleteUser(id: "1") { id } }`);
    const viaGet = await app.inject({ method: "GET", url: `/graphql?query=${query}`, headers: { authorization } });
    assert.ok(viaGet.statusCode >= 400);
    assert.equal(viaGet.json().errors[0].extensions.code, "INVALID_ARGUMENT");

    const notJson = await app.inject({
      method: "POST",
      url: "/graphql",
      headers: { "content-type": "application/json", authorization },
      payload: "{ not json",
    });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().errors[0].extensions.code, "INVALID_ARGUMENT");

    const read = await app.inject({
      method: "GET",
      url: `/graphql?query=${encodeURIComponent("{ __typename }")}`,
      headers: { authorization },
    });
    assert.deepEqual(read.json(), { data: { __typename: "Query" } });
  });

  test("GraphiQL and every asset it loads are served from this process, with no CDN reference", async () => {
    const page = await app.inject({ method: "GET", url: "/graphiql" });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.doesNotMatch(page.body, /https?:\/\//);
    // No inline script or style: the page runs under the gateway's documentation policy (services/gateway/app.test.ts).
    assert.doesNotMatch(page.body, /<script>|<style|style="/);

    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.deepEqual(sources, [
      "data:,",
      "/graphiql/assets/graphiql.min.css",
      "/graphiql/assets/graphiql-page.css",
      "/graphiql/assets/react.production.min.js",
      "/graphiql/assets/react-dom.production.min.js",
      "/graphiql/assets/graphiql.min.js",
      "/graphiql/assets/graphiql-start.js",
    ]);
    const cdn = /https?:\/\/(unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|esm\.sh|fonts\.googleapis\.com)/;
    for (const source of sources.slice(1)) {
      const res = await app.inject({ method: "GET", url: source });
      assert.equal(res.statusCode, 200, source);
      const type = source.endsWith(".css") ? /^text\/css/ : /^application\/javascript/;
      assert.match(String(res.headers["content-type"]), type, source);
      assert.doesNotMatch(res.body, cdn, source);
      const again = await app.inject({
        method: "GET",
        url: source,
        headers: { "if-none-match": String(res.headers.etag) },
      });
      assert.equal(again.statusCode, 304, source);
    }
    const start = await app.inject({ method: "GET", url: "/graphiql/assets/graphiql-start.js" });
    assert.match(start.body, /GraphiQL\.createFetcher\(\{ url: "\/graphql" \}\)/);

    assert.equal((await app.inject({ method: "GET", url: "/graphiql/assets/package.json" })).statusCode, 404);
    assert.equal((await app.inject({ method: "GET", url: "/graphiql/assets/..%2Fpackage.json" })).statusCode, 404);

    const browser = await app.inject({ method: "GET", url: "/graphql", headers: { accept: "text/html" } });
    assert.equal(browser.statusCode, 302);
    assert.equal(browser.headers.location, "/graphiql");
  });

  test("with graphiql off, the IDE and its assets are 404 and /graphql is not redirected", async () => {
    const off = await buildApp({ users, audit, graphiql: false });
    try {
      for (const url of ["/graphiql", "/graphiql/assets/graphiql.min.js", "/graphiql/assets/graphiql-start.js"]) {
        assert.equal((await off.inject({ method: "GET", url })).statusCode, 404, url);
      }
      const browser = await off.inject({ method: "GET", url: "/graphql", headers: { accept: "text/html" } });
      assert.notEqual(browser.statusCode, 302);
      assert.equal((await gql(off, "{ __typename }")).data.__typename, "Query");
    } finally {
      await off.close();
    }
  });
});

describe("GraphQL errors that are not the client's", () => {
  test("an unreachable users service is UNAVAILABLE with a safe message", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    const users = createUsersBackend({ target: `127.0.0.1:${port}`, deadlineMs: 2_000 });
    const app = await buildApp({ users, audit, graphiql: false });
    try {
      const res = await gql(app, `{ user(id: "1") { id } }`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.data, { user: null });
      const error = onlyError(res, "UNAVAILABLE");
      assert.equal(error.message, "the users service is unavailable");
    } finally {
      await app.close();
      users.close();
    }
  });

  test("an unexpected failure is INTERNAL with a generic message and nothing of the cause", async () => {
    const secret = "driver exploded at /srv/secret/path.ts:42";
    const failing = new Proxy({} as UsersBackend, {
      get: () => () => Promise.reject(new TypeError(secret)),
    });
    const app = await buildApp({ users: failing, audit, graphiql: false });
    try {
      for (const query of [`{ a: user(id: "1") { id } b: user(id: "2") { id } }`, "{ users { nodes { id } } }"]) {
        const res = await app.inject({
          method: "POST",
          url: "/graphql",
          payload: { query },
          headers: { authorization },
        });
        assert.doesNotMatch(res.body, /secret|exploded|TypeError|\.ts:/);
        const body = res.json() as { data: unknown; errors: GqlError[] };
        assert.ok(body.errors.length > 0);
        for (const error of body.errors) {
          assert.equal(error.extensions.code, "INTERNAL");
          assert.equal(error.message, "internal error");
        }
      }
    } finally {
      await app.close();
    }
  });
});
