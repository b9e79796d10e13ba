/**
 * Contract conformance of the real gateway, judged by Prism: the users service and the gateway
 * run as processes on free ports, `prism proxy contracts/openapi/users.v1.yaml <gateway>` sits in
 * front, and a representative set of requests (CRUD, list pages, every documented error status)
 * goes through the proxy. Any violation Prism reports (a body or header that breaks its schema,
 * a wrong content type, a status the operation does not document) fails the run.
 *
 * A second proxy in front of a deliberately wrong upstream shows the check is not vacuous.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { type PrismProxy, startPrismProxy, type Violation, violationsOf } from "./support/prism-proxy.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const email = (tag = "c") => `${tag}.${randomUUID().slice(0, 8)}@example.com`;

interface Exchange {
  readonly label: string;
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies; Prism has checked them against the contract
  readonly body: any;
  readonly violations: Violation[];
}

interface Send {
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

/** Sends one request through the proxy and records what Prism said about the exchange. */
async function exchange(proxy: PrismProxy, method: string, path: string, send: Send = {}): Promise<Exchange> {
  const headers: Record<string, string> = { authorization, ...send.headers };
  let body = send.raw;
  if (send.json !== undefined) {
    body = JSON.stringify(send.json);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${proxy.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  return {
    label: `${method} ${path}`,
    status: response.status,
    headers: response.headers,
    body: text !== "" && type.includes("json") ? JSON.parse(text) : text,
    violations: violationsOf(response),
  };
}

const describeViolations = (exchanges: readonly Exchange[]) =>
  exchanges
    .filter((e) => e.violations.length > 0)
    .map(
      (e) =>
        `${e.label} → ${e.status}\n${e.violations
          .map((v) => `    ${v.severity} at ${v.location.join(".")}: ${v.message}`)
          .join("\n")}`,
    )
    .join("\n");

describe("the gateway through Prism's validation proxy", () => {
  let platform: RunningPlatform;
  let proxy: PrismProxy;
  const seen: Exchange[] = [];

  /** One exchange through the proxy, expecting this status; every exchange is kept for the final check. */
  async function call(method: string, path: string, status: number, send: Send = {}): Promise<Exchange> {
    const answer = await exchange(proxy, method, path, send);
    seen.push(answer);
    assert.equal(answer.status, status, `${answer.label}: ${JSON.stringify(answer.body)}`);
    assert.ok(answer.headers.get("x-request-id"), `${answer.label}: answered by the gateway, not by Prism`);
    assert.deepEqual(answer.violations, [], `${answer.label} → ${answer.status}: ${describeViolations([answer])}`);
    return answer;
  }

  before(async () => {
    // A small body limit, so a 413 needs only a few kilobytes.
    platform = await startPlatform({ GATEWAY_HOST: "127.0.0.1", ...issuer.env, GATEWAY_BODY_LIMIT: "4096" });
    proxy = await startPrismProxy(platform.baseUrl);
  });
  after(async () => {
    await proxy?.stop();
    await platform?.stop();
  });

  test("create, get, conditional get, patch, delete and their documented errors", async () => {
    const mail = email();
    const created = await call("POST", "/v1/users", 201, { json: { name: "Ada Lovelace", email: mail } });
    const url = `/v1/users/${created.body.id}`;
    assert.equal(created.headers.get("location"), url);
    const etag = created.headers.get("etag") ?? "";
    assert.notEqual(etag, "");

    await call("GET", url, 200);
    await call("GET", url, 304, { headers: { "if-none-match": etag } });
    await call("GET", "/v1/users/9999999999", 404);
    await call("GET", "/v1/users/abc", 400);

    const renamed = await call("PATCH", url, 200, {
      raw: JSON.stringify({ name: "Ada King" }),
      headers: { "content-type": "application/merge-patch+json", "if-match": etag },
    });
    assert.equal(renamed.body.name, "Ada King");
    await call("PATCH", url, 412, { json: { name: "Lost" }, headers: { "if-match": etag } });
    await call("PATCH", url, 400, { json: {} });
    await call("PATCH", "/v1/users/9999999999", 404, { json: { name: "Ghost" } });
    await call("PATCH", url, 415, { raw: "name=Ada", headers: { "content-type": "text/plain" } });
    await call("PATCH", url, 413, { json: { name: "x".repeat(5_000) } });

    const other = await call("POST", "/v1/users", 201, { json: { name: "Other", email: email() } });
    await call("PATCH", `/v1/users/${other.body.id}`, 409, { json: { email: mail } });

    await call("DELETE", url, 412, { headers: { "if-match": etag } });
    await call("DELETE", url, 204, { headers: { "if-match": renamed.headers.get("etag") ?? "" } });
    await call("DELETE", url, 404);
    await call("DELETE", "/v1/users/abc", 400);
  });

  test("create errors: 400, 409, 413, 415 and idempotent retries with 422", async () => {
    const mail = email();
    await call("POST", "/v1/users", 201, { json: { name: "Grace Hopper", email: mail } });
    await call("POST", "/v1/users", 409, { json: { name: "Grace Again", email: mail.toUpperCase() } });
    await call("POST", "/v1/users", 400, { json: { name: "Ada", email: "not-an-email" } });
    await call("POST", "/v1/users", 400, { json: { name: 42, email: ["x"] } });
    await call("POST", "/v1/users", 400, { json: { name: "Ada", email: email(), admin: true } });
    await call("POST", "/v1/users", 413, { json: { name: "x".repeat(5_000), email: email() } });
    await call("POST", "/v1/users", 415, { raw: "name=Ada", headers: { "content-type": "text/plain" } });

    const key = randomUUID();
    const body = { name: "Katherine Johnson", email: email() };
    const first = await call("POST", "/v1/users", 201, { json: body, headers: { "idempotency-key": key } });
    const retry = await call("POST", "/v1/users", 201, { json: body, headers: { "idempotency-key": key } });
    assert.equal(retry.body.id, first.body.id);
    await call("POST", "/v1/users", 422, {
      json: { ...body, name: "Someone Else" },
      headers: { "idempotency-key": key },
    });
  });

  test("list pages and their errors", async () => {
    for (let i = 0; i < 3; i++) await call("POST", "/v1/users", 201, { json: { name: `Page ${i}`, email: email() } });
    let token: string | undefined;
    let pages = 0;
    do {
      const query = token === undefined ? "" : `&pageToken=${encodeURIComponent(token)}`;
      const page = await call("GET", `/v1/users?pageSize=2${query}`, 200);
      token = page.body.nextPageToken;
      pages++;
    } while (token !== undefined);
    assert.ok(pages >= 2, "several pages were walked");
    await call("GET", "/v1/users", 200);
    await call("GET", "/v1/users?pageSize=0", 400);
    await call("GET", "/v1/users?pageSize=1001", 400);
    await call("GET", "/v1/users?pageToken=garbage", 400);
  });

  test("a request without a token is 401 and one without the scope 403, as the contract documents them", async () => {
    // Prism reports the request without a token itself (its security check); the gateway's answer must conform.
    const anonymous = await exchange(proxy, "GET", "/v1/users", { headers: { authorization: "" } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="charter"');
    assert.ok(anonymous.headers.get("x-request-id"), "answered by the gateway");
    const responseViolations = (e: Exchange) => e.violations.filter((v) => v.location[0] !== "request");
    assert.deepEqual(responseViolations(anonymous), [], describeViolations([anonymous]));
    assert.deepEqual(
      anonymous.violations.map((v) => v.message),
      ["Invalid security scheme used"],
      "Prism saw the request without a token",
    );
    const reader = `Bearer ${await issuer.tokenWith(["users:read"])}`;
    const denied = await call("POST", "/v1/users", 403, {
      json: { name: "Denied", email: "denied@example.com" },
      headers: { authorization: reader },
    });
    assert.equal(denied.body.code, "PERMISSION_DENIED");
  });

  test("every exchange conformed: zero violations", () => {
    assert.ok(seen.length >= 35, `a representative run (${seen.length} exchanges)`);
    const statuses = new Set(seen.map((e) => e.status));
    for (const status of [200, 201, 204, 304, 400, 403, 404, 409, 412, 413, 415, 422]) {
      assert.ok(statuses.has(status), `status ${status} was exercised`);
    }
    assert.equal(describeViolations(seen), "", "Prism found violations");
  });
});

describe("Prism's validation proxy catches a non-conforming upstream", () => {
  let upstream: Server;
  let proxy: PrismProxy;

  before(async () => {
    // A user without its required etag, a status the contract does not document, and a wrong media type.
    upstream = createServer((request, response) => {
      if (request.url === "/v1/users/1") {
        response.writeHead(200, { "content-type": "application/json", etag: '"1"' });
        response.end(JSON.stringify({ id: "1", name: "Ada", email: "ada@example.com" }));
      } else if (request.url === "/v1/users/2") {
        response.writeHead(418, { "content-type": "application/problem+json" });
        response.end(JSON.stringify({ type: "about:blank", title: "Teapot", status: 418, code: "UNKNOWN" }));
      } else {
        response.writeHead(404, { "content-type": "text/html" });
        response.end("<p>not here</p>");
      }
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    proxy = await startPrismProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  after(async () => {
    await proxy?.stop();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  test("a missing required field, an undocumented status and a wrong media type are all reported", async () => {
    const missing = await exchange(proxy, "GET", "/v1/users/1");
    assert.match(describeViolations([missing]), /response\.body.*etag/);
    const teapot = await exchange(proxy, "GET", "/v1/users/2");
    assert.match(describeViolations([teapot]), /Unable to match the returned status code/);
    const html = await exchange(proxy, "GET", "/v1/users/3");
    assert.match(describeViolations([html]), /media type "text\/html"/);
  });
});
