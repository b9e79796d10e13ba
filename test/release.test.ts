/**
 * The delivery pipeline (`npm run release`, scripts/release.ts) run for real, started at the gate in question (never
 * the full suite inside the full suite: the pipeline refuses its test step under node:test): the cheap gates of a
 * dry run in order and leaving nothing behind; a stop at a breaking contract and at a pact the provider does not
 * honour, each in a clone of this working tree and before any image step; can-i-deploy's yes and no over
 * purpose-made matrices; the workflows through actionlint, and a broken one refused.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { STEP_NAMES } from "../scripts/lib/release-steps.js";
import { DEFAULT_MATRIX, decide, type MatrixRow, type RequiredPact } from "../scripts/lib/verification-matrix.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a script of the repository at `cwd` with node and tsx, asynchronously (the tests run side by side). */
function runScript(cwd: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", script, ...args],
      { cwd, env: { ...process.env, PACT_PROVIDER_URL: "", PACT_BROKER_BASE_URL: "", ...env }, encoding: "utf8" },
      (_error, stdout, stderr) =>
        resolve({ code: child.exitCode, output: stripVTControlCharacters(`${stdout}\n${stderr}`) }),
    );
  });
}

/**
 * A clone of this repository's history with this working tree's changes on top (so the pipeline under test is the
 * one being written, committed or not), sharing node_modules.
 */
function cloneWorkingTree(): string {
  const clone = join(temp("charter-release-clone-"), "repo");
  execFileSync("git", ["clone", "--quiet", "--shared", "--no-checkout", root, clone]);
  git(clone, "checkout", "--quiet", git(root, "rev-parse", "HEAD"));
  const changed = git(root, "ls-files", "--modified", "--others", "--exclude-standard").split("\n").filter(Boolean);
  for (const file of changed) {
    if (!existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(root, file), join(clone, file));
  }
  for (const file of git(root, "ls-files", "--deleted").split("\n").filter(Boolean)) rmSync(join(clone, file));
  symlinkSync(join(root, "node_modules"), join(clone, "node_modules"));
  return clone;
}

/** The steps the pipeline started (its "▶ <step>:" lines), in order. */
const started = (output: string) => [...output.matchAll(/^▶ ([\w-]+):/gm)].map((m) => m[1]);

function assertStoppedAt(run: Run, step: string, reason: RegExp): void {
  assert.equal(run.code, 1, run.output);
  assert.equal(started(run.output).at(-1), step, `the last step started should be ${step}:\n${run.output}`);
  assert.match(run.output, new RegExp(`✖ release stopped at ${step} after [\\d.]+ s \\(exit 1\\)`), run.output);
  assert.match(run.output, reason, run.output);
  const later = STEP_NAMES.slice(STEP_NAMES.indexOf(step as (typeof STEP_NAMES)[number]) + 1);
  assert.ok(later.includes("images"), "the gate comes before the images");
  assert.match(run.output, new RegExp(`not run: ${later.join(", ")}`), run.output);
  assert.doesNotMatch(run.output, /▶ images/, `the image step started:\n${run.output}`);
}

describe("npm run release", { concurrency: true }, () => {
  test("a dry run of the cheap gates runs them in order and leaves nothing behind", async () => {
    const status = git(root, "status", "--porcelain");
    const releases = readFileSync(join(root, "contracts/releases.txt"), "utf8");
    const tags = git(root, "tag", "--list");
    const matrix = existsSync(DEFAULT_MATRIX) ? readFileSync(DEFAULT_MATRIX, "utf8") : undefined;
    const run = await runScript(root, "scripts/release.ts", ["--dry-run", "--to", "can-i-deploy"]);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(started(run.output), ["breaking", "pacts", "can-i-deploy"]);
    assert.match(
      run.output,
      /✔ breaking \([\d.]+ s\)\n[\s\S]*✔ pacts \([\d.]+ s\)\n[\s\S]*✔ can-i-deploy \([\d.]+ s\)/,
    );
    assert.match(run.output, /contracts compared with contracts-v\d+/);
    assert.match(run.output, /✔ yes: every consumer version it must honour was verified/);
    assert.equal(git(root, "status", "--porcelain"), status, "the dry run changed the working tree");
    assert.equal(readFileSync(join(root, "contracts/releases.txt"), "utf8"), releases, "a release line was written");
    assert.equal(git(root, "tag", "--list"), tags, "a tag was made");
    const after = existsSync(DEFAULT_MATRIX) ? readFileSync(DEFAULT_MATRIX, "utf8") : undefined;
    assert.equal(after, matrix, "the dry run wrote into the kept verification matrix");
  });

  test("the record step of a dry run shows the release line and writes none", async () => {
    const releases = readFileSync(join(root, "contracts/releases.txt"), "utf8");
    const run = await runScript(root, "scripts/release.ts", ["--dry-run", "--only", "record", "9.8.7"]);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(started(run.output), ["record"]);
    assert.match(run.output, /would append "contracts-v\d+ [0-9a-f]{40} {2}# charter 9\.8\.7"/);
    assert.equal(readFileSync(join(root, "contracts/releases.txt"), "utf8"), releases);
  });

  test("a contract that breaks the last release stops the pipeline at breaking", async () => {
    const clone = cloneWorkingTree();
    const proto = join(clone, "contracts/proto/charter/users/v1/users.proto");
    const text = readFileSync(proto, "utf8");
    const etag = /\n {2}\/\/ Opaque version tag; changes on every write\.\n {2}string etag = 4 \[[^\]]*\];\n/.exec(
      text,
    );
    assert.ok(etag, "the proto User's etag field is where the test expects it");
    writeFileSync(proto, text.replace(etag[0], "\n"));
    const run = await runScript(clone, "scripts/release.ts", ["--dry-run", "--from", "breaking"]);
    assertStoppedAt(run, "breaking", /field "4" with name "etag" on message "User" was deleted/);
  });

  test("a pact the provider does not honour stops the pipeline at pacts", async () => {
    const clone = cloneWorkingTree();
    // The SDK's pact for reading a user, as a new consumer that also relies on a field the gateway never sends.
    const pact = JSON.parse(readFileSync(join(root, "pacts/charter-sdk-charter-gateway.json"), "utf8"));
    const interactions = (pact.interactions as { description: string; response: { body: { content: object } } }[])
      .filter((i) => i.description === "a request for an existing user")
      .map((i) => ({
        ...i,
        response: {
          ...i.response,
          body: { ...i.response.body, content: { ...i.response.body.content, nickname: "Ada" } },
        },
      }));
    assert.equal(interactions.length, 1, "the SDK's pact reads an existing user");
    pact.consumer = { name: "charter-reports" };
    pact.interactions = interactions;
    writeFileSync(join(clone, "pacts/charter-reports-charter-gateway.json"), JSON.stringify(pact, null, 2));
    const run = await runScript(clone, "scripts/release.ts", ["--dry-run", "--from", "pacts"]);
    assertStoppedAt(run, "pacts", /✖ pact verification failed: pacts\/charter-reports-charter-gateway\.json/);
    assert.match(run.output, /nickname/, "the report names the field the provider does not send");
  });
});

describe("can-i-deploy over a verification matrix", { concurrency: true }, () => {
  const provider = "0.2.0-abcdef123456";
  const row = (over: Partial<MatrixRow>): MatrixRow => ({
    consumer: "charter-sdk",
    consumerVersion: "sdk-1",
    provider: "charter-gateway",
    providerVersion: provider,
    result: "success",
    verifiedAt: "2026-12-01T10:00:00.000Z",
    pact: "pacts/charter-sdk-charter-gateway.json",
    ...over,
  });
  const sdk1: RequiredPact = {
    consumer: "charter-sdk",
    consumerVersion: "sdk-1",
    provider: "charter-gateway",
    why: "released",
  };
  const audit: RequiredPact = {
    consumer: "charter-audit",
    consumerVersion: "a-7",
    provider: "charter-users",
    why: "in this release",
  };
  const both = [sdk1, audit];

  test("yes when every required consumer version was verified against this provider version", () => {
    const decision = decide(
      { rows: [row({}), row({ consumer: "charter-audit", consumerVersion: "a-7", provider: "charter-users" })] },
      provider,
      both,
    );
    assert.equal(decision.deployable, true, decision.reasons.join("\n"));
    assert.deepEqual(decision.reasons, []);
  });

  test("no when a required consumer version failed, with the reason", () => {
    const decision = decide(
      {
        rows: [
          row({ result: "failure" }),
          row({ consumer: "charter-audit", consumerVersion: "a-7", provider: "charter-users" }),
        ],
      },
      provider,
      both,
    );
    assert.equal(decision.deployable, false);
    assert.deepEqual(decision.reasons, [
      `charter-sdk sdk-1 (released) → charter-gateway ${provider}: verification failed at 2026-12-01T10:00:00.000Z`,
    ]);
  });

  test("no when a consumer version was verified only against another provider version", () => {
    const decision = decide(
      {
        rows: [
          row({ providerVersion: "0.1.0-000000000000" }),
          row({ consumer: "charter-audit", consumerVersion: "a-7", provider: "charter-users" }),
        ],
      },
      provider,
      both,
    );
    assert.equal(decision.deployable, false);
    assert.deepEqual(decision.reasons, [`charter-sdk sdk-1 (released) → charter-gateway ${provider}: never verified`]);
  });

  test("a newer consumer version's success does not stand for the released one", () => {
    const decision = decide({ rows: [row({ consumerVersion: "sdk-2" })] }, provider, [sdk1]);
    assert.equal(decision.deployable, false);
    assert.match(decision.reasons.join("\n"), /charter-sdk sdk-1 .*never verified/);
  });

  test("the command answers yes and no with its exit code and the reason", async () => {
    const dir = temp("charter-matrix-");
    const matrix = join(dir, "matrix.json");
    writeFileSync(
      matrix,
      JSON.stringify({ rows: [row({}), row({ consumer: "charter-web", consumerVersion: "w-3", result: "failure" })] }),
    );
    const args = ["--matrix", matrix, "--provider-version", provider, "--require", "charter-sdk@sdk-1:charter-gateway"];
    const yes = await runScript(root, "scripts/can-i-deploy.ts", args);
    assert.equal(yes.code, 0, yes.output);
    assert.match(yes.output, /✔ yes: every consumer version it must honour was verified against 0\.2\.0-abcdef123456/);
    const no = await runScript(root, "scripts/can-i-deploy.ts", [
      ...args,
      "--require",
      "charter-web@w-3:charter-gateway",
    ]);
    assert.equal(no.code, 1, no.output);
    assert.match(
      no.output,
      /✖ no: charter-web w-3 \(required\) → charter-gateway 0\.2\.0-abcdef123456: verification failed/,
    );
  });
});

describe("the workflows (actionlint)", { concurrency: true }, () => {
  test(".github/workflows passes actionlint, with shellcheck on the run scripts", async () => {
    const run = await runScript(root, "scripts/workflows-lint.ts", []);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /✔ actionlint: [2-9] workflow file\(s\) clean/);
  });

  test("a broken workflow is refused, each problem named", async () => {
    const file = join(temp("charter-workflow-"), "broken.yml");
    writeFileSync(
      file,
      [
        "name: broken",
        "on: push",
        "jobs:",
        "  test:",
        "    steps:",
        "      - uses: actions/checkout@v4",
        "        with:",
        "          fetch-depht: 0",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JavaScript template
        "      - run: npm run release -- ${{ github.event.head_commit.message }}",
        "      - run: echo $UNQUOTED",
        "",
      ].join("\n"),
    );
    const run = await runScript(root, "scripts/workflows-lint.ts", [file]);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /"runs-on" section is missing in job "test"/);
    assert.match(run.output, /input "fetch-depht" is not defined in action "actions\/checkout@v4"/);
    assert.match(run.output, /"github\.event\.head_commit\.message" is potentially untrusted/);
    assert.match(run.output, /shellcheck reported issue in this script: SC2086/);
  });
});
