import { fileURLToPath } from "node:url";
import {
  logVerbosity,
  type Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  setLogger,
  setLogVerbosity,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { Logger } from "./logging.js";
import type { MutualTls } from "./tls-config.js";

export const protoRoot = fileURLToPath(new URL("../contracts/proto/", import.meta.url));

export interface GrpcServiceBinding {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/** A gRPC server built but not yet bound: its services, health and reflection are in place. */
export interface GrpcServer {
  setStatus(service: string, status: ServingStatus): void;
  /** The health status last set for `service`; undefined when never set. */
  status(service: string): ServingStatus | undefined;
  /** Binds `host:port` (0 picks a free port) and starts serving; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting calls, lets in-flight calls finish up to timeoutMs, then cancels the rest. */
  stop(timeoutMs: number): Promise<void>;
}

export interface RunningGrpcServer {
  readonly port: number;
  setStatus(service: string, status: ServingStatus): void;
  /** Stops accepting calls, lets in-flight calls finish up to timeoutMs, then cancels the rest. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Builds a gRPC server with the given services, the standard health service (the server's own "" entry
 * NOT_SERVING until set) and server reflection built from the proto contracts. Nothing is bound until listen().
 */
export function createGrpcServer(opts: {
  services: readonly GrpcServiceBinding[];
  /** Proto files under contracts/proto (or absolute paths) to expose through reflection. */
  reflect: readonly string[];
  logger: Logger;
  /** Mutual TLS: only clients whose certificate chains to `tls.ca` get through the handshake. Default: plaintext. */
  tls?: MutualTls | undefined;
}): GrpcServer {
  // grpc-js logs to stderr by itself; its messages go to our structured log instead.
  setLogger({
    error: (...args: unknown[]) => opts.logger.debug({ grpc: args.join(" ") }, "grpc-js"),
    info: () => {},
    debug: () => {},
  } as Console);
  setLogVerbosity(logVerbosity.ERROR);
  const server = new Server({ "grpc.max_receive_message_length": 1024 * 1024 });
  for (const s of opts.services) server.addService(s.definition, s.implementation);
  const statuses = new Map<string, ServingStatus>([["", "NOT_SERVING"]]);
  const health = new HealthImplementation(Object.fromEntries(statuses));
  health.addToServer(server);
  const definitions = loadSync([...opts.reflect], { includeDirs: [protoRoot] });
  new ReflectionService(definitions).addToServer(server);
  const tls = opts.tls;
  const credentials = tls
    ? ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true)
    : ServerCredentials.createInsecure();
  const setStatus = (service: string, status: ServingStatus) => {
    statuses.set(service, status);
    health.setStatus(service, status);
  };

  return {
    setStatus,
    status: (service) => statuses.get(service),
    listen: (host, port) =>
      new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host}:${port}`, credentials, (error, bound) =>
          error
            ? reject(
                new Error(
                  `cannot listen on ${host}:${port}: ${/EADDRINUSE/.test(error.message) ? "address already in use" : error.message}`,
                ),
              )
            : resolve(bound),
        ),
      ),
    async stop(timeoutMs) {
      setStatus("", "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          opts.logger.warn({ timeoutMs }, "in-flight calls did not finish in time; cancelling them");
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** createGrpcServer and listen in one step, for a process that only serves (the gRPC mock). */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: readonly GrpcServiceBinding[];
  /** Proto files under contracts/proto to expose through reflection. */
  reflect: readonly string[];
  logger: Logger;
}): Promise<RunningGrpcServer> {
  const server = createGrpcServer(opts);
  const port = await server.listen(opts.host, opts.port);
  return { port, setStatus: server.setStatus, stop: server.stop };
}

export type { Metadata, ServingStatus };
