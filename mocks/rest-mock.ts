/**
 * The REST mock: Prism (`prism mock`) serving contracts/openapi/users.v1.yaml from its examples,
 * with request validation on, as a child process. Ready when it answers HTTP. In the stateful and replay modes it
 * is Prism's validation proxy instead (`prism proxy --errors`) in front of the store's or the recording's REST
 * server: requests and answers are checked against the contract on the way, and an answer that breaks it becomes an
 * error.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { OPENAPI_FILE } from "./contract-examples.js";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../", import.meta.url));

export interface RestMockOptions {
  readonly host: string;
  readonly port: number;
  /** Prism's --dynamic: bodies generated from the schemas instead of the examples. */
  readonly dynamic: boolean;
  /** A path Prism answers (any status) once it is listening. */
  readonly probePath: string;
  readonly readyTimeoutMs?: number;
  /** The stateful and replay modes: the origin of the store's or the recording's REST server, which Prism proxies to. */
  readonly upstream?: string;
  /** The OpenAPI document to mock; default the users document. */
  readonly file?: string;
}

export interface RestMock {
  readonly port: number;
  /** Resolves with the exit code when Prism exits. */
  readonly exited: Promise<number | null>;
  /** Prism's last output lines, for a failure report. */
  output(): string;
  stop(): Promise<void>;
}

const deathSignal = existsSync("/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--pdeathsig", "TERM", "--"] : [];

const prismCli = (): string => {
  const manifest = require.resolve("@stoplight/prism-cli/package.json");
  return `${manifest.slice(0, -"package.json".length)}dist/index.js`;
};

export async function startRestMock(opts: RestMockOptions): Promise<RestMock> {
  const where = ["-p", String(opts.port), "-h", opts.host];
  const args = opts.upstream
    ? ["proxy", opts.file ?? OPENAPI_FILE, opts.upstream, ...where, "--errors"]
    : ["mock", opts.file ?? OPENAPI_FILE, ...where, ...(opts.dynamic ? ["--dynamic"] : [])];
  // Node with Prism's entry point (not the .bin wrapper), so stopping this child stops Prism; where
  // setpriv is there, Prism is also killed when this process dies without stopping it.
  const command = [...deathSignal, process.execPath, prismCli(), ...args];
  const child: ChildProcess = spawn(command[0] ?? process.execPath, command.slice(1), { cwd: root, stdio: "pipe" });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split("\n").filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };

  const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}${opts.probePath}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (running) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return { port: opts.port, exited, output: () => lines.join("\n"), stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`Prism did not answer on ${url} in time:\n${lines.slice(-20).join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`Prism exited (${await exited}) before it answered on ${url}:\n${lines.slice(-20).join("\n")}`);
}
