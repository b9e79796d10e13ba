/**
 * Small pieces shared by the provisioning of everything kept in the cache (provision.ts, go-build.ts, OpenSearch):
 * the cache dir, a command run to its end without blocking the event loop, timed steps on stderr, and moving a
 * finished work dir into place.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** ${XDG_CACHE_HOME:-~/.cache}/charter: where every provisioned tool is kept. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "charter");
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin when given. */
  readonly input?: string;
  /** Past this the command is killed (SIGKILL) and the run ends with code null and a line saying so. */
  readonly timeoutMs?: number;
}

/** Runs a command to its end, collecting its output (asynchronously: a 5-minute build must not block the loop). */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  return new Promise<Ran>((resolve) => {
    const { input, timeoutMs, ...spawnOptions } = options;
    const child = spawn(command, args, {
      ...spawnOptions,
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    child.stdin?.end(input);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Resolved at the timeout itself, not at 'close': a process it started may still hold the pipes open.
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
            resolve({ code: null, stdout, stderr: `${stderr}${command} timed out after ${timeoutMs} ms\n` });
          }, timeoutMs);
    const done = (ran: Ran) => {
      clearTimeout(timer);
      resolve(ran);
    };
    child.once("error", (error) => done({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

export const lastLines = (text: string, lines = 25): string => text.trim().split("\n").slice(-lines).join("\n");

/** Runs a command to its end and returns its stdout; throws with its last lines of output when it fails. */
export async function runChecked(
  label: string,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${label} failed (${result.code}):\n${lastLines(result.stderr + result.stdout)}`);
  }
  return result.stdout;
}

/** One provisioning step on stderr with its time, so a slow first run shows where the time goes. */
export async function timedStep<T>(label: string, action: () => Promise<T>): Promise<T> {
  const started = Date.now();
  console.error(`provision: ${label} …`);
  const value = await action();
  console.error(`provision: ${label} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return value;
}

/** Moves a finished work dir into place; if another process got there first, keeps theirs. */
export async function publish(work: string, target: string, isComplete: (dir: string) => boolean): Promise<void> {
  try {
    await rename(work, target);
  } catch (error) {
    if (isComplete(target)) {
      await rm(work, { recursive: true, force: true });
      return;
    }
    if (!existsSync(target)) throw error;
    await rm(target, { recursive: true, force: true }); // a half-finished leftover
    await rename(work, target);
  }
}
