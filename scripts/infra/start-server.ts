/** Runs a test server as a child process on free ports, waits until it is ready, restarts and stops it. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts } from "../../platform/net.js";

export { freePorts };

export const HOST = "127.0.0.1";

/** PEM files of a secured test server: its certificate and key, and the CA its clients' certificates chain to. */
export interface ServerTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A user name and password (an ACL user of Redis, a SCRAM user of Kafka). */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface RunningServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  /** Sends `signal` (SIGKILL by default) and resolves once the process has exited (at once for SIGSTOP/SIGCONT). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port(s), with the same data dir unless `wipe`; resolves when it is ready. */
  restart(opts?: { wipe?: boolean }): Promise<void>;
  /** SIGTERM, SIGKILL after a deadline, then removes the data dir. Idempotent. */
  stop(): Promise<void>;
  /** The last lines the process printed (stdout and stderr), for failure messages. */
  output(): readonly string[];
}

export interface ServerSpec {
  readonly name: string;
  readonly command: string;
  /** How many free ports to take; the first is `port`. They are kept across restarts. */
  readonly portCount: number;
  args(ports: readonly number[], dataDir: string): string[];
  url(port: number): string;
  /** Polled until true; a throw counts as false. */
  readonly isReady?: (port: number) => Promise<boolean>;
  /** A line the process prints once it is ready. */
  readonly readyLine?: RegExp;
  readonly readyTimeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Give the process a stdin pipe that stays open while it runs (it may exit when the pipe closes). */
  readonly stdinPipe?: boolean;
}

interface Launched {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const RING_LINES = 200;
const live = new Set<ChildProcess>();
const dataDirs = new Set<string>();
// Never outlive the test process: SIGKILL on exit, and (via setpriv) on the parent's death by a signal.
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dataDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a process killed just now may still hold it; it is in the temp dir anyway
    }
  }
});
const deathSignal = existsSync("/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] : [];

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isAlive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function startError(message: string, lines: readonly string[], portInUse: boolean): Error {
  const tail = lines.length > 0 ? `; last output:\n${lines.join("\n")}` : "; it printed nothing";
  return Object.assign(new Error(`${message}${tail}`), { portInUse });
}

const portInUse = (error: unknown) => (error as { portInUse?: boolean }).portInUse === true;

async function launch(spec: ServerSpec, ports: readonly number[], dataDir: string, ring: string[]): Promise<Launched> {
  const [command, ...args] = [...deathSignal, spec.command, ...spec.args(ports, dataDir)];
  const child = spawn(command ?? spec.command, args, {
    cwd: dataDir,
    env: spec.env ?? process.env,
    stdio: [spec.stdinPipe ? "pipe" : "ignore", "pipe", "pipe"],
  });
  live.add(child);
  let exitedEarly = false;
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  child.once("exit", () => live.delete(child));
  const exited = new Promise<void>((resolve) =>
    child.once("close", () => {
      exitedEarly = true;
      resolve();
    }),
  );
  const lines: string[] = []; // this launch only
  let sawReadyLine = spec.readyLine === undefined;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      ring.push(line);
      if (lines.length > RING_LINES) lines.shift();
      if (ring.length > RING_LINES) ring.shift();
      if (spec.readyLine?.test(line)) sawReadyLine = true;
    });
  }
  const port = ports[0] ?? 0;
  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (exitedEarly) {
      const inUse = lines.some((line) => /address already in use/i.test(line));
      const how = spawnError
        ? `could not be run (${spawnError.message})`
        : `exited (${child.exitCode ?? child.signalCode})`;
      throw startError(`${spec.name} ${how} before it was ready on port ${port}`, lines, inUse);
    }
    if (sawReadyLine && (await (spec.isReady?.(port).catch(() => false) ?? true))) return { child, exited };
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw startError(`${spec.name} was not ready on port ${port} within ${spec.readyTimeoutMs} ms`, lines, false);
    }
    await delay(25);
  }
}

async function terminate({ child, exited }: Launched): Promise<void> {
  if (!isAlive(child)) return exited;
  child.kill("SIGTERM");
  child.kill("SIGCONT"); // in case a test froze it with SIGSTOP
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Starts `spec` on free ports in a new temp dir; takes new ports when a port was taken in the meantime. */
export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `charter-${spec.name}-`));
  dataDirs.add(dataDir);
  const ring: string[] = [];
  let ports: number[] = [];
  let current: Launched | undefined;
  try {
    for (let attempt = 1; current === undefined; attempt++) {
      ports = await freePorts(spec.portCount);
      try {
        current = await launch(spec, ports, dataDir, ring);
      } catch (error) {
        if (!portInUse(error) || attempt >= 3) throw error;
      }
    }
  } catch (error) {
    dataDirs.delete(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = ports[0] ?? 0;
  let stopping: Promise<void> | undefined;

  return {
    name: spec.name,
    host: HOST,
    port,
    url: spec.url(port),
    dataDir,
    output: () => [...ring],
    async kill(signal = "SIGKILL") {
      if (!current || !isAlive(current.child)) return;
      current.child.kill(signal);
      if (signal !== "SIGSTOP" && signal !== "SIGCONT" && signal !== "SIGTSTP") await current.exited;
    },
    async restart(opts = {}) {
      if (stopping) throw new Error(`${spec.name} was stopped; it cannot be restarted`);
      if (current) await terminate(current);
      current = undefined;
      if (opts.wipe) {
        await rm(dataDir, { recursive: true, force: true });
        await mkdir(dataDir, { mode: 0o700 });
      }
      // Same ports: if one is still held (by a lingering socket or a stranger), try again for a while.
      for (let attempt = 1; current === undefined; attempt++) {
        try {
          current = await launch(spec, ports, dataDir, ring);
        } catch (error) {
          if (!portInUse(error) || attempt >= 10) throw error;
          await delay(200 * attempt);
        }
      }
    },
    stop() {
      stopping ??= (async () => {
        if (current) await terminate(current);
        await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
        dataDirs.delete(dataDir);
      })();
      return stopping;
    },
  };
}
