/**
 * Authentication and authorization at the gateway, end to end: a real issuer (the development OpenID provider on a
 * free port), the real users service (hosting the audit service) and the real gateway as processes, driven with
 * fetch; every response to an API operation is checked against the contract (its Unauthenticated and
 * PermissionDenied responses included). Without a token every operation — REST, GraphQL, and the history the gateway
 * reaches over gRPC — is 401; with users:read the writes are 403 naming users:write; with every scope all pass.
 * Hostile tokens are refused 401 with the same detail, and a key rotation is followed without a restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CryptoKey, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { DEFAULT_AUDIENCE } from "../platform/auth/auth-config.js";
import { createTokenVerifier, MAX_TOKEN_BYTES } from "../platform/auth/token-verifier.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { buildGateway } from "../services/gateway/app.js";
import { loadOpenApiDocument, operationsOf } from "../services/gateway/transport/rest/openapi-document.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
import {
  bearer,
  inProcessAuth,
  inProcessGatewayOptions,
  offlineUsers,
  TEST_ISSUER,
  testKeys,
} from "./support/in-process-gateway.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

const validator = createOpenApiValidator();
const DETAIL = "a valid bearer token is required";
const CHALLENGE = 'Bearer realm="charter"';
const INVALID = 'Bearer realm="charter", error="invalid_token"';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked against the contract before use
  readonly body: any;
}

let issuer: TestIssuer;
let users: ServiceProcess;
let gateway: ServiceProcess;
let base = "";

before(async () => {
  issuer = await startTestIssuer();
  users = await startService(
    "services/users/main.ts",
    { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
    "users service ready",
  );
  gateway = await startService(
    "services/gateway/main.ts",
    {
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      ...otherServicesOffline(),
      USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
      ...LOAD_BUDGET,
      ...issuer.env,
    },
    "gateway ready",
  );
  base = `http://127.0.0.1:${gateway.ready.port}`;
});
after(async () => {
  await gateway?.stop();
  await users?.stop();
  await issuer?.close();
});

/** One REST request, whose response must conform to the contract. */
async function call(method: string, path: string, authorization?: string, json?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (json !== undefined)
    headers["content-type"] = path.includes("/v1/users/") ? "application/merge-patch+json" : "application/json";
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  const text = await response.text();
  const answer = { status: response.status, headers: response.headers, text };
  const operation = validator.operationFor(method, new URL(path, base).pathname);
  assert.ok(operation, `${method} ${path} is an operation of the contract`);
  assert.deepEqual(validator.check(operation.id, answer), [], `${method} ${path} → ${response.status} ${text}`);
  return { ...answer, body: text === "" ? undefined : JSON.parse(text) };
}

async function graphql(query: string, authorization?: string) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL bodies, checked field by field
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

/** Every REST operation of the contract as one request, for a user `id`; the test fails if the contract has more. */
const requests = (id: string, email = "nobody@example.com") => [
  {
    op: "createUser",
    method: "POST",
    path: "/v1/users",
    json: { name: "Auth", email: `auth.${randomUUID().slice(0, 8)}@example.com` },
  },
  { op: "listUsers", method: "GET", path: "/v1/users" },
  { op: "lookupUser", method: "POST", path: "/v1/users:lookup", json: { email } },
  { op: "getUser", method: "GET", path: `/v1/users/${id}` },
  { op: "updateUser", method: "PATCH", path: `/v1/users/${id}`, json: { name: "Renamed" } },
  { op: "listUserHistory", method: "GET", path: `/v1/users/${id}/history` },
  { op: "getUserStats", method: "GET", path: "/v1/stats/users" },
  { op: "deleteUser", method: "DELETE", path: `/v1/users/${id}` },
];

/** Every GraphQL root field, with the scope its @auth names. */
const fields = (id: string) => [
  { query: `{ user(id: "${id}") { id } }`, scope: "users:read" },
  { query: `{ userByEmail(email: "nobody@example.com") { id } }`, scope: "users:read" },
  { query: "{ users(first: 1) { nodes { id } } }", scope: "users:read" },
  { query: `{ userHistory(id: "${id}") { nodes { type } } }`, scope: "users:history" },
  { query: "{ userStats { liveUsers } }", scope: "users:read" },
  {
    query: `mutation { createUser(input: { name: "G", email: "g.${randomUUID().slice(0, 8)}@example.com" }) { id } }`,
    scope: "users:write",
  },
  { query: `mutation { updateUser(input: { id: "${id}", name: "H" }) { id } }`, scope: "users:write" },
  { query: `mutation { deleteUser(id: "${id}") { id } }`, scope: "users:write" },
];

/** No stats pipeline runs here (embedded defaults): a stats read let through is the 503 that says so. */
const NOT_RUNNING = /^the stats pipeline is not running/;
const passedRest = (op: string, answer: { status: number; body: { detail?: string } }) =>
  answer.status < 400 || (op === "getUserStats" && answer.status === 503 && NOT_RUNNING.test(answer.body.detail ?? ""));
// biome-ignore lint/suspicious/noExplicitAny: GraphQL errors, checked field by field
const passedGraphql = (query: string, errors: any[] | undefined) =>
  errors === undefined ||
  (query.includes("userStats") &&
    errors.length === 1 &&
    errors[0].extensions.code === "UNAVAILABLE" &&
    NOT_RUNNING.test(errors[0].message));

describe("the contract's security at the gateway (acceptance)", () => {
  test("the requests here cover every operation of the contract", () => {
    const covered = requests("1")
      .map((r) => r.op)
      .sort();
    assert.deepEqual(
      covered,
      operationsOf(loadOpenApiDocument())
        .map((o) => o.id)
        .sort(),
    );
  });

  test("without a token every operation is 401 UNAUTHENTICATED with WWW-Authenticate, REST and GraphQL", async () => {
    for (const r of requests("1")) {
      const answer = await call(r.method, r.path, undefined, r.json);
      assert.equal(answer.status, 401, `${r.op}: ${answer.text}`);
      assert.equal(answer.headers.get("www-authenticate"), CHALLENGE, r.op);
      assert.equal(answer.body.code, "UNAUTHENTICATED");
      assert.equal(answer.body.detail, DETAIL);
    }
    // HEAD of a GET operation too (its body-less 401 still carries the challenge).
    const head = await fetch(`${base}/v1/users/1`, { method: "HEAD" });
    assert.equal(head.status, 401);
    assert.equal(head.headers.get("www-authenticate"), CHALLENGE);
    for (const f of fields("1")) {
      const answer = await graphql(f.query);
      assert.equal(answer.status, 401, f.query);
      assert.equal(answer.headers.get("www-authenticate"), CHALLENGE);
      assert.equal(answer.body.errors[0].extensions.code, "UNAUTHENTICATED");
      assert.equal(answer.body.data, undefined);
    }
  });

  test("with users:read the reads pass and the writes are 403 naming users:write", async () => {
    const all = await issuer.bearer();
    const created = await call("POST", "/v1/users", all, {
      name: "Reader's",
      email: `r.${randomUUID().slice(0, 8)}@example.com`,
    });
    assert.equal(created.status, 201, created.text);
    const reader = `Bearer ${await issuer.tokenWith(["users:read"])}`;
    for (const r of requests(created.body.id, created.body.email)) {
      const answer = await call(r.method, r.path, reader, r.json);
      const scope = operationsOf(loadOpenApiDocument()).find((o) => o.id === r.op)?.security[0]?.[0];
      if (scope === "users:read") {
        assert.ok(passedRest(r.op, answer), `${r.op} with users:read: ${answer.status} ${answer.text}`);
        continue;
      }
      assert.equal(answer.status, 403, `${r.op}: ${answer.text}`);
      assert.equal(answer.body.code, "PERMISSION_DENIED");
      assert.equal(answer.body.detail, `this operation needs the scope ${scope}`);
      assert.equal(
        answer.headers.get("www-authenticate"),
        `Bearer realm="charter", error="insufficient_scope", scope="${scope}"`,
      );
    }
    for (const f of fields(created.body.id)) {
      const answer = await graphql(f.query, reader);
      assert.equal(answer.status, 200, f.query);
      if (f.scope === "users:read") {
        assert.ok(passedGraphql(f.query, answer.body.errors), `${f.query}: ${JSON.stringify(answer.body.errors)}`);
        continue;
      }
      assert.equal(answer.body.errors.length, 1, f.query);
      assert.equal(answer.body.errors[0].extensions.code, "PERMISSION_DENIED");
      assert.equal(answer.body.errors[0].message, `this operation needs the scope ${f.scope}`);
    }
    // Nothing the reader tried changed the user.
    const still = await call("GET", `/v1/users/${created.body.id}`, all);
    assert.deepEqual(still.body, created.body);
  });

  test("with every scope every operation passes", async () => {
    const all = await issuer.bearer();
    const created = await call("POST", "/v1/users", all, {
      name: "Everything",
      email: `e.${randomUUID().slice(0, 8)}@example.com`,
    });
    assert.equal(created.status, 201, created.text);
    for (const r of requests(created.body.id, created.body.email).slice(1)) {
      const answer = await call(r.method, r.path, all, r.json);
      assert.ok(
        passedRest(r.op, answer) || (r.op === "lookupUser" && answer.status === 404),
        `${r.op}: ${answer.status} ${answer.text}`,
      );
    }
    const again = await call("POST", "/v1/users", all, {
      name: "Again",
      email: `a.${randomUUID().slice(0, 8)}@example.com`,
    });
    for (const f of fields(again.body.id)) {
      const answer = await graphql(f.query, all);
      assert.equal(answer.status, 200, f.query);
      assert.ok(passedGraphql(f.query, answer.body.errors), `${f.query}: ${JSON.stringify(answer.body.errors)}`);
    }
  });

  test("health, readiness, metrics, the contract, the docs and GraphiQL stay open", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/json", "/graphiql"]) {
      const response = await fetch(`${base}${path}`);
      assert.ok(response.status < 400, `${path} answers ${response.status}`);
      await response.arrayBuffer();
    }
  });

  test("the served contract's tokenUrl is the issuer's token endpoint (from its discovery)", async () => {
    const served = (await (await fetch(`${base}/openapi.json`)).json()) as {
      components: { securitySchemes: { oauth2: { flows: { clientCredentials: { tokenUrl: string } } } } };
    };
    assert.equal(served.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl, issuer.tokenEndpoint);
    const ui = (await (await fetch(`${base}/docs/json`)).json()) as typeof served;
    assert.equal(ui.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl, issuer.tokenEndpoint);
  });

  test("the request line names the subject, never the token", async () => {
    const token = await issuer.tokenWith(["users:read"]);
    const requestId = `auth-${randomUUID()}`;
    await fetch(`${base}/v1/users/1`, { headers: { authorization: `Bearer ${token}`, "x-request-id": requestId } });
    const line = await waitForLine(gateway, requestId);
    assert.equal(line.subject, "charter-dev");
    assert.ok(
      !gateway.output.join("\n").includes(token.split(".")[2] ?? "-"),
      "the token's signature is in no log line",
    );
    const refusedId = `auth-${randomUUID()}`;
    await fetch(`${base}/v1/users/1`, { headers: { authorization: "Bearer a.b.c", "x-request-id": refusedId } });
    assert.equal((await waitForLine(gateway, refusedId)).auth_failure, "malformed");
  });
});

async function waitForLine(process: ServiceProcess, requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = process.output.find((l) => l.includes(requestId) && l.includes('"msg":"request"'));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await sleep(20);
  }
  throw new Error(`no request line for ${requestId}`);
}

describe("hostile tokens at the gateway are 401 with the same detail", () => {
  /** A token like the issuer's, signed by `sign` with `header`, claims on top of valid ones. */
  const forge = async (header: Record<string, unknown>, key: Parameters<SignJWT["sign"]>[0], claims = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: "users:read users:write users:history", ...claims })
      .setProtectedHeader(header as { alg: string })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject("charter-dev")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(key);
  };
  const issuerKey = async (): Promise<JWK> => {
    const jwks = (await (await fetch(`${issuer.issuer}/jwks`)).json()) as { keys: JWK[] };
    const key = jwks.keys.find((k) => k.kty === "RSA");
    assert.ok(key);
    return key;
  };
  const refusedEverywhere = async (label: string, authorization: string) => {
    const rest = await call("GET", "/v1/users", authorization);
    assert.equal(rest.status, 401, `${label}: ${rest.text}`);
    assert.equal(rest.body.detail, DETAIL, label);
    assert.equal(rest.headers.get("www-authenticate"), INVALID, label);
    const write = await call("POST", "/v1/users", authorization, { name: "X", email: "x@example.com" });
    assert.equal(write.status, 401, label);
  };

  test("alg none, key confusion, another audience or issuer, expired, not yet valid", async () => {
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer.issuer,
      aud: issuer.audience,
      sub: "charter-dev",
      scope: "users:read",
      exp: now + 600,
    };
    await refusedEverywhere("alg none", `Bearer ${part({ alg: "none" })}.${part(claims)}.`);
    await refusedEverywhere("alg none signed", `Bearer ${part({ alg: "none" })}.${part(claims)}.eA`);

    const jwk = await issuerKey();
    const pem = await exportSPKI((await importJWK(jwk, "RS256")) as CryptoKey);
    const hs = await forge({ alg: "HS256", kid: jwk.kid }, new TextEncoder().encode(pem));
    await refusedEverywhere("HS256 with the issuer's public key", `Bearer ${hs}`);

    // A genuine token of the same issuer for another audience.
    const other = await startTestIssuerToken({ audience: "urn:another:api" });
    await refusedEverywhere("another audience", `Bearer ${other}`);
    const stranger = await generateKeyPair("RS256");
    await refusedEverywhere(
      "a key the issuer never published",
      `Bearer ${await forge({ alg: "RS256", kid: jwk.kid }, stranger.privateKey)}`,
    );
  });

  test("unknown kid, a kid that is a path or a URL, oversized, malformed base64", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    for (const kid of ["unknown", "../../etc/passwd", "http://127.0.0.1:9/jwks", "file:///etc/passwd"]) {
      await refusedEverywhere(`kid ${kid}`, `Bearer ${await forge({ alg: "RS256", kid }, privateKey)}`);
    }
    const big = await forge({ alg: "RS256", kid: "k" }, privateKey, { pad: "x".repeat(MAX_TOKEN_BYTES) });
    await refusedEverywhere("oversized", `Bearer ${big}`);
    const valid = (await issuer.bearer()).slice("Bearer ".length);
    const [h, p, s] = valid.split(".");
    await refusedEverywhere("bad base64", `Bearer ${h}.${p}%%.${s}`);
    await refusedEverywhere("two parts", `Bearer ${h}.${p}`);
    await refusedEverywhere(
      "tampered payload",
      `Bearer ${h}.${Buffer.from('{"sub":"admin"}').toString("base64url")}.${s}`,
    );
  });

  test("a rotated key is followed without a restart; a retired one is refused once the key cache refreshes", async () => {
    const old = await issuer.bearer();
    assert.equal((await call("GET", "/v1/users", old)).status, 200);
    await issuer.rotate();
    const fresh = `Bearer ${await issuer.tokenWith()}`;
    assert.equal((await call("GET", "/v1/users", fresh)).status, 200, "a token of the new key is accepted at once");
    assert.equal((await call("GET", "/v1/users", old)).status, 200, "the old key is still published");
    await issuer.retire();
    // The gateway's key cache is 1 s here (AUTH_JWKS_CACHE_MS): the replayed token is refused once it refreshes.
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      await sleep(100);
      status = (await call("GET", "/v1/users", old)).status;
    }
    assert.equal(status, 401, "a token of the retired key is refused");
    assert.equal((await call("GET", "/v1/users", fresh)).status, 200);
  });
});

/** A token signed with the issuer's own key is out of reach of a test; this asks a second issuer for the audience. */
async function startTestIssuerToken(options: { audience: string }): Promise<string> {
  const { startDevIssuer } = await import("../platform/auth/dev-issuer.js");
  const { API_SCOPES } = await import("../platform/auth/scopes.js");
  const other = await startDevIssuer({ port: 0, scopes: API_SCOPES, audience: options.audience });
  try {
    const client = other.clients[0];
    assert.ok(client);
    return await other.token(client);
  } finally {
    await other.close();
  }
}

describe("token claims at the gateway (in-process, the test signs with a key the gateway trusts)", () => {
  const user = {
    id: "1",
    etag: "1",
    name: "Ada",
    email: "ada@example.com",
    createTime: "2026-01-01T00:00:00Z",
    updateTime: "2026-01-01T00:00:00Z",
  };
  /** The in-process gateway's answer, checked against the contract. */
  const inject = async (
    app: Awaited<ReturnType<typeof buildGateway>>,
    method: "GET" | "POST",
    url: string,
    authorization: string,
  ) => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
      ...(method === "POST" ? { payload: { name: "Ada", email: "ada@example.com" } } : {}),
    });
    const answer = {
      status: res.statusCode,
      headers: new Headers(res.headers as Record<string, string>),
      text: res.body,
    };
    const operation = validator.operationFor(method, url);
    assert.ok(operation);
    assert.deepEqual(validator.check(operation.id, answer), [], `${method} ${url} → ${res.statusCode} ${res.body}`);
    return { ...answer, body: res.body === "" ? undefined : JSON.parse(res.body) };
  };
  const backend = offlineUsers({ getUser: async () => ({ user }), createUser: async () => ({ user }) });

  test("expired, not yet valid and another issuer are 401 with the same detail; within the skew, accepted", async () => {
    const app = await buildGateway(inProcessGatewayOptions({ users: backend }));
    try {
      const now = Math.floor(Date.now() / 1000);
      assert.equal((await inject(app, "GET", "/v1/users/1", await bearer())).status, 200);
      const cases: [string, Record<string, unknown>][] = [
        ["expired", { exp: now - 60, iat: now - 700 }],
        ["not yet valid", { nbf: now + 3600 }],
        ["another issuer", { iss: "http://127.0.0.1:9/another" }],
        ["another audience", { aud: "urn:another:api" }],
        ["no subject", { sub: undefined }],
      ];
      for (const [label, claims] of cases) {
        const answer = await inject(app, "GET", "/v1/users/1", await bearer({ claims }));
        assert.equal(answer.status, 401, label);
        assert.equal(answer.body.detail, DETAIL, label);
        assert.equal(answer.headers.get("www-authenticate"), INVALID, label);
      }
      assert.equal((await inject(app, "GET", "/v1/users/1", await bearer({ claims: { exp: now - 10 } }))).status, 200);
    } finally {
      await app.close();
    }
  });

  test("an expiry judged by the verifier's clock: the same token passes, then is refused when the clock moves", async () => {
    let clock = new Date();
    const verifier = createTokenVerifier({
      issuer: TEST_ISSUER,
      audience: DEFAULT_AUDIENCE,
      keys: testKeys,
      clockSkewS: 30,
      jwksCacheMs: 1000,
      jwksCooldownMs: 0,
      currentDate: () => clock,
    });
    const app = await buildGateway(inProcessGatewayOptions({ users: backend, auth: { ...inProcessAuth(), verifier } }));
    try {
      const token = await bearer();
      assert.equal((await inject(app, "GET", "/v1/users/1", token)).status, 200);
      clock = new Date(Date.now() + 700_000);
      assert.equal((await inject(app, "GET", "/v1/users/1", token)).status, 401);
    } finally {
      await app.close();
    }
  });

  test("scopes that almost match are 403 naming users:write, never a pass", async () => {
    const app = await buildGateway(inProcessGatewayOptions({ users: backend }));
    try {
      const scopes: Record<string, unknown>[] = [
        { scope: "users:writer" },
        { scope: "users:writ" },
        { scope: "USERS:WRITE" },
        { scope: "users:read,users:write" },
        { scope: "users:read+users:write" },
        { scope: ["users:write"] },
        { scope: undefined, scp: "users:write" },
        { scope: "users:read", scp: ["users:write"] },
      ];
      for (const claims of scopes) {
        const answer = await inject(app, "POST", "/v1/users", await bearer({ claims }));
        assert.equal(answer.status, 403, JSON.stringify(claims));
        assert.equal(answer.body.detail, "this operation needs the scope users:write");
        assert.equal(
          answer.headers.get("www-authenticate"),
          'Bearer realm="charter", error="insufficient_scope", scope="users:write"',
        );
      }
      const exact = await inject(app, "POST", "/v1/users", await bearer({ claims: { scope: "users:write" } }));
      assert.equal(exact.status, 201);
    } finally {
      await app.close();
    }
  });

  test("the caller's Authorization goes with every backend call, from REST handlers and GraphQL resolvers", async () => {
    const seen: (string | undefined)[] = [];
    const users = offlineUsers({
      getUser: async (_request, ctx) => {
        seen.push(ctx?.authorization);
        return { user };
      },
      batchGetUsers: async (_request, ctx) => {
        seen.push(ctx?.authorization);
        return { users: [user] };
      },
    });
    const { registerGraphql } = await import("../services/gateway/transport/graphql/index.js");
    const app = await buildGateway(
      inProcessGatewayOptions({
        users,
        plugins: [(host, deps) => registerGraphql(host, { users: deps.users, audit: deps.audit, graphiql: false })],
      }),
    );
    try {
      const token = await bearer({ sub: "forwarded" });
      assert.equal((await inject(app, "GET", "/v1/users/1", token)).status, 200);
      const gql = await app.inject({
        method: "POST",
        url: "/graphql",
        headers: { authorization: token },
        payload: { query: '{ user(id: "1") { id } }' },
      });
      assert.equal(gql.statusCode, 200, gql.body);
      assert.deepEqual(seen, [token, token]);
    } finally {
      await app.close();
    }
  });
});
