/**
 * Runs a function module — `handle(context, event)` with optional `init()` and `shutdown()`, the Knative Functions
 * Node signature — on faas-js-runtime, the Knative Functions Node runtime: it parses the CloudEvent of each request
 * (binary or structured mode), calls `handle`, answers 204 when it returns nothing and 500 when it throws, and serves
 * /health/liveness, /health/readiness and /metrics beside it. Its `start` listens on `::` (every interface, as a
 * container needs) with no option to change that; a process run next to others on a workstation must bind loopback,
 * so the one listen call the runtime makes while starting is given `host` instead — and `port`, since the runtime
 * reads a port of 0 as "unset" (8080) where a test wants a free one.
 */

import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "node:net";
import faas, { type CloudEventFunction, type InvokerOptions } from "faas-js-runtime";

export interface FunctionModule {
  handle: CloudEventFunction;
  init?: () => unknown;
  shutdown?: () => unknown;
}

export interface FunctionHostOptions {
  readonly host: string;
  readonly port: number;
  /** The runtime's own request log (Fastify's): kept to warnings by default, it never logs bodies. */
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

/** Starts `module` on faas-js-runtime at host:port (0: a free port); resolves with the bound port. */
export async function serveFunction(module: FunctionModule, options: FunctionHostOptions): Promise<number> {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function listenOnHost(this: Server, ...args: unknown[]) {
    const [first] = args;
    if (typeof first === "object" && first !== null && (first as { host?: unknown }).host === "::") {
      args[0] = { ...first, host: options.host, port: options.port };
    }
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  let server: HttpServer;
  try {
    const settings = { port: options.port, logLevel: options.logLevel, includeRaw: false } as unknown as InvokerOptions;
    server = await faas.start(module, settings);
  } finally {
    Server.prototype.listen = listen;
  }
  return (server.address() as AddressInfo).port;
}
