/**
 * A client of the standard gRPC health service (grpc.health.v1), from the proto that grpc-health-check ships: the
 * gateway's probes of its backends and the images' HEALTHCHECK of the gRPC services use it.
 */
import { createRequire } from "node:module";
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { codeOfGrpcStatus } from "./errors.js";

/** A Check's answer, or why there is none: the service name is unknown there, or the server could not be reached. */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN" | "UNREACHABLE";

const require = createRequire(import.meta.url);
const healthProto = require.resolve("grpc-health-check/proto/health/v1/health.proto");

type HealthCheck = (
  request: { service: string },
  metadata: Metadata,
  options: CallOptions,
  callback: (error: ServiceError | null, response?: { status: string }) => void,
) => void;
// biome-ignore lint/suspicious/noExplicitAny: loaded at run time from the standard health proto
const healthPackage: any = loadPackageDefinition(loadSync(healthProto, { enums: String, defaults: true }));
const HealthClient = healthPackage.grpc.health.v1.Health as new (
  target: string,
  creds: ChannelCredentials,
  options: ChannelOptions,
) => Client & { check: HealthCheck };

export interface HealthProbe {
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  check(service: string, deadlineMs: number): Promise<HealthStatus>;
  close(): void;
}

/** A health client of one target (an instance's host:port, or the balanced target). */
export function createHealthProbe(
  target: string,
  channelOptions: ChannelOptions = {},
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): HealthProbe {
  const healthClient = new HealthClient(target, channelCredentials, channelOptions);
  return {
    check: (service, deadlineMs) =>
      new Promise((resolve) => {
        healthClient.check({ service }, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => {
          if (!error) return resolve((response?.status ?? "UNKNOWN") as HealthStatus);
          resolve(codeOfGrpcStatus(error.code) === "NOT_FOUND" ? "SERVICE_UNKNOWN" : "UNREACHABLE");
        });
      }),
    close: () => healthClient.close(),
  };
}
