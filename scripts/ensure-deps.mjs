// Installs the npm dependencies when they are missing or older than package-lock.json,
// so `npm start` and `npm test` work on a fresh clone with nothing run before them.
// Two commands started at once install once: the second waits for the first (npm ci deletes
// node_modules before it installs, so two at a time would pull the floor from under each other).
// Plain Node on purpose: it runs before any dependency exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const lock = `${root}package-lock.json`;
const stamp = `${root}node_modules/.charter-lock-hash`;
const installLock = `${root}.charter-install.lock`;
const hash = createHash("sha256").update(readFileSync(lock)).digest("hex");

const upToDate = () => existsSync(stamp) && readFileSync(stamp, "utf8") === hash;

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Takes the install lock (a directory: creating it is atomic), waiting while a live process holds it. */
function acquire() {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(installLock);
      writeFileSync(`${installLock}/pid`, String(process.pid));
      return;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(`${installLock}/pid`, "utf8"));
    } catch {
      // The holder has not written its pid yet.
    }
    if (Number.isInteger(holder) && !alive(holder)) rmSync(installLock, { recursive: true, force: true });
    else if (Date.now() > deadline) {
      console.error(`Another install holds ${installLock}; remove it if no npm ci is running.`);
      process.exit(1);
    } else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
}

if (!upToDate()) {
  acquire();
  try {
    if (!upToDate()) {
      console.log("Installing npm dependencies (npm ci)…");
      const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
      if (result.status !== 0) {
        console.error("npm ci failed: check that the npm registry is reachable, then run it again.");
        rmSync(installLock, { recursive: true, force: true });
        process.exit(result.status ?? 1);
      }
      writeFileSync(stamp, hash);
    }
  } finally {
    rmSync(installLock, { recursive: true, force: true });
  }
}
