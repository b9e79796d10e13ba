/**
 * The REST API end to end: the real users service and the real gateway as processes on port 0,
 * driven with fetch. Every response is checked against contracts/openapi/users.v1.yaml (status
 * documented, content type, body schema, documented headers) besides the assertions here.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
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

interface CallOptions {
  /** Sent as JSON unless `raw` is given. */
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

describe("gateway REST API (real users and gateway processes)", () => {
  let users: ServiceProcess;
  let gateway: ServiceProcess;
  let issuer: TestIssuer;
  /** Every request carries a token with every scope (the users service checks it too); the tests of its absence are test/gateway-auth.test.ts. */
  let authorization = "";
  let base = "";

  /** One request; its response must conform to the contract (or be a 404 problem outside it). */
  async function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { authorization, ...options.headers };
    let body: string | undefined = options.raw;
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
    assert.ok(response.headers.get("x-request-id"), "every response carries a request id");
    return { ...answer, body: text === "" ? undefined : JSON.parse(text) };
  }
  const create = async (name: string, mail = email()) => {
    const answer = await call("POST", "/v1/users", { json: { name, email: mail } });
    assert.equal(answer.status, 201, answer.text);
    return answer.body;
  };
  /** The distinct field names of a problem's errors, sorted. */
  const fields = (answer: Answer): string[] =>
    [...new Set<string>((answer.body.errors ?? []).map((e: { field: string }) => e.field))].sort();

  before(async () => {
    issuer = await startTestIssuer();
    authorization = await issuer.bearer();
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
        GATEWAY_BODY_LIMIT: "4096",
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

  test("create, get, conditional get, patch with and without If-Match, stale 412, delete", async () => {
    const mail = email("Ada");
    const created = await call("POST", "/v1/users", { json: { name: "Ada Lovelace", email: mail } });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, "Ada Lovelace");
    assert.equal(created.headers.get("location"), `/v1/users/${created.body.id}`);
    assert.equal(created.headers.get("etag"), `"${created.body.etag}"`);
    const url = created.headers.get("location") ?? "";

    const got = await call("GET", url);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);
    assert.equal(got.headers.get("etag"), `"${created.body.etag}"`);

    const etag = got.headers.get("etag") ?? "";
    const notModified = await call("GET", url, { headers: { "if-none-match": etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("etag"), etag);
    assert.equal((await call("GET", url, { headers: { "if-none-match": `W/${etag}` } })).status, 304);
    assert.equal((await call("GET", url, { headers: { "if-none-match": '"nope"' } })).status, 200);

    const renamed = await call("PATCH", url, {
      json: { name: "Ada King" },
      headers: { "content-type": "application/merge-patch+json", "if-match": etag },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.name, "Ada King");
    assert.equal(renamed.body.email, mail, "fields absent from the patch are kept");
    assert.notEqual(renamed.headers.get("etag"), etag);
    assert.equal(renamed.headers.get("etag"), `"${renamed.body.etag}"`);

    const stale = await call("PATCH", url, { json: { name: "Lost" }, headers: { "if-match": etag } });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.code, "ABORTED");
    assert.equal((await call("DELETE", url, { headers: { "if-match": etag } })).status, 412);

    const latest = await call("PATCH", url, { json: { email: mail.toUpperCase() } });
    assert.equal(latest.status, 200, "without If-Match the patch applies to the latest version");
    const listed = await call("PATCH", url, {
      json: { name: "Countess" },
      headers: { "if-match": `"0", W/"${latest.body.etag}", "${latest.body.etag}"` },
    });
    assert.equal(listed.status, 200, "a list of entity tags naming the current one matches");
    assert.equal(
      (await call("PATCH", url, { json: { name: "x" }, headers: { "if-match": `W/"${listed.body.etag}"` } })).status,
      412,
      "If-Match compares strongly: a weak tag never matches",
    );

    const deleted = await call("DELETE", url, { headers: { "if-match": `"${listed.body.etag}"` } });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, "");
    assert.equal((await call("GET", url)).status, 404);
    assert.equal((await call("DELETE", url)).status, 404);
    assert.equal((await call("PATCH", url, { json: { name: "Ghost" } })).status, 404);
  });

  test("list walks every page; each created user appears once, in order", async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await create(`Pager ${i}`)).id);
    const seen: string[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const query = token === undefined ? "" : `&pageToken=${encodeURIComponent(token)}`;
      const page = await call("GET", `/v1/users?pageSize=2${query}`);
      assert.equal(page.status, 200);
      assert.ok(Array.isArray(page.body.users) && page.body.users.length <= 2);
      seen.push(...page.body.users.map((u: { id: string }) => u.id));
      token = page.body.nextPageToken;
      if (token === undefined) break;
    }
    assert.equal(token, undefined, "the last page has no nextPageToken");
    assert.equal(new Set(seen).size, seen.length, "no user twice");
    assert.deepEqual(
      seen.filter((id) => made.includes(id)),
      made,
    );
    const first = await call("GET", "/v1/users");
    assert.equal(first.status, 200);
    assert.ok(Array.isArray(first.body.users), "users is always present");
  });

  test("unicode names and emails round-trip unchanged", async () => {
    for (const name of ["Zoë Ångström", "李小龙", "Ελένη 🚀", "ダニエル"]) {
      const created = await create(name);
      assert.equal(created.name, name);
      assert.equal((await call("GET", `/v1/users/${created.id}`)).body.name, name);
    }
  });

  test("invalid input is 400 with every bad field named", async () => {
    const wrongTypes = await call("POST", "/v1/users", { json: { name: 42, email: ["x"] } });
    assert.equal(wrongTypes.status, 400);
    assert.equal(wrongTypes.body.code, "INVALID_ARGUMENT");
    assert.deepEqual(fields(wrongTypes), ["/email", "/name"]);

    const unknown = await call("POST", "/v1/users", { json: { name: "Ada", email: email(), admin: true } });
    assert.equal(unknown.status, 400);
    assert.deepEqual(fields(unknown), ["/admin"]);

    const missing = await call("POST", "/v1/users", { json: { name: "Ada" } });
    assert.deepEqual(fields(missing), ["/email"]);

    const long = await call("POST", "/v1/users", { json: { name: "x".repeat(101), email: email() } });
    assert.equal(long.status, 400);
    assert.deepEqual(fields(long), ["/name"]);

    const blank = await call("POST", "/v1/users", { json: { name: "   ", email: email() } });
    assert.equal(blank.status, 400);
    assert.deepEqual(fields(blank), ["/name"]);
    assert.deepEqual(
      blank.body.errors.map((e: { message: string }) => e.message),
      ["must not be blank"],
      "a blank name is told as the contract's pattern message says, not by its pattern",
    );

    const badEmail = await call("POST", "/v1/users", { json: { name: "Ada", email: "not-an-email" } });
    assert.equal(badEmail.status, 400);
    assert.deepEqual(fields(badEmail), ["/email"]);

    for (const id of ["12ab", "99999999999999999999", "-1"]) {
      const badId = await call("GET", `/v1/users/${id}`);
      assert.equal(badId.status, 400, `id ${id}`);
      assert.deepEqual(fields(badId), ["id"]);
    }
    assert.equal((await call("DELETE", "/v1/users/abc")).status, 400);
    // Well-formed by the contract's pattern but past the largest 64-bit id: no user has it.
    for (const method of ["GET", "DELETE"]) {
      const past = await call(method, "/v1/users/9223372036854775808");
      assert.equal(past.status, 404, `${method} of an id past int64`);
      assert.equal(past.body.code, "NOT_FOUND");
    }

    for (const size of ["0", "1001", "ten", "1.5"]) {
      const page = await call("GET", `/v1/users?pageSize=${size}`);
      assert.equal(page.status, 400, `pageSize=${size}`);
      assert.deepEqual(fields(page), ["pageSize"]);
    }
    const token = await call("GET", "/v1/users?pageToken=garbage");
    assert.equal(token.status, 400);
    assert.deepEqual(fields(token), ["pageToken"]);

    const target = (await create("Patch Target")).id;
    const nullName = await call("PATCH", `/v1/users/${target}`, {
      json: { name: null },
      headers: { "content-type": "application/merge-patch+json" },
    });
    assert.equal(nullName.status, 400, "null for a required field is refused");
    assert.deepEqual(fields(nullName), ["/name"]);
    const empty = await call("PATCH", `/v1/users/${target}`, { json: {} });
    assert.equal(empty.status, 400, "a patch must change something");
    const immutable = await call("PATCH", `/v1/users/${target}`, { json: { id: "1" } });
    assert.equal(immutable.status, 400);
    assert.deepEqual(fields(immutable), ["/id"]);
  });

  test("409 for a taken email, case-insensitively, on create and on patch", async () => {
    const mail = email("Taken");
    await create("First", mail);
    const duplicate = await call("POST", "/v1/users", { json: { name: "Second", email: mail.toUpperCase() } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.code, "ALREADY_EXISTS");
    assert.deepEqual(fields(duplicate), ["/email"]);
    const other = await create("Other");
    const patched = await call("PATCH", `/v1/users/${other.id}`, { json: { email: mail } });
    assert.equal(patched.status, 409);
  });

  test("bodies: malformed JSON, empty, missing, wrong media type, too large", async () => {
    const malformed = await call("POST", "/v1/users", {
      raw: '{"name": "Ada",',
      headers: { "content-type": "application/json" },
    });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, "INVALID_ARGUMENT");
    assert.equal(
      (await call("POST", "/v1/users", { raw: "", headers: { "content-type": "application/json" } })).status,
      400,
    );
    assert.equal((await call("POST", "/v1/users")).status, 400, "a required body that is missing");
    assert.equal((await call("POST", "/v1/users", { json: ["not", "an", "object"] })).status, 400);

    const text = await call("POST", "/v1/users", { raw: "name=Ada", headers: { "content-type": "text/plain" } });
    assert.equal(text.status, 415);
    assert.equal(text.body.type, "https://charter.dev/problems/unsupported-media-type");
    const mergeOnCreate = await call("POST", "/v1/users", {
      json: { name: "Ada", email: email() },
      headers: { "content-type": "application/merge-patch+json" },
    });
    assert.equal(mergeOnCreate.status, 415, "create documents application/json only");
    const target = (await create("Media")).id;
    const form = await call("PATCH", `/v1/users/${target}`, {
      raw: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(form.status, 415);

    const huge = await call("POST", "/v1/users", { json: { name: "x".repeat(10_000), email: email() } });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.type, "https://charter.dev/problems/payload-too-large");
    const hugePatch = await call("PATCH", `/v1/users/${target}`, { json: { name: "x".repeat(10_000) } });
    assert.equal(hugePatch.status, 413);
  });

  // An undeclared method on a declared path (PUT /v1/users/1) is 405: see http-semantics.test.ts.
  test("unknown routes are 404 problems; the request id is echoed", async () => {
    const missing = await call("GET", "/v2/nothing", { headers: { "x-request-id": "trace-123" } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-request-id"), "trace-123");
    assert.equal(missing.body.requestId, "trace-123");
    const generated = await call("GET", "/v1/users/1", { headers: { "x-request-id": "bad id with spaces" } });
    assert.notEqual(generated.headers.get("x-request-id"), "bad id with spaces", "an unsafe id is replaced");
  });

  test("paths the router cannot take are 400 problems with a request id and a traceparent, logged and counted", async () => {
    const before = await fetch(`${base}/metrics`).then((r) => r.text());
    const count = (text: string) =>
      Number(
        /charter_gateway_http_request_duration_seconds_count\{[^}]*route="unmatched",status="400"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    for (const path of ["/v1/users/%zz", `/v1/users/${"1".repeat(150)}`, "/v1/users/%E0%A4%A/history"]) {
      const answer = await call("GET", path, { headers: { "x-request-id": "bad-url-1" } });
      assert.equal(answer.status, 400, path);
      assert.equal(answer.body.code, "INVALID_ARGUMENT");
      assert.equal(answer.body.requestId, "bad-url-1");
      assert.match(answer.headers.get("traceparent") ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    }
    const after = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.equal(count(after) - count(before), 3, "each is in the request metric, under the bounded route label");
    await waitFor("their log lines", () =>
      gateway.output.filter((line) => line.includes('"requestId":"bad-url-1"') && line.includes('"msg":"request"'))
        .length === 3
        ? true
        : undefined,
    );
  });

  test("no error response carries a stack trace or internal message", async () => {
    const answers = [
      await call("POST", "/v1/users", { raw: "{", headers: { "content-type": "application/json" } }),
      await call("GET", "/v1/users/1"),
      await call("GET", "/v1/users?pageToken=%00%01"),
      await call("POST", "/v1/users", { json: { name: "\u0000", email: "\u0000@x.y" } }),
    ];
    for (const answer of answers) {
      assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${answer.text}`);
      assert.doesNotMatch(answer.text, /at [\w.<>]+ \(|node_modules|\.ts:\d+|FST_|Error:/);
    }
  });

  test("the contract, docs, health and metrics endpoints", async () => {
    const contract = await fetch(`${base}/openapi.json`);
    assert.equal(contract.status, 200);
    assert.match(contract.headers.get("content-type") ?? "", /^application\/json/);
    const doc = (await contract.json()) as { openapi: string; servers: { url: string }[] };
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      ["/"],
      "Try it out calls the gateway that serves the page",
    );

    const docs = await fetch(`${base}/docs`);
    assert.equal(docs.status, 200);
    const html = await docs.text();
    assert.match(html, /swagger-ui/i);
    const asset = html.match(/src="([^"]*swagger-ui-bundle\.js)"/)?.[1];
    assert.ok(asset, "Swagger UI loads its bundle from the gateway");
    assert.ok(asset.startsWith("/docs/") || asset.startsWith("./"), `local asset ${asset}`);
    const bundle = await fetch(new URL(asset, `${base}/docs/`));
    assert.equal(bundle.status, 200);
    assert.ok((await bundle.arrayBuffer()).byteLength > 0);
    const served = (await (await fetch(`${base}/docs/json`)).json()) as { openapi: string };
    assert.equal(served.openapi, "3.1.0");

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const readiness = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(readiness.checks["charter.users.v1.UsersService/store"], "SERVING");
    assert.equal(readiness.checks["charter.users.v1.UsersService/cache"], "SERVING");

    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /charter_gateway_http_request_duration_seconds_count\{[^}]*route="\/v1\/users\/:id"[^}]*\}/);
  });

  describe("POST /v1/users:lookup: the e-mail in the body, the route's colon escaped for find-my-way", () => {
    const lookup = (json: unknown) => call("POST", LOOKUP, { json });
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
      for (const bad of [
        "not-an-email",
        "a@b",
        "ünï@example.com",
        "ada@exämple.com",
        `${"x".repeat(250)}@example.com`,
      ]) {
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
      const get = await fetch(`${base}${LOOKUP}?email=ada@example.com`, { headers: { authorization } });
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
});
