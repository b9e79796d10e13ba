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

export const protoRoot = fileURLToPath(new URL("../contracts/proto/", import.meta.url));

export interface GrpcServiceBinding {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  readonly port: number;
  setStatus(service: string, status: ServingStatus): void;
  /** Stops accepting calls, lets in-flight calls finish up to timeoutMs, then cancels the rest. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts a gRPC server with the standard health service and server reflection (built from
 * the proto contracts) on the same port.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: readonly GrpcServiceBinding[];
  /** Proto files under contracts/proto to expose through reflection. */
  reflect: readonly string[];
  logger: Logger;
}): Promise<RunningGrpcServer> {
  // grpc-js logs to stderr by itself; its messages go to our structured log instead.
  setLogger({
    error: (...args: unknown[]) => opts.logger.debug({ grpc: args.join(" ") }, "grpc-js"),
    info: () => {},
    debug: () => {},
  } as Console);
  setLogVerbosity(logVerbosity.ERROR);
  const server = new Server({ "grpc.max_receive_message_length": 1024 * 1024 });
  for (const s of opts.services) server.addService(s.definition, s.implementation);
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  const definitions = loadSync([...opts.reflect], { includeDirs: [protoRoot] });
  new ReflectionService(definitions).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error
        ? reject(
            new Error(
              `cannot listen on ${opts.host}:${opts.port}: ${/EADDRINUSE/.test(error.message) ? "address already in use" : error.message}`,
            ),
          )
        : resolve(bound),
    ),
  );
  return {
    port,
    setStatus: (service, status) => health.setStatus(service, status),
    async stop(timeoutMs) {
      health.setStatus("", "NOT_SERVING");
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

export type { Metadata, ServingStatus };
