/** Bad configuration stops the users service at start with one clear line and a non-zero exit. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { freePorts } from "../scripts/infra/index.js";
import { runToExit } from "../scripts/lib/processes.js";

const users = "services/users/main.ts";

/** A port nothing listens on. */
const freePort = async (): Promise<number> => {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free port");
  return port;
};

function assertOneLine(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 1);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
}

test("USERS_GRPC_PORT=abc names the variable", async () => {
  const result = await runToExit(users, { USERS_GRPC_PORT: "abc" });
  assertOneLine(result, /^users: configuration error: USERS_GRPC_PORT must be an integer from 0 to 65535, got "abc"$/);
});

test("a malformed AUTH_ISSUER or AUTH_AUDIENCE names the variable", async () => {
  const issuer = await runToExit(users, { AUTH_ISSUER: "not a url", USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0" });
  assertOneLine(issuer, /^users: configuration error: AUTH_ISSUER /);
  const audience = await runToExit(users, {
    AUTH_AUDIENCE: "two words",
    USERS_GRPC_PORT: "0",
    USERS_METRICS_PORT: "0",
  });
  assertOneLine(audience, /^users: configuration error: AUTH_AUDIENCE must not contain spaces/);
});

test("a malformed MONGO_URL names the variable", async () => {
  const result = await runToExit(users, { MONGO_URL: "mongo:/nowhere", USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0" });
  assertOneLine(result, /^users: configuration error: MONGO_URL must be a URL starting with mongodb:\/\//);
});

test("a MongoDB that does not answer stops start-up within the connect timeout", async () => {
  const port = await freePort();
  const result = await runToExit(users, {
    MONGO_URL: `mongodb://user:secret@127.0.0.1:${port}/charter`,
    MONGO_CONNECT_TIMEOUT_MS: "500",
    USERS_GRPC_PORT: "0",
    USERS_METRICS_PORT: "0",
  });
  assertOneLine(result, /^users: cannot start: MongoDB at 127\.0\.0\.1:\d+ did not answer within 500 ms/);
  assert.doesNotMatch(result.stderr, /secret/, "credentials are never printed");
});

test("a port in use stops start-up with one line", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const result = await runToExit(users, {
      USERS_HOST: "127.0.0.1",
      USERS_GRPC_PORT: String(port),
      USERS_METRICS_PORT: "0",
    });
    assertOneLine(result, /^users: cannot start: cannot listen on 127\.0\.0\.1:\d+/);
  } finally {
    server.close();
  }
});
