/**
 * Jaeger, the trace store and query API, for tests and local runs: built once from the Go module proxy and
 * cached, then run with in-memory storage on free loopback ports.
 *
 * The build: `go mod download -json github.com/jaegertracing/jaeger@v1.75.0` fetches the module's source, which is
 * copied to a writable work dir and built there with `go build -trimpath -ldflags "-s -w" ./cmd/jaeger` (the v2
 * binary, an OpenTelemetry Collector distribution). The first build takes about 5 minutes on two cores and fills a
 * few GiB of Go caches, which go with the build's work dir (scripts/infra/go-build.ts): only the ~85 MB binary stays. Its UI assets are not
 * embedded in a source build: the query API answers, the UI page does not.
 *
 * Run: startJaeger() writes a collector config (jaegerConfig) into the server's temp dir and starts the binary with
 * it: OTLP receivers, in-memory storage, the query API and the collector's own metrics, each on a free loopback
 * port, and no self-tracing.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureGoTool, type GoTool, goToolPath } from "./go-build.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";

export const JAEGER_VERSION = "v1.75.0";
const JAEGER_MODULE = "github.com/jaegertracing/jaeger";

const JAEGER: GoTool = {
  title: "Jaeger",
  name: "jaeger",
  module: JAEGER_MODULE,
  version: JAEGER_VERSION,
  pkg: "./cmd/jaeger",
  ldflags: `-X ${JAEGER_MODULE}/internal/version.latestVersion=${JAEGER_VERSION}`,
};

/** Where the binary is cached: ~/.cache/charter/jaeger-v1.75.0/jaeger. */
export const jaegerBinaryPath = (): string => goToolPath(JAEGER);

/** The cached Jaeger binary, built from the Go module proxy on first use (scripts/infra/go-build.ts). */
export const ensureJaeger = lazy((): Promise<string> => ensureGoTool(JAEGER));

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
