/**
 * `npm run contracts:breaking` against temporary git repositories: a copy of contracts/ is
 * committed and tagged, then changed in the working tree, and the real script is run on it.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureOasdiff, RELEASES_FILE } from "../scripts/contracts-breaking.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const USERS_PROTO = "contracts/proto/charter/users/v1/users.proto";
const OPENAPI = "contracts/openapi/users.v1.yaml";
const GRAPHQL = "contracts/graphql/users.graphql";
const ASYNCAPI = "contracts/asyncapi/users-events.yaml";
const repos: string[] = [];

// Installs oasdiff once (Go, pinned version, ~/.cache/charter/) before the gate runs side by side.
before(() => {
  ensureOasdiff();
});
after(() => {
  for (const repo of repos) rmSync(repo, { recursive: true, force: true });
});

function git(repo: string, ...args: string[]): void {
  execFileSync("git", args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
}

/** A new git repository holding the project's contracts/, committed, with the given tags on that commit. */
function repoWithContracts(...tags: string[]): string {
  const repo = mkdtempSync(join(tmpdir(), "charter-breaking-"));
  repos.push(repo);
  cpSync(join(root, "contracts"), join(repo, "contracts"), { recursive: true });
  rmSync(join(repo, RELEASES_FILE)); // its commits are the project's, not this repository's
  git(repo, "init", "--quiet", "--initial-branch=main");
  git(repo, "config", "user.email", "gate@example.com");
  git(repo, "config", "user.name", "Gate");
  git(repo, "config", "commit.gpgsign", "false");
  git(repo, "config", "tag.gpgsign", "false");
  commit(repo, "contracts");
  for (const tag of tags) git(repo, "tag", tag);
  return repo;
}

function commit(repo: string, message: string): void {
  git(repo, "add", "-A");
  git(repo, "commit", "--quiet", "-m", message);
}

/** Replaces `from` with `to` in a file of the repository; `from` must be there exactly once. */
function edit(repo: string, file: string, from: string, to: string): void {
  const path = join(repo, file);
  const text = readFileSync(path, "utf8");
  assert.equal(text.split(from).length, 2, `${file} should contain exactly once:\n${from}`);
  writeFileSync(path, text.replace(from, to));
}

interface GateRun {
  readonly code: number | null;
  readonly output: string;
}

/** Runs the real script on the repository (asynchronously, so the tests of this file run side by side). */
function runGate(repo: string, baseRef?: string): Promise<GateRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.BASE_REF;
  delete env.CONTRACTS_ROOT;
  if (baseRef !== undefined) env.BASE_REF = baseRef;
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "scripts/contracts-breaking.ts", repo],
      { cwd: root, env, encoding: "utf8" },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, output: `${stdout}${stderr}` }),
    );
  });
}

function assertBreaks(run: GateRun, ...reasons: RegExp[]): void {
  assert.equal(run.code, 1, `the gate should fail:\n${run.output}`);
  for (const reason of reasons) assert.match(run.output, reason, run.output);
}

function assertPasses(run: GateRun): void {
  assert.equal(run.code, 0, `the gate should pass:\n${run.output}`);
  assert.doesNotMatch(run.output, /✖/, run.output);
}

const ETAG_FIELD = `  // Opaque version tag; changes on every write.
  string etag = 4 [(charter.contract.v1.field) = {
    output_only: true
    max_len: 64
  }];
`;

describe("contracts:breaking against a contracts-v* tag", { concurrency: true }, () => {
  test("unchanged contracts pass and name the tag they were compared with", async () => {
    const run = await runGate(repoWithContracts("contracts-v1"));
    assertPasses(run);
    assert.match(run.output, /compared with contracts-v1/);
  });

  test("removing a field of the proto User breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(repo, USERS_PROTO, ETAG_FIELD, "");
    assertBreaks(await runGate(repo), /proto .*1 breaking/, /field "4" with name "etag" on message "User" was deleted/);
  });

  test("removing an RPC breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(
      repo,
      USERS_PROTO,
      '  rpc BatchGetUsers(BatchGetUsersRequest) returns (BatchGetUsersResponse) {\n    option (charter.contract.v1.method) = {scopes: "users:read"};\n  }\n',
      "",
    );
    assertBreaks(await runGate(repo), /RPC "BatchGetUsers" on service "UsersService" was deleted/);
  });

  test("renaming an OpenAPI path breaks every operation on the old path", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(repo, OPENAPI, "  /v1/users/{id}:\n", "  /v1/people/{id}:\n");
    assertBreaks(
      await runGate(repo),
      /OpenAPI contracts\/openapi\/users\.v1\.yaml .*3 breaking/,
      /GET \/v1\/users\/\{id\}: api path removed without deprecation/,
      /PATCH \/v1\/users\/\{id\}: api path removed/,
      /DELETE \/v1\/users\/\{id\}: api path removed/,
    );
  });

  test("making an optional OpenAPI query parameter required breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(
      repo,
      OPENAPI,
      "name: pageSize\n      in: query\n      required: false",
      "name: pageSize\n      in: query\n      required: true",
    );
    assertBreaks(await runGate(repo), /GET \/v1\/users: the `query` request parameter `pageSize` became required/);
  });

  test("making an optional OpenAPI request body field required breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(repo, OPENAPI, "      minProperties: 1\n", "      minProperties: 1\n      required: [name]\n");
    assertBreaks(await runGate(repo), /PATCH \/v1\/users\/\{id\}: the request property `name` became required/);
  });

  test("removing a GraphQL field breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(repo, GRAPHQL, '  "Opaque version tag; changes on every write."\n  etag: String!\n', "");
    assertBreaks(
      await runGate(repo),
      /GraphQL .*1 breaking/,
      /User\.etag: Field 'etag' was removed from object type 'User'/,
    );
  });

  test("adding optional fields to all three contracts passes", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(repo, USERS_PROTO, ETAG_FIELD, `${ETAG_FIELD}  // A short name to show.\n  string nickname = 7;\n`);
    edit(
      repo,
      OPENAPI,
      "      required: [name, email]\n      properties:\n",
      "      required: [name, email]\n      properties:\n        nickname:\n          type: string\n          maxLength: 40\n",
    );
    edit(repo, GRAPHQL, "  etag: String!\n", '  etag: String!\n  "A short name to show."\n  nickname: String\n');
    assertPasses(await runGate(repo));
  });

  test("removing a field of the AsyncAPI payload breaks, named by its path in the dereferenced message", async () => {
    const repo = repoWithContracts("contracts-v1");
    // The payload is a $ref to components/schemas/UserEvent, whose `user` is a $ref to User.
    edit(
      repo,
      ASYNCAPI,
      "        email:\n          type: string\n          format: email\n          minLength: 3\n          maxLength: 254\n",
      "",
    );
    edit(repo, ASYNCAPI, "required: [id, name, email, etag,", "required: [id, name, etag,");
    assertBreaks(
      await runGate(repo),
      /AsyncAPI contracts\/asyncapi\/users-events\.yaml .*2 breaking/,
      /✖ \/channels\/userEvents\/messages\/userEvent\/payload\/properties\/user\/properties\/email removed/,
      /✖ \/channels\/userEvents\/messages\/userEvent\/payload\/properties\/user\/required changed: \[.*"email".*\] → /,
    );
  });

  test("removing an AsyncAPI channel breaks", async () => {
    const repo = repoWithContracts("contracts-v1");
    const text = readFileSync(join(repo, ASYNCAPI), "utf8");
    const start = text.indexOf("  userEventsDeadLetter:\n");
    edit(repo, ASYNCAPI, text.slice(start, text.indexOf("operations:\n")), "");
    const deadLetterOperation = text.slice(text.indexOf("  deadLetterUserEvent:\n"), text.indexOf("components:\n"));
    edit(repo, ASYNCAPI, deadLetterOperation, "");
    assertBreaks(
      await runGate(repo),
      /✖ \/channels\/userEventsDeadLetter removed/,
      /✖ \/operations\/deadLetterUserEvent removed/,
    );
  });

  test("an optional field and a new description in the AsyncAPI payload pass", async () => {
    const repo = repoWithContracts("contracts-v1");
    edit(
      repo,
      ASYNCAPI,
      "        etag:\n          type: string\n          maxLength: 64\n        createTime:",
      "        etag:\n          type: string\n          maxLength: 64\n        nickname:\n          type: string\n" +
        "          maxLength: 40\n          description: A short name to show.\n        createTime:",
    );
    edit(
      repo,
      ASYNCAPI,
      "        eventId:\n          type: string\n",
      "        eventId:\n          type: string\n          description: Unique per event.\n",
    );
    const gate = await runGate(repo);
    assertPasses(gate);
    assert.match(gate.output, /AsyncAPI contracts\/asyncapi\/users-events\.yaml \(@asyncapi\/diff\): ok/);
  });

  test("a new version beside the published one passes: a v2 proto package and /v2 paths", async () => {
    const repo = repoWithContracts("contracts-v1");
    const v2 = readFileSync(join(repo, USERS_PROTO), "utf8")
      .replace("package charter.users.v1;", "package charter.users.v2;")
      .replace(ETAG_FIELD, "");
    mkdirSync(dirname(join(repo, USERS_PROTO.replace("/v1/", "/v2/"))), { recursive: true });
    writeFileSync(join(repo, USERS_PROTO.replace("/v1/", "/v2/")), v2);
    edit(
      repo,
      OPENAPI,
      "paths:\n",
      'paths:\n  /v2/users:\n    get:\n      operationId: listUsersV2\n      tags: [users]\n      responses:\n        "200":\n          description: Users.\n',
    );
    assertPasses(await runGate(repo));
  });

  test("removing a GraphQL field that the newest tag already marks deprecated passes", async () => {
    // contracts-v9 has User.etag as it is; contracts-v10 deprecates it. Version order picks v10
    // (plain string order would pick v9, and the removal would break).
    const repo = repoWithContracts("contracts-v9");
    edit(repo, GRAPHQL, "  etag: String!\n", '  etag: String! @deprecated(reason: "Read the ETag header.")\n');
    commit(repo, "deprecate User.etag");
    git(repo, "tag", "contracts-v10");
    edit(
      repo,
      GRAPHQL,
      '  "Opaque version tag; changes on every write."\n  etag: String! @deprecated(reason: "Read the ETag header.")\n',
      "",
    );
    const gate = await runGate(repo);
    assertPasses(gate);
    assert.match(gate.output, /compared with contracts-v10/);
    assert.match(gate.output, /allowed, deprecated at the base ref: User\.etag/);
    assertBreaks(await runGate(repo, "contracts-v9"), /User\.etag: Field 'etag' was removed/);
  });

  test("a BASE_REF that does not exist fails loudly", async () => {
    const gate = await runGate(repoWithContracts("contracts-v1"), "contracts-v404");
    assert.equal(gate.code, 2, gate.output);
    assert.match(gate.output, /BASE_REF=contracts-v404 does not name a commit/);
  });

  test("without tags, the last release in contracts/releases.txt is the base: a break against it fails", async () => {
    const repo = repoWithContracts();
    const released = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
    writeFileSync(join(repo, RELEASES_FILE), `# releases\ncontracts-v1 0000000\ncontracts-v2 ${released}\n`);
    commit(repo, "record contracts-v2");
    assertPasses(await runGate(repo));
    edit(repo, USERS_PROTO, ETAG_FIELD, "");
    const gate = await runGate(repo);
    assertBreaks(gate, /field "4" with name "etag" on message "User" was deleted/);
    assert.match(gate.output, /compared with contracts-v2 \(contracts\/releases\.txt\)/);
  });

  test("a release in contracts/releases.txt that this clone does not have fails loudly", async () => {
    const repo = repoWithContracts();
    writeFileSync(join(repo, RELEASES_FILE), "contracts-v1 0123456789abcdef0123456789abcdef01234567\n");
    const gate = await runGate(repo);
    assert.equal(gate.code, 2, gate.output);
    assert.match(gate.output, /names release contracts-v1 at 0123456789ab.*not a commit of this clone/);
  });

  test("with no contracts-v* tag the gate passes and says there is nothing to compare", async () => {
    const repo = repoWithContracts("release-1");
    edit(repo, GRAPHQL, '  "Opaque version tag; changes on every write."\n  etag: String!\n', "");
    const gate = await runGate(repo);
    assertPasses(gate);
    assert.match(gate.output, /no contracts-v\* tag and no release in contracts\/releases\.txt yet/);
  });
});
