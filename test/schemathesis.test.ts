/**
 * Schemathesis against the real gateway and users service (embedded backends, processes on free ports): it reads
 * the live /openapi.json and runs every phase (examples, coverage, fuzzing, stateful over the contract's links)
 * with every check, configured by the committed schemathesis.toml (seed, deterministic generation, bounded
 * examples, a time cap, each exclusion with its reason). Zero failures are required, and the stateful phase must
 * have run scenarios. Schemathesis is provisioned once into ~/.cache/charter (scripts/infra/provision.ts); its
 * reports go to a temp dir, so the working tree stays clean.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureSchemathesis } from "../scripts/infra/provision.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const CONFIG = join(root, "schemathesis.toml");
/** Beyond the config's max-time (30 s): loading, the last round, and writing the reports. */
const RUN_TIMEOUT_MS = 90_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `env` goes over this process's environment (CHARTER_TOKEN: the token schemathesis.toml sends). */
function schemathesis(python: string, args: readonly string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      python,
      ["-m", "schemathesis.cli", ...args],
      {
        cwd,
        env: { ...process.env, ...env },
        timeout: RUN_TIMEOUT_MS,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The text from a `=== TITLE ===` banner of Schemathesis' output to the end (or to the next banner). */
function section(stdout: string, title: string, toEnd = false): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => new RegExp(`^=+ ${title} =+$`).test(line.trim()));
  if (start < 0) return "";
  const rest = lines.slice(start);
  const next = toEnd ? -1 : rest.findIndex((line, i) => i > 0 && /^=+ .+ =+$/.test(line.trim()));
  return (next < 0 ? rest : rest.slice(0, next)).join("\n");
}

let platform: RunningPlatform;
let python = "";
let work = "";

before(async () => {
  ({ python } = await ensureSchemathesis());
  work = await mkdtemp(join(tmpdir(), "charter-schemathesis-"));
  platform = await startPlatform({ GATEWAY_HOST: "127.0.0.1" });
});
after(async () => {
  await platform?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("schemathesis: every phase and check over the live contract finds no failure, and the stateful phase chains links", async () => {
  const reports = join(work, "reports");
  // A real token with every scope from the development issuer the platform trusts (client credentials).
  const authorization = await platform.authorization();
  const token = authorization.slice("Bearer ".length);
  const started = Date.now();
  const run = await schemathesis(
    python,
    [
      "--config-file",
      CONFIG,
      "--no-color",
      "run",
      `${platform.baseUrl}/openapi.json`,
      "--report",
      "junit,ndjson",
      "--report-dir",
      reports,
    ],
    work,
    { CHARTER_TOKEN: token },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const files = await readdir(reports).catch(() => [] as string[]);
  const junitFile = files.find((f) => f.startsWith("junit") && f.endsWith(".xml"));
  const ndjsonFile = files.find((f) => f.endsWith(".ndjson"));
  const failuresText = section(run.stdout, "FAILURES");
  const context = `schemathesis exited ${run.code} after ${seconds} s\n${failuresText || run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`;
  assert.ok(junitFile && ndjsonFile, `no JUnit/NDJSON report in ${reports}: ${context}`);

  const junit = await readFile(join(reports, junitFile), "utf8");
  const totals = /<testsuites\b[^>]*>/.exec(junit)?.[0] ?? "";
  const attribute = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(totals)?.[1] ?? Number.NaN);
  const [tests, failures, errors] = [attribute("tests"), attribute("failures"), attribute("errors")];

  // Scenarios by phase, and the stateful phase's links, from the event stream.
  const scenarios = new Map<string, number>();
  let links = 0;
  for (const line of (await readFile(join(reports, ndjsonFile), "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as Record<string, { phase?: unknown; payload?: { transitions_total?: number } }>;
    const finished = event.ScenarioFinished;
    if (finished && typeof finished.phase === "string") {
      scenarios.set(finished.phase, (scenarios.get(finished.phase) ?? 0) + 1);
    }
    const phase = event.PhaseStarted;
    if (phase && (phase.phase as { name?: string } | undefined)?.name === "stateful") {
      links = Math.max(links, phase.payload?.transitions_total ?? 0);
    }
  }
  const byPhase = [...scenarios].map(([phase, count]) => `${phase} ${count}`).join(", ");
  console.log(
    `schemathesis: ${seconds} s, ${tests} JUnit cases, ${failures} failures, ${errors} errors; ` +
      `scenarios by phase: ${byPhase}; ${links} stateful links\n${section(run.stdout, "SUMMARY", true)}`,
  );

  assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token), "the token is never printed");
  assert.equal(failures, 0, context);
  assert.equal(errors, 0, context);
  assert.equal(run.code, 0, context);
  assert.ok((scenarios.get("stateful") ?? 0) > 0, `the stateful phase ran no scenario: ${context}`);
  assert.ok(links > 0, `the stateful phase found no link to follow: ${context}`);
});
