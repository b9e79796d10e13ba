// Installs the npm dependencies when they are missing or older than package-lock.json,
// so `npm start` and `npm test` work on a fresh clone with nothing run before them.
// Plain Node on purpose: it runs before any dependency exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const lock = `${root}package-lock.json`;
const stamp = `${root}node_modules/.charter-lock-hash`;
const hash = createHash("sha256").update(readFileSync(lock)).digest("hex");

if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== hash) {
  console.log("Installing npm dependencies (npm ci)…");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error("npm ci failed: check that the npm registry is reachable, then run it again.");
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, hash);
}
