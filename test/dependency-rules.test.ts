/**
 * The dependency rules of the house (.dependency-cruiser.cjs, docs/architecture.md): the real tree keeps them,
 * and purpose-made trees that break them are caught, each violation named by its rule and its file. The rules
 * are those of the one config file `npm test` runs depcruise with. And the packages: knip, as `npm test` runs it,
 * refuses an import of an undeclared package and a declared package nothing uses.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { cruise, type ICruiseOptions, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";

const root = fileURLToPath(new URL("..", import.meta.url));
const CONFIG = join(root, ".dependency-cruiser.cjs");
/** What scripts/test.mjs hands depcruise. */
const SOURCES = ["platform", "services", "functions", "mocks", "sdk", "scripts", "test"];

interface Violation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

/** Cruises `sources` under `baseDir` with the config file's rules and options, as the CLI does. */
async function violationsIn(baseDir: string, sources: readonly string[]): Promise<Violation[]> {
  const configured: ICruiseOptions = await extractDepcruiseOptions(CONFIG);
  const tsConfigFile = join(baseDir, "tsconfig.json");
  const options: ICruiseOptions = { ...configured, baseDir, tsConfig: { fileName: tsConfigFile } };
  const result = await cruise([...sources], options, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  const { summary } = result.output as ICruiseResult;
  assert.ok(summary.totalCruised > 0, `nothing was cruised under ${baseDir}`);
  return summary.violations
    .map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }))
    .sort((a, b) => `${a.rule} ${a.from} ${a.to}`.localeCompare(`${b.rule} ${b.from} ${b.to}`));
}

const trees: string[] = [];
after(async () => {
  await Promise.all(trees.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A purpose-made tree in a temp dir: file → its text, plus a tsconfig like the repository's. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "charter-dependency-rules-"));
  trees.push(dir);
  const all: Record<string, string> = {
    "tsconfig.json": JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true },
    }),
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

test("every rule is an error and says why", async () => {
  const { ruleSet } = await extractDepcruiseOptions(CONFIG);
  const rules = ruleSet?.forbidden ?? [];
  assert.ok(rules.length > 0);
  for (const rule of rules) {
    assert.equal(rule.severity, "error", rule.name);
    assert.ok((rule.comment ?? "").length > 40, `${rule.name} has no comment saying why`);
  }
  assert.equal(new Set(rules.map((r) => r.name)).size, rules.length, "rule names are unique");
});

test("the repository keeps every dependency rule", async () => {
  const violations = await violationsIn(root, SOURCES);
  assert.deepEqual(violations, [], violations.map((v) => `${v.rule}: ${v.from} → ${v.to}`).join("\n"));
});

test("a platform file that imports a service is caught, by rule and file, and fails the depcruise run", async () => {
  const dir = await tree({
    "platform/leak.ts": 'import { type User } from "../services/users/domain/user.js";\nexport type Leak = User;\n',
    "platform/fine.ts": 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
    "services/users/domain/user.ts": "export interface User {\n  readonly id: string;\n}\n",
  });
  assert.deepEqual(await violationsIn(dir, ["platform", "services"]), [
    { rule: "platform-not-to-services", from: "platform/leak.ts", to: "services/users/domain/user.ts" },
  ]);

  // The step of scripts/test.mjs: the same config file, run from the tree's root, exits non-zero naming it.
  const run = spawnSync(
    join(root, "node_modules/.bin/depcruise"),
    ["--config", CONFIG, "--output-type", "err", "platform", "services"],
    { cwd: dir, encoding: "utf8" },
  );
  assert.notEqual(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /error platform-not-to-services: platform\/leak\.ts → services\/users\/domain\/user\.ts/);
});

test("mocks, layers, services and cycles: each broken rule is named, and the allowed imports pass", async () => {
  const dir = await tree({
    // A mock that copies a service's behaviour by importing its transport; one that uses platform/ is fine.
    "mocks/users-mock.ts": 'export { toServiceError } from "../services/users/transport/users-grpc.js";\n',
    "mocks/fine-mock.ts": 'export { rule } from "../platform/rule.js";\n',
    "platform/rule.ts": "export const rule = 1;\n",
    // A domain that reaches an adapter, a transport that reaches an adapter; an adapter over the domain is fine.
    "services/users/domain/user.ts": 'export { store } from "../adapters/store.js";\nexport const user = 1;\n',
    "services/users/adapters/store.ts":
      'import { rule } from "../../../platform/rule.js";\nexport const store = rule;\n',
    "services/users/transport/users-grpc.ts":
      'export { store } from "../adapters/store.js";\nexport const toServiceError = 1;\n',
    // The composition root may host another service through its *-app.ts, and nothing deeper of it.
    "services/users/serve.ts":
      'export { auditApp } from "../audit/audit-app.js";\nexport { history } from "../audit/domain/history.js";\n',
    "services/audit/audit-app.ts": "export const auditApp = 1;\n",
    "services/audit/domain/history.ts": "export const history = 1;\n",
    // Any other file of a service never imports another service.
    "services/gateway/app/backends.ts": 'export { user } from "../../users/domain/user.js";\n',
    // Runtime code never imports test support.
    "services/audit/app/consumer.ts": 'export { helper } from "../../../test/support/helper.js";\n',
    "test/support/helper.ts": "export const helper = 1;\n",
    // platform/ may use the generic generated code, not a service's; the SDK only its own and generated/.
    "platform/codes.ts":
      'export type { ErrorCode } from "../generated/graphql/users.js";\nexport { Status } from "../generated/proto/google/rpc/status.js";\n',
    "generated/graphql/users.ts": 'export type ErrorCode = "NOT_FOUND";\n',
    "generated/proto/google/rpc/status.ts": "export const Status = 1;\n",
    "sdk/index.ts":
      'export { rule } from "../platform/rule.js";\nexport type { ErrorCode } from "../generated/graphql/users.js";\n',
    // A cycle.
    "platform/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
    "platform/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
  });
  const violations = await violationsIn(dir, ["platform", "services", "mocks", "sdk", "test"]);
  assert.deepEqual(
    violations.filter((v) => v.rule !== "no-circular"),
    [
      {
        rule: "composition-root-only-to-composition",
        from: "services/users/serve.ts",
        to: "services/audit/domain/history.ts",
      },
      {
        rule: "domain-not-to-outer-layers",
        from: "services/users/domain/user.ts",
        to: "services/users/adapters/store.ts",
      },
      {
        rule: "mocks-only-platform-and-generated",
        from: "mocks/users-mock.ts",
        to: "services/users/transport/users-grpc.ts",
      },
      { rule: "no-cross-service", from: "services/gateway/app/backends.ts", to: "services/users/domain/user.ts" },
      { rule: "platform-not-to-service-contracts", from: "platform/codes.ts", to: "generated/graphql/users.ts" },
      {
        rule: "runtime-not-to-tests-or-tooling",
        from: "services/audit/app/consumer.ts",
        to: "test/support/helper.ts",
      },
      { rule: "sdk-only-sdk-and-generated", from: "sdk/index.ts", to: "platform/rule.ts" },
      {
        rule: "transport-not-to-adapters",
        from: "services/users/transport/users-grpc.ts",
        to: "services/users/adapters/store.ts",
      },
    ],
  );
  // A cycle is reported once, from the module where the cruise met it first.
  assert.deepEqual(
    violations.filter((v) => v.rule === "no-circular").map((v) => [v.from, v.to]),
    [["platform/a.ts", "platform/b.ts"]],
  );
});

test("packages are declared exactly: knip, as npm test runs it, names an undeclared import and an unused dependency", async () => {
  const dir = await tree({
    "package.json": JSON.stringify({
      name: "fixture",
      type: "module",
      main: "index.ts",
      dependencies: { "left-pad": "1.3.0", ajv: "8.20.0" },
    }),
    "index.ts": 'import Ajv from "ajv";\nimport chalk from "chalk";\nexport const tools = [Ajv, chalk];\n',
  });
  const run = spawnSync(
    join(root, "node_modules/.bin/knip"),
    ["--dependencies", "--no-progress", "--no-config-hints"],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  assert.notEqual(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /Unused dependencies \(1\)\s+left-pad\s+package\.json/);
  assert.match(run.stdout, /Unlisted dependencies \(1\)\s+chalk\s+index\.ts/);
  assert.doesNotMatch(run.stdout, /\bajv\b/, "a declared package that is imported is neither");
});

test("a function that imports a service is caught; one that uses the platform and the generated code passes", async () => {
  const dir = await tree({
    "functions/leak/index.ts": 'export { x } from "../../services/users/domain/user.js";\n',
    "functions/fine/index.ts":
      'export { rule } from "../../platform/rule.js";\nexport type { X } from "../../generated/x.js";\n',
    "services/users/domain/user.ts": "export const x = 1;\n",
    "platform/rule.ts": "export const rule = 1;\n",
    "generated/x.ts": "export type X = number;\n",
  });
  assert.deepEqual(await violationsIn(dir, ["functions", "services", "platform", "generated"]), [
    { rule: "functions-not-to-services", from: "functions/leak/index.ts", to: "services/users/domain/user.ts" },
  ]);
});
