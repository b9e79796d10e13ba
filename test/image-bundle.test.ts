/**
 * What an image runs (scripts/images/bundle.mjs, the Dockerfile's build stage), run here without Docker: the users
 * and gateway bundles, outside the repository with only the npm packages the bundler copied, start, answer their
 * HEALTHCHECK entry points, and serve a REST create and read (the contracts they read at run time are reachable, and
 * no package they need was left out).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePorts } from "../scripts/infra/index.js";
import { otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "charter-bundle-"));
const children: ChildProcess[] = [];
let grpcPort = 0;
let gatewayPort = 0;

/** Bundles the services as the build stage does, into out/<service>/app, one run for all of them. */
function bundle(...services: string[]): string[] {
  execFileSync(process.execPath, ["scripts/images/bundle.mjs", out], {
    cwd: root,
    env: { ...process.env, SERVICES: services.join(",") },
    stdio: "pipe",
  });
  return services.map((service) => join(out, service, "app"));
}

function run(app: string, env: Record<string, string>, readyLine: string): Promise<void> {
  // Only the bundle's own environment: no tsx loader, no repository on the module path.
  const child = spawn(process.execPath, ["main.js"], {
    cwd: app,
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${readyLine}" within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

function healthcheck(app: string, env: Record<string, string>): { code: number; output: string } {
  try {
    const output = execFileSync(process.execPath, ["healthcheck.js"], { cwd: app, env: { ...env, PATH: "" } });
    return { code: 0, output: output.toString() };
  } catch (error) {
    const failed = error as { status: number; stdout: Buffer };
    return { code: failed.status, output: failed.stdout.toString() };
  }
}

let users = "";
let gateway = "";
let issuer: TestIssuer | undefined;
before(async () => {
  [grpcPort = 0, gatewayPort = 0] = await freePorts(3);
  [users = "", gateway = ""] = bundle("users", "gateway");
  issuer = await startTestIssuer();
});

after(async () => {
  await issuer?.close();
  for (const child of children) child.kill("SIGKILL");
  rmSync(out, { recursive: true, force: true });
});

test("a bundle carries only what it runs: no tsx, no dev tools, no other service's code", () => {
  assert.ok(existsSync(join(users, "node_modules", "@grpc", "grpc-js")));
  assert.ok(existsSync(join(users, "contracts", "proto")));
  for (const devOnly of ["tsx", "esbuild", "typescript", "@biomejs"]) {
    assert.equal(existsSync(join(users, "node_modules", devOnly)), false, `${devOnly} is not shipped`);
  }
  // The gateway serves GraphiQL's built files, but none of what GraphiQL is built from.
  assert.ok(existsSync(join(gateway, "node_modules", "graphiql", "graphiql.min.js")));
  assert.equal(existsSync(join(gateway, "node_modules", "@graphiql")), false);
  assert.equal(existsSync(join(gateway, "node_modules", "mongodb")), false, "the gateway has no store driver");
});

test("the bundled users and gateway start, pass their health checks and serve a create and a read", async () => {
  // Both check the caller's token: the bundles carry the verifier (jose) and trust the test's issuer.
  assert.ok(issuer);
  const authorization = await issuer.bearer();
  const usersEnv = {
    USERS_GRPC_PORT: String(grpcPort),
    USERS_METRICS_PORT: "0",
    USERS_HOST: "127.0.0.1",
    ...issuer.env,
  };
  assert.equal(healthcheck(users, usersEnv).code, 1, "nothing listens yet: unhealthy");
  await run(users, usersEnv, "users service ready");
  const usersHealth = healthcheck(users, usersEnv);
  assert.equal(usersHealth.code, 0, usersHealth.output);

  const gatewayEnv = {
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_HOST: "127.0.0.1",
    USERS_ADDR: `127.0.0.1:${grpcPort}`,
    ...otherServicesOffline(),
    ...issuer.env,
  };
  await run(gateway, gatewayEnv, "gateway ready");
  const base = `http://127.0.0.1:${gatewayPort}`;
  const anonymous = await fetch(`${base}/v1/users`);
  assert.equal(anonymous.status, 401, "no token, no answer");
  const created = await fetch(`${base}/v1/users`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify({ name: "Ada Bundle", email: "ada.bundle@example.com" }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const read = await fetch(`${base}/v1/users/${id}`, { headers: { authorization } });
  assert.equal(read.status, 200);
  assert.equal(((await read.json()) as { email: string }).email, "ada.bundle@example.com");
  const docs = await fetch(`${base}/openapi.json`);
  assert.equal(docs.status, 200, "the OpenAPI contract is read from the bundle's contracts/");
  const gatewayHealth = healthcheck(gateway, gatewayEnv);
  assert.equal(gatewayHealth.code, 0, gatewayHealth.output);
});
