// `npm test`: everything CI checks, fastest first, stopping at the first failure.
// Static checks (lint, typecheck, declared dependencies, dependency rules, contract lint, generate drift, breaking
// changes, promtool), then every test file (unit beside the source, integration and end-to-end in test/) under node:test.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, PACT_DO_NOT_TRACK: "true" };

function step(label, command, args) {
  const started = Date.now();
  console.log(`\n▶ ${label}`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`✖ ${label} failed after ${seconds} s`);
    process.exit(result.status ?? 1);
  }
  console.log(`✔ ${label} (${seconds} s)`);
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return ["node_modules", "generated", ".git"].includes(entry.name) ? [] : testFiles(path);
    }
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

const only = process.argv.slice(2);
if (only.length === 0) {
  step("lint and format (biome)", "biome", ["ci", "."]);
  step("typecheck (tsc)", "tsc", ["--noEmit"]);
  step("dependencies declared exactly (knip)", "knip", ["--dependencies", "--no-progress"]);
  // The house's dependency rules (docs/architecture.md): depcruise exits with the number of error-severity
  // violations. test/dependency-rules.test.ts asserts none through the API too (an exit status wraps at 256).
  step("dependency rules (dependency-cruiser)", "depcruise", [
    "--config",
    ".dependency-cruiser.cjs",
    "--output-type",
    "err",
    "platform",
    "services",
    "functions",
    "mocks",
    "sdk",
    "scripts",
    "test",
  ]);
  step("contract lint (buf, redocly, graphql)", "tsx", ["scripts/contracts-lint.ts"]);
  step("generate drift (contracts → generated/)", "tsx", ["scripts/generate.ts", "--check"]);
  step("breaking changes (contracts vs newest contracts-v* tag)", "tsx", ["scripts/contracts-breaking.ts"]);
  step("prometheus config and alert rules (promtool)", "tsx", ["scripts/prometheus-check.ts"]);
}
const files = only.length > 0 ? only : testFiles(root).sort();
// --test-force-exit: a file whose tests are done exits even if something it opened is still referenced (a watch, a
// timer, a socket). Without it one leaked handle keeps that file's process, and so the whole run, waiting for ever.
step(`tests (${files.length} files)`, process.execPath, [
  "--import",
  "tsx",
  "--test",
  "--test-force-exit",
  "--test-reporter=spec",
  ...files,
]);
