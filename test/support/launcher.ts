/**
 * Runs one of the project's launchers (`scripts/start.ts`, `scripts/start-cluster.ts`) as a user would,
 * collecting what it prints, and stops it the way a user does: Ctrl-C (SIGINT).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../scripts/lib/processes.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface Launcher {
  readonly child: ChildProcess;
  /** Everything it has printed so far, stdout and stderr. */
  output(): string;
  /** Waits until the output matches `pattern` (failing at once if the launcher exits) and returns the match. */
  waitForOutput(what: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Sends SIGINT and resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Runs `script` with this process's environment, free ports instead of the default ones (GATEWAY_PORT,
 * USERS_GRPC_PORT, USERS_METRICS_PORT, AUTH_DEV_ISSUER_PORT set to 0; no AUTH_ISSUER, so the script runs its own
 * development issuer), and `env` over both (a value of undefined removes a variable).
 */
export function launch(script: string, env: Record<string, string | undefined> = {}): Launcher {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    GATEWAY_PORT: "0",
    USERS_GRPC_PORT: "0",
    USERS_METRICS_PORT: "0",
    AUTH_DEV_ISSUER_PORT: "0",
    AUTH_ISSUER: undefined,
    ...env,
  };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env: merged,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  return {
    child,
    output: () => output,
    waitForOutput: (what, pattern, timeoutMs) =>
      waitFor(
        what,
        () => {
          if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}:\n${output}`);
          return pattern.exec(output) ?? undefined;
        },
        timeoutMs,
        100,
      ),
    async interrupt() {
      child.kill("SIGINT");
      const code = await exited;
      process.off("exit", kill);
      return code;
    },
  };
}

/**
 * A token with every scope from the development issuer a started platform's banner names ("Token issuer <url>"),
 * asked for the way the banner tells a user to (client credentials of the first client it lists).
 */
export async function tokenFromBanner(banner: string): Promise<string> {
  const issuer = /Token issuer\s+(http:\/\/[^\s]+)/.exec(banner)?.[1];
  const client = /clients (\S+)\/(\S+) \(([^)]*)\)/.exec(banner);
  if (!issuer || !client) throw new Error(`the banner names no development issuer:\n${banner}`);
  const [, id, secret, scopes] = client as unknown as [string, string, string, string];
  const response = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: scopes }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`the issuer gave no token: ${response.status}`);
  return body.access_token;
}
