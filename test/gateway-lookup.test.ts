/**
 * POST /v1/users:lookup end to end: the real users service and the real gateway as processes on port 0. The
 * e-mail travels in the body; the route's colon is escaped for find-my-way, so the lookup is reached and the
 * routes around it (`/v1/users`, `/v1/users/{id}`) are not shadowed. Every response is checked against
 * contracts/openapi/users.v1.yaml besides the assertions here.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

const validator = createOpenApiValidator();
const email = (tag = "u") => `${tag}.${randomUUID().slice(0, 8)}@example.com`;
const LOOKUP = "/v1/users:lookup";

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked against the contract before use
  readonly body: any;
}

describe("POST /v1/users:lookup (real users and gateway processes)", () => {
  let users: ServiceProcess;
  let gateway: ServiceProcess;
  let base = "";

  /** One request; its response must conform to the contract (or be a 404 problem outside it). */
  async function call(
    method: string,
    path: string,
    options: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.raw;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    const answer = { status: response.status, headers: response.headers, text };
    const operation = validator.operationFor(method, new URL(path, base).pathname);
    const problems = operation ? validator.check(operation.id, answer) : validator.checkProblem(404, answer);
    assert.deepEqual(problems, [], `${method} ${path} → ${response.status} ${text}`);
    return { ...answer, body: text === "" ? undefined : JSON.parse(text) };
  }
  const lookup = (json: unknown) => call("POST", LOOKUP, { json });
  const fields = (answer: Answer): string[] =>
    [...new Set<string>((answer.body.errors ?? []).map((e: { field: string }) => e.field))].sort();

  before(async () => {
    users = await startService(
      "services/users/main.ts",
      { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1" },
      "users service ready",
    );
    gateway = await startService(
      "services/gateway/main.ts",
      {
        GATEWAY_PORT: "0",
        GATEWAY_HOST: "127.0.0.1",
        USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
        GATEWAY_BODY_LIMIT: "4096",
      },
      "gateway ready",
    );
    base = `http://127.0.0.1:${gateway.ready.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await users?.stop();
  });

  test("finds the user by email, case-insensitively, with the ETag GET sends", async () => {
    const created = await call("POST", "/v1/users", { json: { name: "Ada Lookup", email: email("ada") } });
    assert.equal(created.status, 201, "POST /v1/users is still the create, not shadowed by the lookup");
    const got = await call("GET", `/v1/users/${created.body.id}`);
    assert.equal(got.status, 200, "GET /v1/users/{id} is not shadowed");

    const found = await lookup({ email: created.body.email });
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(found.body, got.body);
    assert.equal(found.headers.get("etag"), got.headers.get("etag"));

    const upper = await lookup({ email: created.body.email.toUpperCase() });
    assert.equal(upper.status, 200, "upper case finds the lower-case address");
    assert.equal(upper.body.id, created.body.id);

    const renamed = await call("PATCH", `/v1/users/${created.body.id}`, { json: { name: "Ada King" } });
    assert.equal(renamed.status, 200, "PATCH /v1/users/{id} is not shadowed");
    const after = await lookup({ email: created.body.email });
    assert.equal(after.body.name, "Ada King", "the lookup reads the current user");
    assert.equal(after.headers.get("etag"), renamed.headers.get("etag"));
  });

  test("no user with the email is a 404 problem that does not repeat the address", async () => {
    const address = email("nobody");
    const missing = await lookup({ email: address });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "NOT_FOUND");
    assert.ok(!missing.text.includes(address), `the address is not echoed: ${missing.text}`);

    const created = await call("POST", "/v1/users", { json: { name: "Gone", email: email("gone") } });
    assert.equal((await call("DELETE", `/v1/users/${created.body.id}`)).status, 204);
    assert.equal((await lookup({ email: created.body.email })).status, 404, "a deleted user is not found");
  });

  test("hostile bodies are 400 problems naming the field, never a 500", async () => {
    for (const bad of ["not-an-email", "a@b", "ünï@example.com", "ada@exämple.com", `${"x".repeat(250)}@example.com`]) {
      const refused = await lookup({ email: bad });
      assert.equal(refused.status, 400, bad);
      assert.equal(refused.body.code, "INVALID_ARGUMENT");
      assert.deepEqual(fields(refused), ["/email"], bad);
    }
    const missing = await lookup({});
    assert.equal(missing.status, 400);
    assert.deepEqual(fields(missing), ["/email"]);
    const wrongType = await lookup({ email: 42 });
    assert.deepEqual(fields(wrongType), ["/email"]);
    const unknown = await lookup({ email: email(), name: "Ada" });
    assert.equal(unknown.status, 400, "an unknown field is refused, not ignored");
    assert.deepEqual(fields(unknown), ["/name"]);

    assert.equal((await call("POST", LOOKUP)).status, 400, "the body is required");
    assert.equal(
      (await call("POST", LOOKUP, { raw: "{", headers: { "content-type": "application/json" } })).status,
      400,
    );
    const text = await call("POST", LOOKUP, { raw: "ada@example.com", headers: { "content-type": "text/plain" } });
    assert.equal(text.status, 415);
    const huge = await lookup({ email: `${"x".repeat(5_000)}@example.com` });
    assert.equal(huge.status, 413);
  });

  test("the e-mail never rides in the URL: GET is 405 (Allow: POST); near-miss paths are 404", async () => {
    const get = await fetch(`${base}${LOOKUP}?email=ada@example.com`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    // With the email of a real user: a path the router wrongly took for the lookup would answer 200.
    const created = await call("POST", "/v1/users", { json: { name: "Near Miss", email: email("near") } });
    for (const path of ["/v1/users:lookupx", "/v1/users:find", "/v1/usersXYZ", "/v1/users::lookup"]) {
      const miss = await call("POST", path, { json: { email: created.body.email } });
      assert.equal(miss.status, 404, `${path} → ${miss.text}`);
      assert.equal(miss.body.detail.includes("email"), false, `${path} is not the lookup: ${miss.text}`);
    }
    // A colon in an id segment is still the getUser route, refused by the id's rule.
    const colon = await call("GET", "/v1/users/:lookup");
    assert.equal(colon.status, 400);
    assert.deepEqual(fields(colon), ["id"]);
  });

  test("requests are counted under the contract's path", async () => {
    await lookup({ email: email("counted") });
    const text = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.match(
      text,
      /charter_gateway_http_request_duration_seconds_count\{[^}]*method="POST",route="\/v1\/users:lookup",status="404"\} [1-9]/,
    );
  });
});
