/**
 * Traefik, the edge router, for tests and local runs: built once from the Go module proxy and cached, then run on
 * free loopback ports with its routes read from etcd (Traefik's KV provider).
 *
 * The build: `go mod download -json github.com/traefik/traefik/v3@v3.6.12` fetches the module's source, which is
 * copied to a writable work dir and built there with `go build -trimpath -ldflags "-s -w" ./cmd/traefik`.
 * `go install …@version` cannot build it: the module's go.mod has replace directives, which `go install` refuses.
 * The first build takes about 5 minutes on two cores and fills several GiB of Go build cache; that cache lives in
 * the work dir and goes with it, and so does the module cache the build filled (about 3.6 GiB of dependency
 * sources): only the ~180 MB binary stays.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { lazy } from "../../platform/lazy.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";

export const TRAEFIK_VERSION = "v3.6.12";
const TRAEFIK_MODULE = "github.com/traefik/traefik/v3";

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "charter");
}

/** Where the binary is cached: ~/.cache/charter/traefik-v3.6.12/traefik. */
export function traefikBinaryPath(): string {
  return join(cacheDir(), `traefik-${TRAEFIK_VERSION}`, "traefik");
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, collecting its output (asynchronously: a 5-minute build must not block the loop). */
function runCommand(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<Ran>((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLines = (text: string, lines = 25) => text.trim().split("\n").slice(-lines).join("\n");

/** One build step on stderr with its time, so a slow first run shows where the time goes. */
async function timedStep<T>(label: string, action: () => Promise<T>): Promise<T> {
  const started = Date.now();
  console.error(`provision: ${label} …`);
  const value = await action();
  console.error(`provision: ${label} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return value;
}

async function buildTraefik(binary: string): Promise<void> {
  const target = join(cacheDir(), `traefik-${TRAEFIK_VERSION}`);
  const manual = `or put a Traefik ${TRAEFIK_VERSION} binary at ${binary}`;
  const go = await runCommand("go", ["version"], {});
  if (go.code !== 0) {
    throw new Error(
      `Traefik ${TRAEFIK_VERSION} is built from source with Go, and \`go\` was not found on PATH.\n` +
        `Fix: install Go 1.24 or newer (https://go.dev/dl/ or \`apt-get install golang-go\`), ${manual}.`,
    );
  }
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(join(cacheDir(), `traefik-${TRAEFIK_VERSION}.tmp-`));
  // Both Go caches are the work dir's and are removed with it: the binary is what is kept, and a new version
  // needs other dependencies anyway. No `,direct` fallback: only the module proxy is asked. -modcacherw leaves
  // the module cache writable, so it can be deleted like any other directory.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPROXY: (process.env.GOPROXY || "https://proxy.golang.org").replace(/,direct$/, ""),
    GOMODCACHE: join(work, "go-mod"),
    GOCACHE: join(work, "go-build"),
    GOPATH: join(work, "gopath"),
    GOFLAGS: "-modcacherw -buildvcs=false",
    CGO_ENABLED: "0",
  };
  const source = join(work, "src");
  try {
    console.error(`provision: building Traefik ${TRAEFIK_VERSION} once into ${target} with ${go.stdout.trim()}`);
    const download = await timedStep(`go mod download ${TRAEFIK_MODULE}@${TRAEFIK_VERSION}`, () =>
      runCommand("go", ["mod", "download", "-json", `${TRAEFIK_MODULE}@${TRAEFIK_VERSION}`], { cwd: work, env }),
    );
    const dir = download.code === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
    if (dir === undefined) {
      throw new Error(
        `go mod download ${TRAEFIK_MODULE}@${TRAEFIK_VERSION} failed: it needs the Go module proxy (GOPROXY) ` +
          `to answer; check the network or GOPROXY, then run again, ${manual}.\n${lastLines(download.stderr + download.stdout)}`,
      );
    }
    await timedStep("copy the module source to a writable dir", async () => {
      await cp(dir, source, { recursive: true });
      // A module cache filled without -modcacherw is read-only; the copy must be writable to be removed.
      await runCommand("chmod", ["-R", "u+w", source], {});
    });
    const ldflags = `-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}`;
    const build = await timedStep("go build ./cmd/traefik (about 5 minutes the first time)", () =>
      runCommand(
        "go",
        ["build", "-trimpath", "-ldflags", ldflags, "-o", join(work, "out", "traefik"), "./cmd/traefik"],
        {
          cwd: source,
          env,
        },
      ),
    );
    if (build.code !== 0) {
      throw new Error(
        `go build of Traefik ${TRAEFIK_VERSION} failed. It needs Go 1.24 or newer, the module proxy for its ` +
          `dependencies and a few GiB free in ${cacheDir()}; fix what the output below says and run again, ${manual}.\n` +
          lastLines(build.stderr + build.stdout),
      );
    }
    await writeFile(join(work, "out", "VERSION"), `${TRAEFIK_VERSION}\n`);
    await timedStep(`install into ${target}`, async () => {
      try {
        await rename(join(work, "out"), target);
      } catch (error) {
        // Another run installed it first: theirs is as good as ours.
        if (!existsSync(binary)) throw error;
      }
    });
  } finally {
    await timedStep("remove the build dir and its Go caches", () =>
      rm(work, { recursive: true, force: true, maxRetries: 3 }),
    );
  }
  if (!existsSync(binary)) throw new Error(`the Traefik build did not produce ${binary}`);
}

/** The cached Traefik binary, built from the Go module proxy on first use (see the file comment). */
export const ensureTraefik = lazy(async (): Promise<string> => {
  const binary = traefikBinaryPath();
  if (!existsSync(binary)) await buildTraefik(binary);
  return binary;
});

export interface TraefikOptions {
  /** etcd client URLs (http://host:port) Traefik's KV provider reads its dynamic configuration from. */
  readonly etcdEndpoints: readonly string[];
  /** The key prefix it reads (default `traefik`). */
  readonly rootKey?: string;
  /** Port of the `web` entry point, where the routes are served (default: a free one). */
  readonly entryPort?: number;
  /** Port of the `traefik` entry point: /ping, /api, /metrics (default: a free one). */
  readonly apiPort?: number;
  /** How long to wait for /ping from spawn (default 30 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningTraefik extends RunningServer {
  /** The `web` entry point (the same as `url`): where requests to the routes go. */
  readonly entryUrl: string;
  /** The `traefik` entry point: `/ping`, the API (`/api/http/routers`, `/api/http/services`), `/metrics`. */
  readonly apiUrl: string;
  /** Prometheus metrics of the entry points, routers and services. */
  readonly metricsUrl: string;
  /** The access log, one JSON object a request (RequestPath, DownstreamStatus, ServiceURL, …). */
  readonly accessLogPath: string;
}

/** Traefik's static configuration: the entry points, the etcd provider, ping, API, metrics and access log. */
function staticConfig(opts: TraefikOptions, entryPort: number, apiPort: number, dir: string): string {
  const etcd = opts.etcdEndpoints.map((endpoint) => endpoint.replace(/^https?:\/\//, "").replace(/\/$/, ""));
  return stringify({
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      web: { address: `${HOST}:${entryPort}` },
      traefik: { address: `${HOST}:${apiPort}` },
    },
    providers: {
      // Traefik applies a new configuration at once and then holds any further one back for this long (2 s by
      // default), so a test that changes a route waits up to the throttle for it. 200 ms keeps the tests quick;
      // a stopping gateway still waits longer than it (GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS).
      providersThrottleDuration: "200ms",
      etcd: { endpoints: etcd, rootKey: opts.rootKey ?? "traefik" },
    },
    ping: { entryPoint: "traefik" },
    // The API (read-only JSON) on the traefik entry point, on loopback only; the dashboard's assets are not built.
    api: { insecure: true, dashboard: false },
    metrics: { prometheus: { entryPoint: "traefik", addRoutersLabels: true, addServicesLabels: true } },
    accessLog: { filePath: join(dir, "access.log"), format: "json" },
    log: { level: "WARN", format: "json" },
  });
}

/**
 * Runs the cached Traefik (built first if missing) on loopback, its routes read from etcd, and waits for /ping.
 * restart() keeps its ports; stop() removes its temp dir (the static config and the access log).
 */
export async function startTraefik(opts: TraefikOptions): Promise<RunningTraefik> {
  if (opts.etcdEndpoints.length === 0) throw new RangeError("startTraefik needs at least one etcd endpoint");
  const command = await ensureTraefik();
  // Traefik also reads its static configuration from TRAEFIK_* variables: keep the caller's out of it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("TRAEFIK_")));
  let entryPort = opts.entryPort ?? 0;
  let apiPort = opts.apiPort ?? 0;
  let accessLogPath = "";
  const server = await startServer({
    name: "traefik",
    command,
    portCount: 2,
    env,
    args: ([free, freeApi], dir) => {
      entryPort = opts.entryPort ?? (free as number);
      apiPort = opts.apiPort ?? (freeApi as number);
      accessLogPath = join(dir, "access.log");
      const file = join(dir, "traefik.yml");
      writeFileSync(file, staticConfig(opts, entryPort, apiPort, dir));
      return [`--configFile=${file}`];
    },
    url: () => `http://${HOST}:${entryPort}`,
    async isReady() {
      return (await fetch(`http://${HOST}:${apiPort}/ping`, { signal: AbortSignal.timeout(1_000) })).ok;
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  });
  const apiUrl = `http://${HOST}:${apiPort}`;
  return {
    ...server,
    port: entryPort,
    url: `http://${HOST}:${entryPort}`,
    entryUrl: `http://${HOST}:${entryPort}`,
    apiUrl,
    metricsUrl: `${apiUrl}/metrics`,
    accessLogPath,
  };
}
