/** Starts the project's services as real child processes and waits until they say they are ready. */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface ServiceProcess {
  /** The fields of the "ready" log line (ports and backends). */
  readonly ready: Record<string, unknown>;
  readonly output: string[];
  /** Calls `listener` with every line the process writes to stdout from now on. */
  onLine(listener: (line: string) => void): void;
  /** The process id (the benchmark reads the process's CPU time and resident memory from /proc). */
  readonly pid: number | undefined;
  /** Resolves with the exit code when the process has exited. */
  readonly exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<number | null>;
}

export interface ExitedProcess {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function launch(entry: string, env: Record<string, string>, nodeArgs: readonly string[] = []) {
  // A built bundle's main.js (an absolute path, scripts/images/bundle.mjs's output) runs as the image runs it: plain
  // node in its own directory. A source entry runs under Node itself with tsx's loader (not the tsx wrapper, which
  // would leave its node child behind when killed).
  const bundled = isAbsolute(entry) && entry.endsWith(".js");
  const child = spawn(process.execPath, bundled ? [...nodeArgs, entry] : [...nodeArgs, "--import", "tsx", entry], {
    cwd: bundled ? dirname(entry) : root,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: "pipe",
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, exited };
}

/**
 * Runs a service entry point (e.g. services/users/main.ts, or the absolute path of a bundle's main.js) until its log
 * says `readyMessage`; `nodeArgs` go to Node
 * before the entry (e.g. --cpu-prof, which NODE_OPTIONS does not allow).
 */
export async function startService(
  entry: string,
  env: Record<string, string>,
  readyMessage: string,
  timeoutMs = 30_000,
  nodeArgs: readonly string[] = [],
): Promise<ServiceProcess> {
  const { child, exited } = launch(entry, env, nodeArgs);
  const output: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    // A service that is not ready in time is killed, so its pipes cannot keep the caller alive.
    const timer = setTimeout(() => {
      reject(new Error(`${entry} not ready in ${timeoutMs} ms:\n${output.join("\n")}`));
      child.kill("SIGKILL");
    }, timeoutMs);
    let buffered = "";
    let readyFound = false;
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        if (output.length > 500) output.shift();
        for (const listener of listeners) listener(line);
        if (readyFound) continue; // lines are only parsed until the ready line
        try {
          const entryJson = JSON.parse(line) as Record<string, unknown>;
          if (entryJson.msg === readyMessage) {
            readyFound = true;
            clearTimeout(timer);
            resolve(entryJson);
          }
        } catch {
          // not a log line
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before it was ready:\n${output.join("\n")}`));
    });
  });
  return {
    ready,
    output,
    onLine: (listener) => listeners.add(listener),
    pid: child.pid,
    exited,
    signal: (signal) => child.kill(signal),
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Runs an entry point that is expected to exit (e.g. on bad configuration) and collects its output. */
export async function runToExit(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ExitedProcess> {
  const { child, exited } = launch(entry, env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * Polls until check() returns a value other than undefined, or fails after timeoutMs — also when a check itself
 * never settles (a server that accepts and never answers): the deadline holds for the check as for the wait.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.resolve()
        .then(check)
        .then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
      new Promise<{ hung: true }>((resolve) => {
        timer = setTimeout(() => resolve({ hung: true }), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if ("hung" in outcome) {
      lastError = new Error("the last check did not answer before the deadline");
      break;
    }
    if ("error" in outcome) lastError = outcome.error;
    else if (outcome.value !== undefined) return outcome.value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Reads one sample from a Prometheus text exposition. */
export async function metricValue(
  metricsPort: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.split(" ").pop());
  }
  throw new Error(`metric ${name}${JSON.stringify(labels)} not found`);
}
