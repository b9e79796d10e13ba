/**
 * HTTP semantics of the REST API beyond its operations, against the real users service and gateway (CORS on):
 * a method the contract does not declare on a declared path is 405 with Allow, HEAD of a GET route and CORS
 * preflights still work, an unknown path stays 404, and an undeclared query parameter is 400 naming it.
 * Requests go through node:http, which (unlike fetch) sends any method, TRACE and QUERY included.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const validator = createOpenApiValidator();
const ORIGIN = "https://app.example.com";

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked against the contract before use
  readonly body: any;
}

function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(new URL(path, base), { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const json = text !== "" && (h.get("content-type") ?? "").includes("json");
        resolve({ status: res.statusCode ?? 0, headers: h, text, body: json ? JSON.parse(text) : text });
      });
    });
    req.once("error", reject);
    req.end(body);
  });
}

describe("HTTP semantics of the REST API (real users and gateway processes)", () => {
  let platform: RunningPlatform;
  const call = (method: string, path: string, headers?: Record<string, string>, body?: string) =>
    send(platform.baseUrl, method, path, { authorization, ...headers }, body);
  /** A problem of this status, valid against the contract's Problem, with the request id. */
  const assertProblem = (answer: Answer, status: number, label: string) => {
    assert.deepEqual(validator.checkProblem(status, answer), [], `${label}: ${answer.text}`);
    assert.ok(answer.headers.get("x-request-id"), `${label}: a request id`);
    assert.equal(answer.body.requestId, answer.headers.get("x-request-id"));
  };

  before(async () => {
    platform = await startPlatform({ GATEWAY_HOST: "127.0.0.1", ...issuer.env, GATEWAY_CORS_ORIGINS: ORIGIN });
  });
  after(async () => {
    await platform?.stop();
  });

  test("a method the contract does not declare on a declared path is 405 with Allow, before any body check", async () => {
    const cases: [string, string, string][] = [
      ["QUERY", "/v1/users/1", "DELETE, GET, HEAD, PATCH"],
      ["TRACE", "/v1/users", "GET, HEAD, POST"],
      ["PUT", "/v1/users/1", "DELETE, GET, HEAD, PATCH"],
      ["DELETE", "/v1/users", "GET, HEAD, POST"],
      ["POST", "/v1/users/1/history", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const answer = await call(method, path, { "x-request-id": `m-${method}` });
      assertProblem(answer, 405, `${method} ${path}`);
      assert.equal(answer.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal(answer.body.code, "UNIMPLEMENTED");
      assert.equal(answer.body.type, "https://charter.dev/problems/method-not-allowed");
      assert.equal(answer.body.instance, path);
    }
    // With a body and a content type nothing accepts: still 405, not 415.
    const put = await call("PUT", "/v1/users/1", { "content-type": "text/plain" }, "x");
    assertProblem(put, 405, "PUT with a text body");
    const query = await call("QUERY", "/v1/users", { "content-type": "application/json" }, "{}");
    assertProblem(query, 405, "QUERY with a JSON body");
  });

  test("405 answers are logged and counted like every other answer", async () => {
    await call("TRACE", "/v1/users", { "x-request-id": "trace-405" });
    // Both are written once the response has finished, which may be just after the client read it.
    await waitFor("the 405's log line", () =>
      platform.gateway.output.some((line) => line.includes('"requestId":"trace-405"') && line.includes('"status":405'))
        ? true
        : undefined,
    );
    const metrics = await fetch(`${platform.baseUrl}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      /charter_gateway_http_request_duration_seconds_count\{[^}]*method="TRACE",route="unmatched",status="405"\} [1-9]/,
    );
  });

  test("HEAD of a GET route, CORS preflights and unknown paths keep their meaning", async () => {
    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Head", email: `head.${randomUUID().slice(0, 8)}@example.com` }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const head = await call("HEAD", `/v1/users/${id}`);
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
    assert.ok(head.headers.get("etag"));
    assert.equal((await call("HEAD", "/v1/users")).status, 200);

    const preflight = await call("OPTIONS", `/v1/users/${id}`, {
      origin: ORIGIN,
      "access-control-request-method": "PATCH",
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /PATCH/);

    for (const [method, path] of [
      ["GET", "/v2/nothing"],
      ["QUERY", "/v1/people"],
      ["GET", "/v1/users/1/2"],
    ] as const) {
      const missing = await call(method, path);
      assertProblem(missing, 404, `${method} ${path}`);
      assert.equal(missing.headers.get("allow"), null);
    }
  });

  test("an undeclared query parameter is 400 naming it, on operations with and without query parameters", async () => {
    const cases: [string, string, string[]][] = [
      ["GET", "/v1/users?page_size=10", ["/page_size"]],
      ["GET", "/v1/users?pageSize=10&limit=1&page_token=x", ["/limit", "/page_token"]],
      ["GET", "/v1/users/1?verbose=true", ["/verbose"]],
      ["GET", "/v1/users/1/history?page_size=5", ["/page_size"]],
      ["DELETE", "/v1/users/1?force=1", ["/force"]],
    ];
    for (const [method, path, fields] of cases) {
      const answer = await call(method, path);
      const operation = validator.operationFor(method, new URL(path, platform.baseUrl).pathname);
      assert.ok(operation, `${method} ${path} is an operation`);
      assert.deepEqual(validator.check(operation.id, answer), [], `${method} ${path}: ${answer.text}`);
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.body.code, "INVALID_ARGUMENT");
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field).sort(), fields);
      for (const error of answer.body.errors) assert.equal(error.message, "is not a known query parameter");
    }
    const post = await call(
      "POST",
      "/v1/users?dryRun=true",
      { "content-type": "application/json" },
      JSON.stringify({ name: "Ada", email: `q.${randomUUID().slice(0, 8)}@example.com` }),
    );
    assert.equal(post.status, 400, post.text);
    assert.deepEqual(post.body.errors, [{ field: "/dryRun", message: "is not a known query parameter" }]);
    assert.equal((await call("GET", "/v1/users?pageSize=10")).status, 200, "a declared parameter is fine");
  });
});
