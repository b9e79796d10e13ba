/**
 * `npm run workflows:lint [-- <files or dirs>]`: actionlint over the GitHub Actions workflows (.github/workflows by
 * default), with the provisioned shellcheck on every `run:` script and pyflakes off, so the verdict does not depend
 * on what else is on PATH (scripts/infra/actionlint.ts). Exit code: actionlint's (0 clean, 1 problems found).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureActionlint, ensureShellcheck } from "./infra/actionlint.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : [join(root, ".github", "workflows")]).flatMap((target) =>
  statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((name) => /\.ya?ml$/.test(name))
        .sort()
        .map((name) => join(target, name))
    : [target],
);
if (files.length === 0) {
  console.error(`no workflow file in ${targets.join(", ") || ".github/workflows"}`);
  process.exit(1);
}
const [actionlint, shellcheck] = [await ensureActionlint(), await ensureShellcheck()];
const run = spawnSync(actionlint, ["-no-color", "-shellcheck", shellcheck, "-pyflakes=", ...files], {
  cwd: root,
  stdio: "inherit",
});
if (run.status === 0) console.log(`✔ actionlint: ${files.length} workflow file(s) clean`);
process.exitCode = run.status ?? 1;
