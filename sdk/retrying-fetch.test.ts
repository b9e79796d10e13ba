/**
 * The SDK's retries against a real HTTP server on loopback that answers from a script: what is retried (502, 503,
 * 504 and network errors, for requests safe to send twice), what is not (a 500, a 4xx, a POST without an
 * Idempotency-Key, a PATCH without If-Match), Retry-After, the attempt limit, the body sent again, and an abort.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { retryAfterMs, retryingFetch } from "./retrying-fetch.js";

type Answer = { status: number; headers?: Record<string, string> } | "drop";

let server: Server;
let base = "";
/** What the server answers next, in order; a 200 once the script runs out. */
let script: Answer[] = [];
let seen: { method: string; body: string; headers: IncomingMessage["headers"] }[] = [];

before(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      seen.push({ method: request.method ?? "", body, headers: request.headers });
      const answer = script.shift() ?? { status: 200 };
      if (answer === "drop") {
        request.socket.destroy(); // no answer at all: fetch fails with a network error
        return;
      }
      response.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
      response.end(`answer ${answer.status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  script = [];
  seen = [];
});

const send = retryingFetch((request) => fetch(request), { baseDelayMs: 1, maxDelayMs: 50 });
const request = (method: string, headers: Record<string, string> = {}, body?: string) =>
  new Request(`${base}/v1/users`, { method, headers, ...(body === undefined ? {} : { body }) });

describe("retryingFetch", () => {
  test("a GET after 502, 503 and 504 is sent again until the limit (3 attempts), and the last answer returned", async () => {
    script = [{ status: 502 }, { status: 503 }];
    assert.equal((await send(request("GET"))).status, 200);
    assert.equal(seen.length, 3);

    script = [{ status: 504 }, { status: 502 }, { status: 503 }];
    const last = await send(request("GET"));
    assert.equal(last.status, 503, "the third answer is the caller's");
    assert.equal(await last.text(), "answer 503");
    assert.equal(seen.length, 6);
  });

  test("a 500 and a 4xx are answers: sent once", async () => {
    script = [{ status: 500 }];
    assert.equal((await send(request("GET"))).status, 500);
    script = [{ status: 429 }];
    assert.equal((await send(request("GET"))).status, 429);
    assert.equal(seen.length, 2);
  });

  test("a POST is retried only with an Idempotency-Key, and then with the same body and key", async () => {
    const body = JSON.stringify({ name: "Ada Lovelace", email: "ada@example.com" });
    script = [{ status: 503 }];
    assert.equal((await send(request("POST", { "content-type": "application/json" }, body))).status, 503);
    assert.equal(seen.length, 1, "without a key a POST is sent once");

    seen = [];
    script = [{ status: 502 }, "drop"];
    const keyed = request("POST", { "content-type": "application/json", "idempotency-key": "k-1" }, body);
    assert.equal((await send(keyed)).status, 200);
    assert.equal(seen.length, 3);
    for (const attempt of seen) {
      assert.equal(attempt.body, body);
      assert.equal(attempt.headers["idempotency-key"], "k-1");
    }
  });

  test("PUT, PATCH and DELETE are retried only with If-Match", async () => {
    for (const method of ["PUT", "PATCH", "DELETE"]) {
      seen = [];
      script = [{ status: 503 }];
      assert.equal((await send(request(method, {}, method === "DELETE" ? undefined : "{}"))).status, 503);
      assert.equal(seen.length, 1, `${method} without If-Match`);
      seen = [];
      script = [{ status: 503 }];
      assert.equal(
        (await send(request(method, { "if-match": '"1"' }, method === "DELETE" ? undefined : "{}"))).status,
        200,
      );
      assert.equal(seen.length, 2, `${method} with If-Match`);
    }
  });

  test("a network error is retried for a GET and thrown after the last attempt", async () => {
    script = ["drop", "drop", "drop"];
    await assert.rejects(send(request("GET")), TypeError);
    assert.equal(seen.length, 3);
    script = ["drop"];
    await assert.rejects(send(request("POST", {}, "{}")), TypeError, "a POST without a key is not sent again");
    assert.equal(seen.length, 4);
  });

  test("Retry-After within the longest wait is honoured; a longer one is returned to the caller at once", async () => {
    const slow = retryingFetch((r) => fetch(r), { baseDelayMs: 1, maxDelayMs: 1500 });
    script = [{ status: 503, headers: { "retry-after": "1" } }];
    const started = Date.now();
    assert.equal((await slow(request("GET"))).status, 200);
    assert.ok(Date.now() - started >= 1000, "it waited the second the server asked for");

    seen = [];
    script = [{ status: 503, headers: { "retry-after": "120" } }];
    const response = await slow(request("GET"));
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "120");
    assert.equal(seen.length, 1);
  });

  test("an abort during the wait rejects at once with the signal's reason", async () => {
    const patient = retryingFetch((r) => fetch(r), { baseDelayMs: 1, maxDelayMs: 60_000 });
    script = [{ status: 503, headers: { "retry-after": "30" } }];
    const controller = new AbortController();
    const pending = patient(new Request(`${base}/v1/users`, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error("caller gave up")), 100);
    await assert.rejects(pending, /caller gave up/);
    assert.equal(seen.length, 1);
  });

  test("retryAfterMs reads delay-seconds and HTTP dates, and ignores what it cannot read", () => {
    const answer = (value: string) => new Response(null, { status: 503, headers: { "retry-after": value } });
    const now = Date.parse("2026-12-07T00:00:00Z");
    assert.equal(retryAfterMs(answer("2"), now), 2000);
    assert.equal(retryAfterMs(answer("Mon, 07 Dec 2026 00:00:03 GMT"), now), 3000);
    assert.equal(retryAfterMs(answer("Sun, 06 Dec 2026 00:00:00 GMT"), now), 0);
    assert.equal(retryAfterMs(answer("soon"), now), undefined);
    assert.equal(retryAfterMs(new Response(null, { status: 503 }), now), undefined);
  });
});
