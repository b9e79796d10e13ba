/**
 * Prism's validation proxy (`prism proxy`) in front of an upstream, on a free port: every
 * response passes through it and is checked against contracts/openapi/users.v1.yaml. Prism
 * lists what it finds in the `sl-violations` response header (errors, and warnings such as a
 * status the operation does not document); `violationsOf` reads them.
 *
 * Request validation is off (`--validate-request=false`): with it on, Prism answers an invalid
 * request with its own 422 instead of forwarding it, and the upstream's 400, 413 and 415 answers
 * are exactly what a conformance run must see.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url));
const CONTRACT = "contracts/openapi/users.v1.yaml";

export interface PrismProxy {
  /** The proxy's origin, e.g. http://127.0.0.1:41234. */
  readonly baseUrl: string;
  /** Prism's log, for failure messages. */
  readonly output: string[];
  stop(): Promise<void>;
}

export interface Violation {
  readonly location: string[];
  readonly severity: string;
  readonly message: string;
  readonly code?: string | number;
}

/** Starts `prism proxy <contract> <upstream>` on a free port and resolves once it listens. */
export async function startPrismProxy(upstream: string, timeoutMs = 60_000): Promise<PrismProxy> {
  const child: ChildProcess = spawn(
    `${root}node_modules/.bin/prism`,
    ["proxy", CONTRACT, upstream, "--host", "127.0.0.1", "--port", "0", "--validate-request=false"],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } },
  );
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`prism proxy not listening in ${timeoutMs} ms:\n${output.join("")}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      const text = stripVTControlCharacters(chunk.toString());
      output.push(text);
      const listening = /Prism is listening on (http:\/\/[^\s]+)/.exec(output.join(""));
      if (listening?.[1]) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`prism proxy exited with ${code} before it listened:\n${output.join("")}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { baseUrl, output, stop };
}

/** The violations Prism found in one exchange (an empty list when the header is absent). */
export function violationsOf(response: Response): Violation[] {
  const header = response.headers.get("sl-violations");
  if (header === null) return [];
  if (header.startsWith("Too many violations!")) {
    return [{ location: ["response"], severity: "Error", message: header }];
  }
  return JSON.parse(header) as Violation[];
}
