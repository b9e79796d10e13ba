/**
 * `npm run stack`: the deployed system on this machine (scripts/lib/stack.ts) — the services from their images as
 * containers behind Traefik, the infrastructure as host processes — until Ctrl-C, which removes the containers,
 * stops the servers and, if this run started Charter's own Docker engine, that engine too.
 * `npm run stack -- down`: after a run that did not end cleanly, stops that run (its pidfile), removes every
 * container carrying the project's label, and stops Charter's own engine by its pidfile; nothing else.
 *
 * STACK_HTTP_PORT (default 8000) is the API through Traefik, STACK_CONSOLE_PORT (default 8001) the consoles; every
 * other port is a free one, printed. 0 picks a free port for those two as well.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runningDockerEngine, stopDockerEngine } from "./infra/docker.js";
import { cacheDir } from "./infra/steps.js";
import { waitFor } from "./lib/processes.js";
import { removeProjectContainers, type Stack, startStack } from "./lib/stack.js";

const pidFile = join(cacheDir(), "stack.pid");

function portSetting(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`${name} must be a port number (0 for a free one), got "${raw}"`);
    process.exit(1);
  }
  return value;
}

/** The pid of a running `npm run stack`, when the pidfile names a live one. */
function runningStack(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("scripts/stack.ts") ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function down(): Promise<void> {
  const pid = runningStack();
  if (pid !== undefined && pid !== process.pid) {
    // It removes its own containers and stops its servers; what is left after that is removed below.
    process.kill(pid, "SIGTERM");
    await waitFor(`the stack (pid ${pid}) to stop`, () => (runningStack() === undefined ? true : undefined), 120_000);
    console.log(`stopped the running stack (pid ${pid})`);
  }
  const engine = await runningDockerEngine();
  if (engine) {
    const removed = await removeProjectContainers(engine);
    console.log(`removed ${removed.length} container(s) labelled dev.charter.project=charter`);
  }
  console.log((await stopDockerEngine()) ? "stopped Charter's Docker engine" : "no Docker engine of Charter's runs");
  rmSync(pidFile, { force: true });
}

async function up(): Promise<void> {
  if (runningStack() !== undefined)
    throw new Error(`a stack runs already (pid ${runningStack()}): npm run stack -- down`);
  const started = Date.now();
  let stack: Stack | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping: the containers, then the servers…");
    await stack?.stop();
    if (stack?.engine.startedHere) await stopDockerEngine();
    rmSync(pidFile, { force: true });
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  writeFileSync(pidFile, `${process.pid}\n`);
  try {
    stack = await startStack({
      httpPort: portSetting("STACK_HTTP_PORT", 8000),
      consolePort: portSetting("STACK_CONSOLE_PORT", 8001),
      log: (line) => console.log(`stack: ${line}`),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    await stop(1);
    return;
  }
  console.log(`
Charter runs as a deployed system (${((Date.now() - started) / 1000).toFixed(0)} s to start).

${stack.describe()}

  Docker engine ${stack.engine.host}; containers labelled dev.charter.project=charter.
Press Ctrl-C to stop (or npm run stack -- down from another shell).`);
}

const { positionals } = parseArgs({ allowPositionals: true });
const command = positionals[0] ?? "up";
if (command !== "up" && command !== "down") {
  console.error(`usage: npm run stack [-- up | down], got "${command}"`);
  process.exit(2);
}
try {
  await (command === "down" ? down() : up());
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
