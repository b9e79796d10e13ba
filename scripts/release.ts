/**
 * `npm run release [-- <version>] [--dry-run] [--from|--to|--only <step>] [--matrix <file>] [--push]`: the
 * delivery pipeline. Every step is a command of this repository, run in this order, each printed with its time; the
 * first that fails stops the pipeline with its name and reason, before any later step — so a contract that breaks
 * a consumer, or a pact the provider no longer honours, stops it before any image is tagged. The steps and what a
 * dry run changes are in scripts/lib/release-steps.ts; docs/delivery.md says it all for users.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ReleaseStep, releaseSteps, STEP_NAMES, selectSteps } from "./lib/release-steps.js";
import { DEFAULT_MATRIX, packageVersion, providerVersion, ROOT } from "./lib/verification-matrix.js";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "dry-run": { type: "boolean", default: false },
    from: { type: "string" },
    to: { type: "string" },
    only: { type: "string" },
    matrix: { type: "string" },
    push: { type: "boolean", default: false },
  },
});

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs a step's command with its output passed through; resolves with its exit code and last lines. */
function run(step: ReleaseStep): Promise<{ code: number | null; tail: string[] }> {
  return new Promise((resolve) => {
    const [command = "", ...rest] = step.command;
    const child = spawn(command, rest, {
      cwd: ROOT,
      env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() !== "") tail.push(line);
      tail.splice(0, Math.max(0, tail.length - 8));
    };
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      keep(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      keep(chunk);
    });
    const stop = () => child.kill("SIGTERM");
    process.once("SIGINT", stop);
    child.once("error", (error) => resolve({ code: null, tail: [error.message] }));
    child.once("close", (code) => {
      process.off("SIGINT", stop);
      resolve({ code, tail });
    });
  });
}

async function main(): Promise<number> {
  const dryRun = args["dry-run"];
  if (positionals.length > 1) throw new Error(`one version at most, got ${positionals.join(" ")}`);
  const version = positionals[0] ?? packageVersion(ROOT);
  if (!/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`${version} is not a semver version`);
  const selected = selectSteps({ from: args.from, to: args.to, only: args.only });
  const work = mkdtempSync(join(tmpdir(), "charter-release-"));
  try {
    // A dry run records its verifications in a copy of the matrix, so nothing of it lasts.
    let matrix = args.matrix ?? DEFAULT_MATRIX;
    if (dryRun) {
      const copy = join(work, "verification-matrix.json");
      if (existsSync(matrix)) copyFileSync(matrix, copy);
      matrix = copy;
    }
    const steps = releaseSteps({
      version,
      providerVersion: providerVersion(ROOT, version),
      dryRun,
      push: args.push,
      matrix,
      work,
    });
    console.log(
      `release charter ${version}${dryRun ? " (dry run: nothing published, committed, recorded or left tagged)" : ""}` +
        `: ${selected.join(" → ")}`,
    );
    const times: string[] = [];
    for (const name of selected) {
      const step = steps[name];
      console.log(`\n▶ ${name}: ${step.what}\n  $ ${step.command.join(" ")}`);
      const started = Date.now();
      // node:test marks the processes of a test run: a test starts the pipeline at the gate in question, and the
      // full suite must never run inside the full suite, even if that gate wrongly passed.
      const nested = name === "test" && process.env.NODE_TEST_CONTEXT !== undefined;
      const { code, tail } = nested
        ? { code: 1, tail: ["refusing to run npm test inside a test run (NODE_TEST_CONTEXT is set)"] }
        : await run(step);
      const took = seconds(Date.now() - started);
      if (code !== 0) {
        const later = selected.slice(selected.indexOf(name) + 1);
        console.error(
          `\n✖ release stopped at ${name} after ${took} (exit ${code}): ${tail.at(-1) ?? "no output"}` +
            (later.length > 0 ? `\n  not run: ${later.join(", ")}` : ""),
        );
        return 1;
      }
      times.push(`${name} ${took}`);
      console.log(`✔ ${name} (${took})`);
    }
    console.log(`\n✔ release charter ${version}${dryRun ? " (dry run)" : ""}: ${times.join(", ")}`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`release cannot run: ${error instanceof Error ? error.message : String(error)}`);
  console.error(`steps: ${STEP_NAMES.join(", ")}`);
  process.exitCode = 2;
}
