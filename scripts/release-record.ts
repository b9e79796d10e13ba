/**
 * `tsx scripts/release-record.ts --version <v> [--dry-run]`, the last step of `npm run release`: records this commit
 * as the next contracts release. Appends `contracts-v<N+1> <commit>  # charter <v>` to contracts/releases.txt (N the
 * highest contracts-vN there or among the tags), commits it, and tags the released commit contracts-v<N+1>, so the
 * breaking-change gate judges the next changes against it (through the tag, or the line in a clone without tags).
 * `--push` then pushes the commit and the tag to origin in one atomic push, onto RELEASE_BRANCH or the current branch
 * (the release workflow does; not run by the tests, which have no remote to push to). A dirty working tree is refused: the line must name the commit that was tested and built.
 * `--dry-run` prints the line and the tag it would make and changes nothing.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RELEASES_FILE } from "./contracts-breaking.js";
import { packageVersion, ROOT } from "./lib/verification-matrix.js";

const { values: args } = parseArgs({
  options: {
    version: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    push: { type: "boolean", default: false },
  },
});
const git = (gitArgs: readonly string[]) =>
  execFileSync("git", gitArgs, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

const version = args.version ?? packageVersion(ROOT);
const commit = git(["rev-parse", "HEAD"]);
const names = [
  ...readFileSync(join(ROOT, RELEASES_FILE), "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/)[0] ?? ""),
  ...git(["tag", "--list", "contracts-v*"]).split("\n"),
];
const highest = Math.max(0, ...names.map((name) => Number(/^contracts-v(\d+)$/.exec(name)?.[1] ?? 0)));
const name = `contracts-v${highest + 1}`;
const line = `${name} ${commit}  # charter ${version}`;

if (args["dry-run"]) {
  if (args.push) console.log("dry run: --push ignored");
  console.log(`dry run: would append "${line}" to ${RELEASES_FILE}, commit it and tag ${commit.slice(0, 12)} ${name}`);
  console.log("dry run: nothing written, committed or tagged");
} else {
  const dirty = git(["status", "--porcelain"]);
  if (dirty !== "") {
    console.error(`the working tree has changes; a release records a commit that was tested and built:\n${dirty}`);
    process.exit(1);
  }
  appendFileSync(join(ROOT, RELEASES_FILE), `${line}\n`);
  git(["add", RELEASES_FILE]);
  git(["commit", "--quiet", "-m", `Release charter ${version}: contracts ${name} at ${commit.slice(0, 12)}`]);
  git(["tag", name, commit]);
  console.log(`✔ ${RELEASES_FILE}: ${line} (committed; tag ${name})`);
  if (args.push) {
    const branch = process.env.RELEASE_BRANCH || git(["rev-parse", "--abbrev-ref", "HEAD"]);
    if (branch === "HEAD") throw new Error("--push on a detached HEAD needs RELEASE_BRANCH (the branch to push to)");
    git(["push", "--atomic", "origin", `HEAD:refs/heads/${branch}`, `refs/tags/${name}`]);
    console.log(`✔ pushed to origin: ${branch} and ${name}`);
  } else {
    console.log("not pushed: push the branch and the tag to publish it");
  }
}
