/**
 * The gateway's typed client of the users service: the generated grpc-js client with a
 * deadline on every call, the request id in metadata, a capped reconnect backoff, and gRPC
 * failures turned into the one error model (AppError) with field details from google.rpc.
 */
import { createRequire } from "node:module";
import {
  type CallOptions,
  type ChannelOptions,
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import {
  type BatchGetUsersRequest,
  type BatchGetUsersResponse,
  type CreateUserRequest,
  type CreateUserResponse,
  type DeleteUserRequest,
  type DeleteUserResponse,
  type GetUserRequest,
  type GetUserResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type UpdateUserRequest,
  type UpdateUserResponse,
  UsersServiceClient,
} from "../../generated/proto/charter/users/v1/users.js";
import { BadRequest, ErrorInfo } from "../../generated/proto/google/rpc/error_details.js";
import { Status } from "../../generated/proto/google/rpc/status.js";
import { AppError, type Code, codeOfGrpcStatus, type FieldViolation } from "../../platform/errors.js";

export interface CallContext {
  /** Sent as x-request-id so both sides log the same id. */
  readonly requestId?: string;
  /** Overrides the client's default deadline for this call. */
  readonly deadlineMs?: number;
}

export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN" | "UNREACHABLE";

export interface UsersClient {
  getUser(request: GetUserRequest, ctx?: CallContext): Promise<GetUserResponse>;
  listUsers(request: ListUsersRequest, ctx?: CallContext): Promise<ListUsersResponse>;
  createUser(request: CreateUserRequest, ctx?: CallContext): Promise<CreateUserResponse>;
  updateUser(request: UpdateUserRequest, ctx?: CallContext): Promise<UpdateUserResponse>;
  deleteUser(request: DeleteUserRequest, ctx?: CallContext): Promise<DeleteUserResponse>;
  batchGetUsers(request: BatchGetUsersRequest, ctx?: CallContext): Promise<BatchGetUsersResponse>;
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  health(service: string, deadlineMs?: number): Promise<HealthStatus>;
  close(): void;
}

export interface UsersClientOptions {
  /** A grpc-js target: "host:port", "dns:///name:port", or a registered resolver's scheme (etcd discovery). */
  readonly target: string;
  /** Default deadline of every call. */
  readonly deadlineMs: number;
  /** Upper bound of the reconnect backoff, so a users instance that comes back is used again quickly. */
  readonly maxReconnectBackoffMs?: number;
}

const require = createRequire(import.meta.url);
const healthProto = require.resolve("grpc-health-check/proto/health/v1/health.proto");

/** The standard health service's client, from the proto that grpc-health-check ships. */
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
  creds: ReturnType<typeof credentials.createInsecure>,
  options: ChannelOptions,
) => Client & { check: HealthCheck };

/** Proto field paths in BadRequest (user.email, page_size) as the JSON names clients send (email, pageSize). */
export const jsonFieldName = (path: string): string =>
  path.replace(/^user\./, "").replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Messages a client may see for codes whose server text could carry internals. */
const opaque: Partial<Record<Code, string>> = {
  UNAVAILABLE: "the users service is unavailable",
  DEADLINE_EXCEEDED: "the users service did not answer in time",
  INTERNAL: "internal error",
  UNKNOWN: "internal error",
  DATA_LOSS: "internal error",
  CANCELLED: "the call was cancelled",
};

/** A gRPC failure as the one error model: code by status, field violations and reason from google.rpc details. */
export function fromServiceError(error: ServiceError): AppError {
  const code = codeOfGrpcStatus(error.code);
  const safe = opaque[code];
  if (safe) return new AppError(code, safe);
  const fieldViolations: FieldViolation[] = [];
  let reason: string | undefined;
  const raw = error.metadata?.get("grpc-status-details-bin")[0];
  if (Buffer.isBuffer(raw)) {
    try {
      for (const detail of Status.decode(raw).details) {
        if (detail.typeUrl.endsWith("/google.rpc.BadRequest")) {
          for (const v of BadRequest.decode(detail.value).fieldViolations) {
            fieldViolations.push({ field: jsonFieldName(v.field), description: v.description });
          }
        } else if (detail.typeUrl.endsWith("/google.rpc.ErrorInfo")) {
          reason = ErrorInfo.decode(detail.value).reason;
        }
      }
    } catch {
      // Undecodable details: the status code and message still stand.
    }
  }
  const message = fieldViolations.length
    ? fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ")
    : error.details || code.toLowerCase();
  return new AppError(code, message, {
    ...(fieldViolations.length ? { fieldViolations } : {}),
    ...(reason ? { reason } : {}),
  });
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

export function createUsersClient(opts: UsersClientOptions): UsersClient {
  const backoff = opts.maxReconnectBackoffMs ?? 1_000;
  const channelOptions: ChannelOptions = {
    "grpc.initial_reconnect_backoff_ms": Math.min(100, backoff),
    "grpc.max_reconnect_backoff_ms": backoff,
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    "grpc.enable_retries": 0,
  };
  const client = new UsersServiceClient(opts.target, credentials.createInsecure(), channelOptions);
  const healthClient = new HealthClient(opts.target, credentials.createInsecure(), channelOptions);

  const metadataOf = (ctx: CallContext | undefined): Metadata => {
    const metadata = new Metadata();
    if (ctx?.requestId) metadata.set("x-request-id", ctx.requestId);
    return metadata;
  };
  const call =
    <Req, Res>(method: Unary<Req, Res>) =>
    (request: Req, ctx?: CallContext): Promise<Res> =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + (ctx?.deadlineMs ?? opts.deadlineMs);
        method.call(client, request, metadataOf(ctx), { deadline }, (error, response) =>
          error ? reject(fromServiceError(error)) : resolve(response),
        );
      });

  return {
    getUser: call<GetUserRequest, GetUserResponse>(client.getUser),
    listUsers: call<ListUsersRequest, ListUsersResponse>(client.listUsers),
    createUser: call<CreateUserRequest, CreateUserResponse>(client.createUser),
    updateUser: call<UpdateUserRequest, UpdateUserResponse>(client.updateUser),
    deleteUser: call<DeleteUserRequest, DeleteUserResponse>(client.deleteUser),
    batchGetUsers: call<BatchGetUsersRequest, BatchGetUsersResponse>(client.batchGetUsers),
    health: (service, deadlineMs = opts.deadlineMs) =>
      new Promise((resolve) => {
        healthClient.check({ service }, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => {
          if (!error) return resolve((response?.status ?? "UNKNOWN") as HealthStatus);
          resolve(codeOfGrpcStatus(error.code) === "NOT_FOUND" ? "SERVICE_UNKNOWN" : "UNREACHABLE");
        });
      }),
    close() {
      client.close();
      healthClient.close();
    },
  };
}
