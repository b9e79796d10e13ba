/**
 * The gateway when the users service goes away and comes back: REST answers 503 problem+json
 * with Retry-After, /readyz says 503 and why, and once users runs again on the same port the
 * same gateway process serves requests again, with no restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { onFreePort } from "../platform/net.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const validator = createOpenApiValidator();
const DEADLINE_MS = 1_000;

describe("gateway resilience (users stopped and restarted on the same port)", () => {
  let usersPort = 0;
  let users: ServiceProcess | undefined;
  let gateway: ServiceProcess;
  let base = "";

  const startUsers = () =>
    startService(
      "services/users/main.ts",
      { USERS_GRPC_PORT: String(usersPort), USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
      "users service ready",
    );

  /** A request whose response must conform to the contract. */
  async function call(method: string, path: string, json?: unknown) {
    const init: RequestInit =
      json === undefined
        ? { method, headers: { authorization } }
        : { method, headers: { "content-type": "application/json", authorization }, body: JSON.stringify(json) };
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    const answer = { status: response.status, headers: response.headers, text };
    const operation = validator.operationFor(method, path.split("?")[0] ?? path);
    assert.ok(operation, `${method} ${path} is in the contract`);
    assert.deepEqual(validator.check(operation.id, answer), [], `${method} ${path} → ${answer.status} ${text}`);
    return answer;
  }
  const readiness = async () => {
    const response = await fetch(`${base}/readyz`);
    const body = (await response.json()) as { code?: string; detail?: string };
    return { status: response.status, type: response.headers.get("content-type"), body };
  };

  before(async () => {
    // Another test's process may take the free port first: a new one is tried then.
    users = await onFreePort(
      (port) => {
        usersPort = port;
        return startUsers();
      },
      { retryIf: (error) => /address already in use/.test(error.message) },
    );
    gateway = await startService(
      "services/gateway/main.ts",
      {
        GATEWAY_PORT: "0",
        GATEWAY_HOST: "127.0.0.1",
        ...issuer.env,
        ...otherServicesOffline(),
        USERS_ADDR: `127.0.0.1:${usersPort}`,
        USERS_DEADLINE_MS: String(DEADLINE_MS),
        ...LOAD_BUDGET,
      },
      "gateway ready",
    );
    base = `http://127.0.0.1:${gateway.ready.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await users?.stop();
  });

  test("users down → 503 with Retry-After and /readyz 503; users back → served again", async () => {
    const created = await call("POST", "/v1/users", { name: "Before", email: `${randomUUID()}@example.com` });
    assert.equal(created.status, 201);
    assert.equal((await readiness()).status, 200);

    await users?.stop();
    users = undefined;

    // Each call fails within its deadline; the wait allows several deadlines for the channel to notice.
    const down = await waitFor(
      "REST to answer 503 while users is down",
      async () => {
        const answer = await call("GET", "/v1/users");
        return answer.status === 503 ? answer : undefined;
      },
      DEADLINE_MS * 10,
    );
    const problem = JSON.parse(down.text) as { code: string; status: number; detail: string };
    assert.equal(problem.code, "UNAVAILABLE");
    assert.equal(problem.status, 503);
    assert.equal(down.headers.get("retry-after"), "1");
    assert.doesNotMatch(problem.detail, /ECONNREFUSED|127\.0\.0\.1|No connection/);

    const write = await call("POST", "/v1/users", { name: "During", email: `${randomUUID()}@example.com` });
    assert.ok([503, 504].includes(write.status), `a write while users is down: ${write.status} ${write.text}`);

    const notReady = await readiness();
    assert.equal(notReady.status, 503);
    assert.match(notReady.type ?? "", /^application\/problem\+json/);
    assert.equal(notReady.body.code, "UNAVAILABLE");
    assert.match(notReady.body.detail ?? "", /no users instance answers/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, "the gateway process itself is up");

    users = await startUsers();
    await waitFor(
      "REST to be served again after users restarted",
      async () => ((await call("GET", "/v1/users")).status === 200 ? true : undefined),
      20_000,
    );
    const again = await call("POST", "/v1/users", { name: "After", email: `${randomUUID()}@example.com` });
    assert.equal(again.status, 201, again.text);
    await waitFor(
      "/readyz to say ready again",
      async () => ((await readiness()).status === 200 ? true : undefined),
      20_000,
    );
  });
});
