/**
 * The Python SDK as a user gets it: the wheel built from sdk/python (with the clients `npm run generate` wrote into
 * generated/python) and installed into a fresh virtualenv, offline from a cached wheelhouse of pinned dependencies;
 * then the shared scenario list (sdk/scenarios/users.json) run with it against the live gateway, and the generated
 * gRPC stub against the live users service, each with tokens from the platform's development issuer.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensurePythonCodegen, ensureWheelhouse } from "../scripts/infra/provision.js";
import { timedStep } from "../scripts/infra/steps.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const scenariosFile = join(root, "sdk/scenarios/users.json");
const runner = join(root, "sdk/python/tests/run_scenarios.py");
const grpcRoundTrip = join(root, "sdk/python/tests/grpc_round_trip.py");
const behaviour = join(root, "sdk/python/tests/check_behaviour.py");

/** The SDK's dependencies, pinned, as the fresh virtualenv gets them (pyproject.toml states the ranges it accepts). */
const RUNTIME = [
  "httpx==0.28.1",
  "attrs==26.1.0",
  "grpcio==1.85.4",
  "grpcio-status==1.85.3",
  "protobuf==7.36.2",
  "googleapis-common-protos==1.76.0",
];

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (at most two minutes), whatever its exit code. */
function runCommand(command: string, args: readonly string[], env: Record<string, string> = {}, cwd = root) {
  return new Promise<Ran>((resolve) => {
    execFile(
      command,
      [...args],
      { cwd, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function mustRun(command: string, args: readonly string[], env: Record<string, string> = {}, cwd = root) {
  const ran = await runCommand(command, args, env, cwd);
  assert.equal(ran.code, 0, `${command} ${args.join(" ")} failed:\n${ran.stdout}\n${ran.stderr}`);
  return ran;
}

interface ScenarioResult {
  readonly scenario: string;
  readonly passed: boolean;
  readonly step?: number;
  readonly op?: string;
  readonly error?: string;
}

const results = (stdout: string): ScenarioResult[] =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ScenarioResult);

describe("the Python SDK, installed from its wheel into a fresh virtualenv", () => {
  let work: string;
  let python: string;
  let platform: RunningPlatform;
  let env: Record<string, string>;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "charter-sdk-python-"));
    const tools = await ensurePythonCodegen();
    const wheels = await ensureWheelhouse("charter-sdk-python", RUNTIME);
    const dist = join(work, "dist");
    await timedStep("build the charter-sdk wheel", () =>
      mustRun(tools.python, ["-m", "build", "--wheel", "--no-isolation", "--outdir", dist, join(root, "sdk/python")]),
    );
    const wheel = readdirSync(dist).find((name) => name.endsWith(".whl"));
    assert.ok(wheel, `no wheel in ${dist}`);
    const venv = join(work, "venv");
    python = join(venv, "bin", "python");
    await timedStep("install the wheel into a fresh virtualenv", async () => {
      await mustRun("python3.11", ["-m", "venv", "--without-pip", venv]);
      await mustRun(tools.python, [
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-index",
        "--find-links",
        wheels,
        `${join(dist, wheel)}[grpc]`,
      ]);
    });
    platform = await startPlatform();
    const issuer = platform.issuer;
    const client = issuer?.clients[0];
    if (!issuer || !client) throw new Error("the platform runs no development issuer");
    env = {
      CHARTER_BASE_URL: platform.baseUrl,
      CHARTER_USERS_GRPC: `127.0.0.1:${platform.users.ready.grpcPort}`,
      CHARTER_TOKEN_URL: issuer.tokenEndpoint,
      CHARTER_CLIENT_ID: client.clientId,
      CHARTER_CLIENT_SECRET: client.clientSecret,
      CHARTER_SCOPES: client.scopes.join(" "),
      CHARTER_AUDIENCE: issuer.audience,
    };
  });
  after(async () => {
    await platform?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("the venv imports the SDK and the generated clients from the installed wheel, not from the sources", async () => {
    const { stdout } = await mustRun(
      python,
      [
        "-c",
        "import charter_sdk, charter_users_client, charter.users.v1.users_pb2 as u; print(charter_sdk.__file__); print(u.__file__)",
      ],
      {},
      work,
    );
    for (const line of stdout.trim().split("\n")) assert.match(line, /\/venv\/lib\/python3\.11\/site-packages\//);
  });

  test("every scenario of the shared list passes with the Python SDK against the live gateway", async () => {
    const ran = await runCommand(python, [runner, scenariosFile], env, work);
    const names = (JSON.parse(readFileSync(scenariosFile, "utf8")) as { scenarios: { name: string }[] }).scenarios.map(
      (s) => s.name,
    );
    const reported = results(ran.stdout);
    assert.deepEqual(
      reported.map((r) => r.scenario),
      names,
      `every scenario reported, in order:\n${ran.stdout}\n${ran.stderr}`,
    );
    for (const result of reported)
      assert.ok(result.passed, `${result.scenario}: step ${result.step} (${result.op}): ${result.error}`);
    assert.equal(ran.code, 0, ran.stderr);
  });

  test("a scenario that does not hold is reported with its name and step, and fails the run", async () => {
    const wrong = {
      scenarios: [
        {
          name: "a created user is expected under another name",
          steps: [
            {
              op: "createUser",
              // biome-ignore lint/suspicious/noTemplateCurlyInString: the scenario format's placeholder
              args: { body: { name: "Ada", email: "${email:ada}" } },
              save: "ada",
              expect: { status: 201 },
            },
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the scenario format's placeholder
            { op: "getUser", args: { id: "${ada.id}" }, expect: { status: 200, body: { name: "Grace" } } },
          ],
        },
        {
          name: "a missing user is expected to exist",
          steps: [{ op: "getUser", args: { id: "1" }, expect: { status: 200 } }],
        },
      ],
    };
    const file = join(work, "wrong.json");
    await writeFile(file, JSON.stringify(wrong));
    const ran = await runCommand(python, [runner, file], env, work);
    assert.equal(ran.code, 1, `the run fails:\n${ran.stdout}\n${ran.stderr}`);
    const [renamed, missing] = results(ran.stdout);
    assert.deepEqual(
      { ...renamed, error: undefined },
      { scenario: wrong.scenarios[0]?.name, passed: false, step: 2, op: "getUser", error: undefined },
    );
    assert.match(renamed?.error ?? "", /name is "Ada", expected "Grace"/);
    assert.equal(missing?.step, 1);
    assert.match(missing?.error ?? "", /404 NOT_FOUND/);
  });

  test("a create whose answer is lost is retried with its key and makes one user; an update without If-Match is sent once; the token is kept, then renewed; history and stats raise the contract's problem", async () => {
    const ran = await mustRun(python, [behaviour], env, work);
    const out = JSON.parse(ran.stdout) as {
      create: { status: number; sends: { idempotencyKey: string | null }[]; createdId: string; foundId: string };
      update: {
        raised: boolean;
        status?: number;
        code?: string;
        patches: number;
        withIfMatch: { status: number; name: string };
        patchesAfter: number;
      };
      tokens: { kept: boolean; renewed: boolean };
      served: Record<string, { raised: boolean; status: number; code?: string; type?: string }>;
    };
    assert.equal(out.create.status, 201, "the retry's answer is the first request's user, 201");
    assert.equal(out.create.sends.length, 2, "sent twice");
    const [first, second] = out.create.sends;
    assert.match(first?.idempotencyKey ?? "", /^[0-9a-f-]{36}$/, "with a key the SDK made");
    assert.equal(second?.idempotencyKey, first?.idempotencyKey, "the same key both times");
    assert.equal(out.create.foundId, out.create.createdId, "one user has the address: the one the first send made");

    assert.deepEqual(
      { raised: out.update.raised, status: out.update.status, code: out.update.code, patches: out.update.patches },
      { raised: true, status: 503, code: "UNKNOWN", patches: 1 },
      "an update without If-Match is not sent again; the proxy's page becomes an UNKNOWN problem",
    );
    assert.deepEqual(out.update.withIfMatch, { status: 200, name: "Retried with If-Match" });
    assert.equal(out.update.patchesAfter, 2, "with If-Match it went through at once");
    assert.deepEqual(out.tokens, { kept: true, renewed: true });
    // This platform serves a history page but runs no stats pipeline: that answer is the contract's 503.
    assert.deepEqual(out.served, {
      history: { raised: false, status: 200, type: "UserHistory" },
      stats: { raised: true, status: 503, code: "UNAVAILABLE" },
    });
  });

  test("the generated gRPC stub creates and reads a user with a bearer token, and decodes google.rpc details", async () => {
    const ran = await mustRun(python, [grpcRoundTrip], env, work);
    const out = JSON.parse(ran.stdout) as {
      created: { id: string; name: string; email: string };
      got: { id: string; name: string; email: string };
      invalid: { code: string; violations: { field: string; description: string }[] };
      missing: { code: string };
      anonymous: { code: string; reason: string };
    };
    assert.match(out.created.id, /^[0-9]{1,19}$/);
    assert.deepEqual(out.got, out.created, "GetUser returns what CreateUser made");
    assert.equal(out.invalid.code, "INVALID_ARGUMENT");
    assert.ok(
      out.invalid.violations.some((v) => v.field.includes("email") && v.description.length > 0),
      `a BadRequest names the email: ${JSON.stringify(out.invalid)}`,
    );
    assert.equal(out.missing.code, "NOT_FOUND");
    assert.equal(out.anonymous.code, "UNAUTHENTICATED", "without a token the service refuses");
  });
});
