/**
 * Graceful stop of the gateway process: in-flight requests finish, and a client that stops
 * reading cannot hold the process past SHUTDOWN_TIMEOUT_MS.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";

/** The issuer every process here trusts; (the gateway verifies tokens against it). */
const issuer = await startTestIssuer();
after(() => issuer.close());

let users: ServiceProcess;
before(async () => {
  users = await startService(
    "services/users/main.ts",
    { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...issuer.env },
    "users service ready",
  );
});
after(async () => {
  await users.stop();
});

test("SIGTERM with a client that never reads its response: the gateway still exits 0", async () => {
  const gateway = await startService(
    "services/gateway/main.ts",
    {
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      ...issuer.env,
      ...otherServicesOffline(),
      USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
      SHUTDOWN_TIMEOUT_MS: "300",
      ...LOAD_BUDGET,
    },
    "gateway ready",
  );
  const base = `http://127.0.0.1:${gateway.ready.port}`;
  const html = await (await fetch(`${base}/docs/`)).text();
  const asset = html.match(/src="([^"]*swagger-ui-bundle\.js)"/)?.[1];
  assert.ok(asset, "Swagger UI's bundle, large enough to fill the socket buffers");
  const stalled = await fetch(new URL(asset, `${base}/docs/`)); // headers read, body never consumed
  assert.equal(stalled.status, 200);

  gateway.signal("SIGTERM");
  const code = await Promise.race([
    gateway.exited,
    new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 10_000)),
  ]);
  assert.equal(code, 0);
  await stalled.body?.cancel().catch(() => {});
});
