/**
 * `npm run new:service` end to end, in a throwaway copy of the repository (its files as the working tree has them,
 * node_modules linked, not copied): the scaffold writes a service, `npm run generate` generates its code and
 * leaves every existing generated file as it was, the contracts lint passes, the whole tree typechecks and is
 * formatted, and the new service's own tests pass there. A taken or malformed name is refused in one line before
 * anything is written. Nothing of the copy is kept.
 */
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { repoRoot } from "../scripts/lib/proto-descriptor.js";

const NAME = "books";
let copy: string;

/** Runs a command in the copy; fails with its output when it fails. */
function run(command: string, args: readonly string[], timeoutMs = 120_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd: copy,
    encoding: "utf8",
    timeout: timeoutMs,
    // Not NODE_TEST_CONTEXT: a test runner started with it reports to this one instead of printing its results.
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NODE_TEST_CONTEXT")),
      FORCE_COLOR: "0",
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return result;
}

function ok(command: string, args: readonly string[], timeoutMs?: number): string {
  const result = run(command, args, timeoutMs);
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

before(async () => {
  copy = await mkdtemp(join(tmpdir(), "charter-scaffold-"));
  // The working tree's files (tracked, and new ones not ignored), as they are now.
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout
    .split("\0")
    .filter((f) => f !== "" && f !== "node_modules" && existsSync(join(repoRoot, f)));
  await Promise.all(
    files.map(async (file) => {
      await mkdir(dirname(join(copy, file)), { recursive: true });
      await cp(join(repoRoot, file), join(copy, file), { dereference: false });
    }),
  );
  await symlink(await realpath(join(repoRoot, "node_modules")), join(copy, "node_modules"), "dir");
});
after(() => rm(copy, { recursive: true, force: true }));

test(`new:service ${NAME} in a copy: generated, typechecked, linted, formatted, and its own tests pass`, async () => {
  const generatedBefore = readFileSync(join(copy, "generated/openapi/users.v1.ts"), "utf8");

  const bad = run("npx", ["tsx", "scripts/new-service.ts", "Books!"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^new:service: the service name must be a lower-case plural .*\n$/);
  const taken = run("npx", ["tsx", "scripts/new-service.ts", "users"]);
  assert.equal(taken.status, 1);
  assert.equal(taken.stderr, "new:service: a service named users exists already (services/users)\n");

  ok("npx", ["tsx", "scripts/new-service.ts", NAME]);
  for (const path of [
    "contracts/proto/charter/books/v1/books.proto",
    "contracts/openapi/books.v1.yaml",
    "contracts/graphql/books.graphql",
    "contracts/asyncapi/books-events.yaml",
    "services/books/domain/book.ts",
    "services/books/adapters/mongo-book-store.ts",
    "services/books/transport/books-grpc.ts",
    "services/books/books-app.ts",
    "docs/books.md",
  ]) {
    assert.ok(existsSync(join(copy, path)), `${path} is written`);
  }
  const again = run("npx", ["tsx", "scripts/new-service.ts", NAME]);
  assert.equal(again.status, 1, "a second scaffold of the same name is refused");
  assert.match(again.stderr, /^new:service: a service named books exists already/);

  ok("npm", ["run", "--silent", "generate"]);
  for (const path of [
    "generated/proto/charter/books/v1/books.ts",
    "generated/openapi/books.v1.ts",
    "generated/graphql/books.ts",
    "generated/asyncapi/books-events.ts",
  ]) {
    assert.ok(existsSync(join(copy, path)), `${path} is generated`);
  }
  assert.equal(readFileSync(join(copy, "generated/openapi/users.v1.ts"), "utf8"), generatedBefore);
  const scopes = readFileSync(join(copy, "generated/proto/method-rules.ts"), "utf8");
  assert.match(scopes, /"charter\.books\.v1\.BooksService\/CreateBook": \[\s*"books:write"\s*\]/);

  ok("npx", ["tsx", "scripts/contracts-lint.ts"]);
  ok("npx", ["tsc", "--noEmit"]);
  ok("npx", ["biome", "check", "services/books", "contracts", "docs", "--files-ignore-unknown=true"]);

  const tests = (await readdir(join(copy, "services/books"), { recursive: true }))
    .filter((file) => file.endsWith(".test.ts"))
    .map((file) => join("services/books", file))
    .sort();
  assert.deepEqual(tests, [
    "services/books/adapters/memory-book-store.test.ts",
    "services/books/adapters/mongo-book-store.test.ts",
    "services/books/app/books-service.test.ts",
    "services/books/books-app.test.ts",
  ]);
  const output = ok("node", ["scripts/test.mjs", ...tests]);
  assert.match(output, /ℹ fail 0/);
  const passed = Number(/ℹ pass (\d+)/.exec(output)?.[1] ?? 0);
  assert.ok(passed >= tests.length, `the new service's tests ran (${passed} passed)`);
});

/** Rewrites a file of the copy, failing when `from` is not in it. */
async function edit(path: string, from: string, to: string): Promise<void> {
  const text = await readFile(join(copy, path), "utf8");
  assert.ok(text.includes(from), `${path} holds ${from}`);
  await writeFile(join(copy, path), text.replace(from, to));
}

test(`the agreement check and the breaking gate cover ${NAME} in the copy`, async () => {
  // Runs after the test above, which scaffolded and generated the service.
  assert.ok(existsSync(join(copy, "services/books")), "the service was scaffolded");
  assert.match(ok("node", ["scripts/test.mjs", "test/contracts-agree.test.ts"]), /ℹ fail 0/);

  const git = (...args: string[]) =>
    ok("git", ["-c", "user.name=scaffold", "-c", "user.email=scaffold@example.com", ...args]);
  git("init", "--quiet");
  git("add", "--all");
  git("commit", "--quiet", "--no-verify", "-m", "the tree with books");
  git("tag", "contracts-v999");
  ok("npx", ["tsx", "scripts/contracts-breaking.ts"]);

  // A narrower name in OpenAPI than in the proto, and a path renamed: the agreement names the first, the gate both.
  await edit(
    "contracts/openapi/books.v1.yaml",
    "      minLength: 1\n      maxLength: 200\n",
    "      minLength: 1\n      maxLength: 100\n",
  );
  await edit("contracts/openapi/books.v1.yaml", "  /v1/books/{id}:", "  /v1/book/{id}:");
  await writeFile(
    join(copy, "agreement.ts"),
    'import { compareServiceContracts, loadContracts, loadServiceContracts } from "./scripts/lib/contract-agreement.js";\n' +
      "console.log(JSON.stringify(compareServiceContracts(loadContracts(), loadServiceContracts())));\n",
  );
  const problems = JSON.parse(ok("npx", ["tsx", "agreement.ts"])) as string[];
  assert.ok(
    problems.some((p) =>
      /^books: Book\.name limits: proto says .*"maxLength":200.*OpenAPI says .*"maxLength":100/.test(p),
    ),
    problems.join("\n"),
  );
  const gate = run("npx", ["tsx", "scripts/contracts-breaking.ts"]);
  assert.equal(gate.status, 1, `${gate.stdout}\n${gate.stderr}`);
  assert.match(gate.stdout + gate.stderr, /contracts\/openapi\/books\.v1\.yaml/);
  assert.match(gate.stdout + gate.stderr, /\/v1\/books\/\{id\}/);
});
