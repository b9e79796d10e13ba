/**
 * The drift gate itself: a contract changed without regenerating fails the check and
 * shows the diff. Runs in a copy of the repository so the real tree is untouched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

test("changing a contract without regenerating fails the check with the diff", async () => {
  const copy = await mkdtemp(join(tmpdir(), "charter-drift-"));
  try {
    for (const dir of ["contracts", "generated", "scripts", "platform"])
      await cp(join(root, dir), join(copy, dir), { recursive: true });
    for (const file of ["package.json", "tsconfig.json"]) await cp(join(root, file), join(copy, file));
    await symlink(join(root, "node_modules"), join(copy, "node_modules"));
    spawnSync("git", ["init", "-q"], { cwd: copy });

    const check = () =>
      spawnSync(join(root, "node_modules/.bin/tsx"), ["scripts/generate.ts", "--check"], {
        cwd: copy,
        encoding: "utf8",
      });
    assert.equal(check().status, 0, "an untouched copy is in sync");

    const proto = join(copy, "contracts/proto/charter/users/v1/users.proto");
    const text = await readFile(proto, "utf8");
    await writeFile(
      proto,
      text.replace("message DeleteUserResponse {}", "message DeleteUserResponse {\n  string deleted_by = 1;\n}"),
    );
    const drifted = check();
    assert.equal(drifted.status, 1);
    assert.match(drifted.stderr, /out of date/);
    assert.match(drifted.stderr, /deletedBy/, "the diff shows the new field");
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
});
