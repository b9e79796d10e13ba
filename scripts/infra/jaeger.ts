/**
 * Jaeger, the trace store and query API, for tests and local runs: built once from the Go module proxy and
 * cached, then run with in-memory storage on free loopback ports.
 *
 * The build: `go mod download -json github.com/jaegertracing/jaeger@v1.75.0` fetches the module's source, which is
 * copied to a writable work dir and built there with `go build -trimpath -ldflags "-s -w" ./cmd/jaeger` (the v2
 * binary, an OpenTelemetry Collector distribution). The first build takes about 5 minutes on two cores and fills a
 * few GiB of Go build cache; that cache lives in the work dir and goes with it, so only the module sources (under
 * the cache's go-mod/, shared by every tool built this way) and the ~85 MB binary stay. Its UI assets are not
 * embedded in a source build: the query API answers, the UI page does not.
 *
 * Run: startJaeger() writes a collector config (jaegerConfig) into the server's temp dir and starts the binary with
 * it: OTLP receivers, in-memory storage, the query API and the collector's own metrics, each on a free loopback
 * port, and no self-tracing.
 */
import { existsSync, writeFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";
import { cacheDir, lastLines, runCommand, timedStep } from "./steps.js";

export const JAEGER_VERSION = "v1.75.0";
const JAEGER_MODULE = "github.com/jaegertracing/jaeger";

/** Where the binary is cached: ~/.cache/charter/jaeger-v1.75.0/jaeger. */
export function jaegerBinaryPath(): string {
  return join(cacheDir(), `jaeger-${JAEGER_VERSION}`, "jaeger");
}

async function buildJaeger(binary: string): Promise<void> {
  const target = join(cacheDir(), `jaeger-${JAEGER_VERSION}`);
  const manual = `or put a Jaeger ${JAEGER_VERSION} binary (cmd/jaeger) at ${binary}`;
  const go = await runCommand("go", ["version"]);
  if (go.code !== 0) {
    throw new Error(
      `Jaeger ${JAEGER_VERSION} is built from source with Go, and \`go\` was not found on PATH.\n` +
        `Fix: install Go 1.24 or newer (https://go.dev/dl/ or \`apt-get install golang-go\`), ${manual}.`,
    );
  }
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(join(cacheDir(), `jaeger-${JAEGER_VERSION}.tmp-`));
  // The module cache is kept (sources only, reused by the next Go-built tool); the build cache is the work dir's
  // and is removed with it. No `,direct` fallback: only the module proxy is asked. -modcacherw leaves the module
  // cache writable, so it can be deleted like any other directory.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPROXY: (process.env.GOPROXY || "https://proxy.golang.org").replace(/,direct$/, ""),
    GOMODCACHE: join(cacheDir(), "go-mod"),
    GOCACHE: join(work, "go-build"),
    GOPATH: join(work, "gopath"),
    GOFLAGS: "-modcacherw -buildvcs=false",
    CGO_ENABLED: "0",
  };
  const source = join(work, "src");
  try {
    console.error(`provision: building Jaeger ${JAEGER_VERSION} once into ${target} with ${go.stdout.trim()}`);
    const download = await timedStep(`go mod download ${JAEGER_MODULE}@${JAEGER_VERSION}`, () =>
      runCommand("go", ["mod", "download", "-json", `${JAEGER_MODULE}@${JAEGER_VERSION}`], { cwd: work, env }),
    );
    const dir = download.code === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
    if (dir === undefined) {
      throw new Error(
        `go mod download ${JAEGER_MODULE}@${JAEGER_VERSION} failed: it needs the Go module proxy (GOPROXY) ` +
          `to answer; check the network or GOPROXY, then run again, ${manual}.\n${lastLines(download.stderr + download.stdout)}`,
      );
    }
    await timedStep("copy the module source to a writable dir", async () => {
      await cp(dir, source, { recursive: true });
      // A module cache filled without -modcacherw is read-only; the copy must be writable to be removed.
      await runCommand("chmod", ["-R", "u+w", source]);
    });
    const ldflags = `-s -w -X ${JAEGER_MODULE}/internal/version.latestVersion=${JAEGER_VERSION}`;
    const build = await timedStep("go build ./cmd/jaeger (about 5 minutes the first time)", () =>
      runCommand("go", ["build", "-trimpath", "-ldflags", ldflags, "-o", join(work, "out", "jaeger"), "./cmd/jaeger"], {
        cwd: source,
        env,
      }),
    );
    if (build.code !== 0) {
      throw new Error(
        `go build of Jaeger ${JAEGER_VERSION} failed. It needs Go 1.24 or newer, the module proxy for its ` +
          `dependencies and a few GiB free in ${cacheDir()}; fix what the output below says and run again, ${manual}.\n` +
          lastLines(build.stderr + build.stdout),
      );
    }
    await writeFile(join(work, "out", "VERSION"), `${JAEGER_VERSION}\n`);
    await timedStep(`install into ${target}`, async () => {
      try {
        await rename(join(work, "out"), target);
      } catch (error) {
        // Another run installed it first: theirs is as good as ours.
        if (!existsSync(binary)) throw error;
      }
    });
  } finally {
    await timedStep("remove the build dir and its Go build cache", () =>
      rm(work, { recursive: true, force: true, maxRetries: 3 }),
    );
  }
  if (!existsSync(binary)) throw new Error(`the Jaeger build did not produce ${binary}`);
}

/** The cached Jaeger binary, built from the Go module proxy on first use (see the file comment). */
export const ensureJaeger = lazy(async (): Promise<string> => {
  const binary = jaegerBinaryPath();
  if (!existsSync(binary)) await buildJaeger(binary);
  return binary;
});

/**
 * The collector configuration: OTLP in (gRPC and HTTP), in-memory storage, the query API (HTTP and gRPC), the
 * collector's own metrics for Prometheus, all on the given loopback ports. Jaeger does not trace itself: its query
 * extension would otherwise export its own spans to 127.0.0.1:4317, whoever listens there.
 */
export function jaegerConfig(ports: JaegerPorts, maxTraces: number): string {
  const at = (port: number) => JSON.stringify(`${HOST}:${port}`);
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: ${JSON.stringify(HOST)}
                port: ${ports.metrics}
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: ${maxTraces}
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: ${at(ports.query)}
    grpc:
      endpoint: ${at(ports.queryGrpc)}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${at(ports.otlpGrpc)}
      http:
        endpoint: ${at(ports.otlpHttp)}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export interface JaegerPorts {
  /** The query API and its HTTP JSON endpoints (/api/services, /api/traces, /api/v3/…). */
  readonly query: number;
  readonly queryGrpc: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
  /** The collector's own metrics, Prometheus text on /metrics. */
  readonly metrics: number;
}

export interface JaegerOptions {
  /** How many traces the in-memory store keeps (default 100 000; the oldest go first). */
  readonly maxTraces?: number;
  /** How long to wait for the collector and its query API, from spawn (default 30 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningJaeger extends RunningServer {
  /** The OTLP/HTTP base URL, e.g. http://127.0.0.1:4318: what OTEL_EXPORTER_OTLP_ENDPOINT takes (http/protobuf, http/json). */
  readonly otlpHttpUrl: string;
  /** The OTLP/gRPC host:port (OTEL_EXPORTER_OTLP_PROTOCOL=grpc takes it as http://host:port). */
  readonly otlpGrpcAddress: string;
  /** The query API's base URL, e.g. http://127.0.0.1:16686 (/api/traces/<id>, /api/services, /api/v3/traces). */
  readonly queryUrl: string;
  /** The query API's gRPC host:port (jaeger.api_v3.QueryService, jaeger.api_v2.QueryService). */
  readonly queryGrpcAddress: string;
  /** The collector's own metrics, e.g. http://127.0.0.1:8888/metrics. */
  readonly metricsUrl: string;
}

/**
 * Jaeger (the v2 collector-based binary) on five free loopback ports with in-memory storage: restart() comes back
 * empty on the same ports; stop() removes its temp dir (the config). Ready once the collector logged that its
 * pipelines run (so the OTLP receivers listen) and the query API answers. Spans sent before it stopped are lost.
 */
export async function startJaeger(opts: JaegerOptions = {}): Promise<RunningJaeger> {
  const command = await ensureJaeger();
  // OTEL_* of the caller (a test's own exporter settings) must not configure the collector's telemetry.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_")));
  let chosen: JaegerPorts | undefined;
  const server = await startServer({
    name: "jaeger",
    command,
    portCount: 5,
    env,
    args: ([query = 0, queryGrpc = 0, otlpGrpc = 0, otlpHttp = 0, metrics = 0], dir) => {
      chosen = { query, queryGrpc, otlpGrpc, otlpHttp, metrics };
      const config = join(dir, "jaeger.yaml");
      writeFileSync(config, jaegerConfig(chosen, opts.maxTraces ?? 100_000));
      return ["--config", config];
    },
    url: (port) => `http://${HOST}:${port}`,
    readyLine: /Everything is ready\. Begin running and processing data\./,
    async isReady(port) {
      return (await fetch(`http://${HOST}:${port}/api/services`, { signal: AbortSignal.timeout(1_000) })).ok;
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  });
  if (!chosen) throw new Error("jaeger started without ports");
  const ports: JaegerPorts = chosen;
  return {
    ...server,
    otlpHttpUrl: `http://${HOST}:${ports.otlpHttp}`,
    otlpGrpcAddress: `${HOST}:${ports.otlpGrpc}`,
    queryUrl: server.url,
    queryGrpcAddress: `${HOST}:${ports.queryGrpc}`,
    metricsUrl: `http://${HOST}:${ports.metrics}/metrics`,
  };
}
