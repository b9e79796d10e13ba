import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** A Prometheus registry with the process metrics and the service's name as a default label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** GET /metrics on a port of its own, built but not bound until listen(). */
export interface MetricsEndpoint {
  /** Binds `host:port` (0 picks a free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  stop(): Promise<void>;
}

export function createMetricsEndpoint(registry: Registry): MetricsEndpoint {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
  return {
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, resolve);
      });
      return (server.address() as AddressInfo).port;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * `charter_<service>_rpc_total{method,code}` and `charter_<service>_rpc_duration_seconds{method,code}` in `registry`,
 * each method's OK series present from the start; the returned hook records one call.
 */
export function rpcMetrics<Rpc extends string>(
  registry: Registry,
  service: string,
  methods: readonly Rpc[],
): (method: Rpc, code: string, seconds: number) => void {
  const title = service.charAt(0).toUpperCase() + service.slice(1);
  const calls = new Counter({
    name: `charter_${service}_rpc_total`,
    help: `${title} gRPC calls by method and outcome: OK or the gRPC status code name.`,
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: `charter_${service}_rpc_duration_seconds`,
    help: `${title} gRPC call duration by method and outcome: OK or the gRPC status code name.`,
    labelNames: ["method", "code"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  for (const method of methods) {
    calls.inc({ method, code: "OK" }, 0);
    duration.zero({ method, code: "OK" });
  }
  return (method, code, seconds) => {
    calls.inc({ method, code });
    duration.observe({ method, code }, seconds);
  };
}
