/**
 * Traefik, the edge router, for tests and local runs: built once from the Go module proxy and cached
 * (scripts/infra/go-build.ts: `go mod download -json github.com/traefik/traefik/v3@v3.6.12`, then `go build` of
 * ./cmd/traefik; `go install …@version` cannot build it, its go.mod has replace directives; only the ~180 MB binary
 * is kept), then run on free loopback ports with its routes read from etcd (Traefik's KV provider).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { lazy } from "../../platform/lazy.js";
import { ensureGoTool, type GoTool, goToolPath } from "./go-build.js";
import { ensureBinary } from "./provision.js";
import { type Credentials, HOST, type RunningServer, startServer } from "./start-server.js";
import { runChecked } from "./steps.js";

export const TRAEFIK_VERSION = "v3.6.12";
const TRAEFIK_MODULE = "github.com/traefik/traefik/v3";

const TRAEFIK: GoTool = {
  title: "Traefik",
  name: "traefik",
  module: TRAEFIK_MODULE,
  version: TRAEFIK_VERSION,
  pkg: "./cmd/traefik",
  ldflags: `-X ${TRAEFIK_MODULE}/pkg/version.Version=${TRAEFIK_VERSION}`,
};

/** Where the binary is cached: ~/.cache/charter/traefik-v3.6.12/traefik. */
export const traefikBinaryPath = (): string => goToolPath(TRAEFIK);

/** The cached Traefik binary, built from the Go module proxy on first use (scripts/infra/go-build.ts). */
export const ensureTraefik = lazy((): Promise<string> => ensureGoTool(TRAEFIK));

export interface TraefikOptions {
  /** etcd client URLs (http(s)://host:port) Traefik's KV provider reads its dynamic configuration from. */
  readonly etcdEndpoints: readonly string[];
  /**
   * etcd over TLS: the CA of etcd's certificate and Traefik's client certificate and key (PEM file paths), as
   * Traefik's etcd provider takes them (`providers.etcd.tls.{ca,cert,key}`).
   */
  readonly etcdTls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** The key prefix it reads (default `traefik`). */
  readonly rootKey?: string;
  /** Port of the `web` entry point, where the routes are served (default: a free one). */
  readonly entryPort?: number;
  /** Port of the `traefik` entry point: /ping, /api, /metrics (default: a free one). */
  readonly apiPort?: number;
  /** Port of a `console` entry point too, for routes to the operators' consoles (default: none). */
  readonly consolePort?: number;
  /** Send Traefik's own spans (the edge's, parent of the gateway's) over OTLP/HTTP, e.g. to Jaeger. */
  readonly tracing?: {
    /** The OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
    readonly otlpHttpEndpoint: string;
    /** The share of requests traced at the edge (default 1). */
    readonly sampleRate?: number;
  };
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
  /** The `console` entry point, when one was asked for. */
  readonly consoleUrl: string | undefined;
}

/**
 * One user of Traefik's basicAuth middleware, as an htpasswd line `user:$apr1$…` (Apache's MD5, one of the hashes
 * Traefik accepts), hashed by Debian's `openssl passwd -apr1` with a random salt; the password goes in on stdin,
 * never as an argument another process could read.
 */
export async function basicAuthUser({ username, password }: Credentials): Promise<string> {
  if (!/^[^:\s]+$/.test(username)) throw new RangeError("a basicAuth user name has no colon or whitespace");
  const openssl = await ensureBinary("openssl", ["openssl"]);
  const hash = (
    await runChecked("openssl passwd -apr1", openssl, ["passwd", "-apr1", "-stdin"], { input: `${password}\n` })
  ).trim();
  if (!hash.startsWith("$apr1$")) throw new Error(`openssl passwd -apr1 printed no apr1 hash`);
  return `${username}:${hash}`;
}

/** Traefik's static configuration: the entry points, the etcd provider, ping, API, metrics and access log. */
function staticConfig(opts: TraefikOptions, entryPort: number, apiPort: number, dir: string): string {
  const etcd = opts.etcdEndpoints.map((endpoint) => endpoint.replace(/^https?:\/\//, "").replace(/\/$/, ""));
  return stringify({
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      web: { address: `${HOST}:${entryPort}` },
      traefik: { address: `${HOST}:${apiPort}` },
      ...(opts.consolePort === undefined ? {} : { console: { address: `${HOST}:${opts.consolePort}` } }),
    },
    providers: {
      // Traefik applies a new configuration at once and then holds any further one back for this long (2 s by
      // default), so a test that changes a route waits up to the throttle for it. 200 ms keeps the tests quick;
      // a stopping gateway still waits longer than it (GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS).
      providersThrottleDuration: "200ms",
      etcd: {
        endpoints: etcd,
        rootKey: opts.rootKey ?? "traefik",
        ...(opts.etcdTls === undefined ? {} : { tls: { ...opts.etcdTls } }),
      },
    },
    ping: { entryPoint: "traefik" },
    // The API (read-only JSON) on the traefik entry point, on loopback only; the dashboard's assets are not built.
    api: { insecure: true, dashboard: false },
    metrics: { prometheus: { entryPoint: "traefik", addRoutersLabels: true, addServicesLabels: true } },
    accessLog: { filePath: join(dir, "access.log"), format: "json" },
    ...(opts.tracing === undefined
      ? {}
      : {
          tracing: {
            serviceName: "traefik",
            sampleRate: opts.tracing.sampleRate ?? 1,
            otlp: { http: { endpoint: opts.tracing.otlpHttpEndpoint } },
          },
        }),
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
    consoleUrl: opts.consolePort === undefined ? undefined : `http://${HOST}:${opts.consolePort}`,
  };
}
