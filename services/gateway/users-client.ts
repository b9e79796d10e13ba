/**
 * The gateway's typed client of the users service: the generated grpc-js client with a
 * deadline on every call, the request id in metadata, a capped reconnect backoff, and gRPC
 * failures turned into the one error model (AppError) with field details from google.rpc.
 *
 * Load balancing and failures, with a target that names several instances (`etcd:///users`):
 * - round_robin (grpc-js) spreads the calls over the instances whose connection is READY; an
 *   instance whose connection breaks leaves the rotation by itself, one at a time, and comes back
 *   when it reconnects. An instance that goes away from discovery is dropped.
 * - The idempotent reads (GetUser, ListUsers, BatchGetUsers) carry a grpc-js retryPolicy: up to
 *   two more attempts on UNAVAILABLE, which round_robin sends to the next ready instance; and a
 *   read whose connection dropped after grpc-js had committed the call (which it never retries)
 *   is sent once more by this client, within the same deadline. Writes have no
 *   retry policy; grpc-js only ever re-sends a call transparently when it never reached a server.
 * - A circuit breaker (cockatiel) opens only when no instance is usable: a run of UNAVAILABLE or
 *   DEADLINE_EXCEEDED failures with no success for a while, or discovery listing no instance at
 *   all. While open, calls fail at once with UNAVAILABLE (503 with Retry-After); after
 *   `halfOpenAfterMs` one call probes, and a success closes it.
 */

import { createRequire } from "node:module";
import { setTimeout as delay } from "node:timers/promises";
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
  BrokenCircuitError,
  CircuitState,
  circuitBreaker,
  handleWhen,
  type IBreaker,
  IsolatedCircuitError,
} from "cockatiel";
import { Gauge, type Registry } from "prom-client";
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
import { AppError, type Code, codeOfGrpcStatus, type FieldViolation, isAppError } from "../../platform/errors.js";
import type { Logger } from "../../platform/logging.js";

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
  /** closed: calls go through; open / half-open / isolated: they fail at once with UNAVAILABLE. */
  breakerState(): BreakerState;
  /**
   * Holds the breaker open (calls fail at once) until the returned function is called: for while discovery knows
   * no instance, when a call could only wait for its deadline.
   */
  isolate(): () => void;
  close(): void;
}

export type BreakerState = "closed" | "open" | "half-open" | "isolated";

export interface BreakerOptions {
  /** Failures (UNAVAILABLE, DEADLINE_EXCEEDED) in a row that open the breaker, if no call succeeded for quietMs. */
  readonly failures: number;
  /** How long no call may have succeeded before failures open the breaker (default halfOpenAfterMs). */
  readonly quietMs?: number;
  /** How long the breaker stays open before one call probes. */
  readonly halfOpenAfterMs: number;
}

export interface UsersClientOptions {
  /** A grpc-js target: "host:port", "dns:///name:port", or a registered resolver's scheme (etcd discovery). */
  readonly target: string;
  /** Default deadline of every call. */
  readonly deadlineMs: number;
  /** Upper bound of the reconnect backoff, so a users instance that comes back is used again quickly. */
  readonly maxReconnectBackoffMs?: number;
  /** Default: 5 failures, 1 s. */
  readonly breaker?: BreakerOptions;
  /** Where `charter_gateway_users_breaker_open` is registered. */
  readonly metrics?: Registry;
  /** Breaker transitions are logged here. */
  readonly logger?: Logger;
}

const USERS_SERVICE = "charter.users.v1.UsersService";

/**
 * The channel's service config: round_robin, and one retry on another instance for the idempotent reads. The etcd
 * resolver carries these method configs into the config it reports (see platform/registry/grpc-resolver.ts).
 */
export const USERS_SERVICE_CONFIG = {
  loadBalancingConfig: [{ round_robin: {} }],
  methodConfig: [
    {
      name: ["GetUser", "ListUsers", "BatchGetUsers"].map((method) => ({ service: USERS_SERVICE, method })),
      retryPolicy: {
        maxAttempts: 3,
        initialBackoff: "0.02s",
        maxBackoff: "0.1s",
        backoffMultiplier: 2,
        retryableStatusCodes: ["UNAVAILABLE"],
      },
    },
  ],
};

/** Pause before a read is sent again after an UNAVAILABLE that grpc-js did not retry. */
const READ_RETRY_PAUSE_MS = 25;

const OUTAGE_CODES: ReadonlySet<Code> = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED"]);

/**
 * Opens after `failures` outage failures in a row, and only if no call has succeeded for `quietMs`: with one
 * instance of several gone, the calls that were in flight on it fail together, but the others keep succeeding,
 * so the breaker stays closed; it opens when nothing succeeds any more.
 */
function outageBreaker(failures: number, quietMs: number): IBreaker {
  let inARow = 0;
  let lastSuccess = Date.now();
  return {
    get state() {
      return { inARow, lastSuccess };
    },
    set state(_value: unknown) {},
    success() {
      inARow = 0;
      lastSuccess = Date.now();
    },
    failure(state) {
      inARow += 1;
      return state === CircuitState.HalfOpen || (inARow >= failures && Date.now() - lastSuccess >= quietMs);
    },
  };
}

const breakerStates: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

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
const opaqueMessages = (service: string): Partial<Record<Code, string>> => ({
  UNAVAILABLE: `the ${service} service is unavailable`,
  DEADLINE_EXCEEDED: `the ${service} service did not answer in time`,
  INTERNAL: "internal error",
  UNKNOWN: "internal error",
  DATA_LOSS: "internal error",
  CANCELLED: "the call was cancelled",
});
const opaque = opaqueMessages("users");

/**
 * A gRPC failure as the one error model: code by status, field violations and reason from google.rpc details.
 * `service` names the called service in the messages of outages.
 */
export function fromServiceError(error: ServiceError, service = "users"): AppError {
  const code = codeOfGrpcStatus(error.code);
  const safe = (service === "users" ? opaque : opaqueMessages(service))[code];
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

/** Channel options of every connection to the users service. */
export function usersChannelOptions(maxReconnectBackoffMs = 1_000): ChannelOptions {
  return {
    "grpc.initial_reconnect_backoff_ms": Math.min(100, maxReconnectBackoffMs),
    "grpc.max_reconnect_backoff_ms": maxReconnectBackoffMs,
    "grpc.service_config": JSON.stringify(USERS_SERVICE_CONFIG),
    "grpc.enable_retries": 1,
    // Never idle: an idle channel drops its resolver, and with it the discovery that readiness reports.
    "grpc.client_idle_timeout_ms": 2_147_483_647,
  };
}

export interface HealthProbe {
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  check(service: string, deadlineMs: number): Promise<HealthStatus>;
  close(): void;
}

/** A health client of one target (an instance's host:port, or the balanced target). */
export function createHealthProbe(target: string, channelOptions: ChannelOptions = usersChannelOptions()): HealthProbe {
  const healthClient = new HealthClient(target, credentials.createInsecure(), channelOptions);
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

export function createUsersClient(opts: UsersClientOptions): UsersClient {
  const channelOptions = usersChannelOptions(opts.maxReconnectBackoffMs);
  const client = new UsersServiceClient(opts.target, credentials.createInsecure(), channelOptions);
  const healthProbe = createHealthProbe(opts.target, channelOptions);
  // Resolve now rather than at the first call, so discovery (and the breaker's view of it) starts with the client.
  client.getChannel().getConnectivityState(true);

  const breakerOptions = opts.breaker ?? { failures: 5, halfOpenAfterMs: 1_000 };
  const breaker = circuitBreaker(
    handleWhen((error) => isAppError(error) && OUTAGE_CODES.has(error.code)),
    {
      halfOpenAfter: breakerOptions.halfOpenAfterMs,
      breaker: outageBreaker(breakerOptions.failures, breakerOptions.quietMs ?? breakerOptions.halfOpenAfterMs),
    },
  );
  const log = opts.logger?.child({ component: "users-breaker" });
  breaker.onStateChange((state) => {
    const name = breakerStates[state];
    if (state === CircuitState.Closed) log?.info({ breaker: name }, "users breaker closed: calls go through");
    else if (state === CircuitState.HalfOpen) log?.info({ breaker: name }, "users breaker half-open: probing");
    else log?.warn({ breaker: name }, "users breaker open: no users instance is usable; failing fast");
  });
  if (opts.metrics) {
    new Gauge({
      name: "charter_gateway_users_breaker_open",
      help: "1 while the users circuit breaker refuses calls (open, half-open or held open), 0 while closed.",
      registers: [opts.metrics],
      collect() {
        this.set(breaker.state === CircuitState.Closed ? 0 : 1);
      },
    });
  }

  const metadataOf = (ctx: CallContext | undefined): Metadata => {
    const metadata = new Metadata();
    if (ctx?.requestId) metadata.set("x-request-id", ctx.requestId);
    return metadata;
  };
  const attempt = <Req, Res>(method: Unary<Req, Res>, request: Req, ctx: CallContext | undefined, deadline: number) =>
    breaker
      .execute(
        () =>
          new Promise<Res>((resolve, reject) => {
            method.call(client, request, metadataOf(ctx), { deadline }, (error, response) =>
              error ? reject(fromServiceError(error)) : resolve(response),
            );
          }),
      )
      .catch((error: unknown) => {
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
          throw new AppError("UNAVAILABLE", opaque.UNAVAILABLE ?? "unavailable", { reason: "CIRCUIT_OPEN" });
        }
        throw error;
      });
  /**
   * One call within one deadline. A read (idempotent) that still fails UNAVAILABLE after grpc-js's own
   * retries — a connection that dropped after the call was committed, which grpc-js never retries — is
   * sent once more, after a short pause, to whichever instance round_robin picks next.
   */
  const call =
    <Req, Res>(method: Unary<Req, Res>, idempotent = false) =>
    async (request: Req, ctx?: CallContext): Promise<Res> => {
      const deadline = Date.now() + (ctx?.deadlineMs ?? opts.deadlineMs);
      try {
        return await attempt(method, request, ctx, deadline);
      } catch (error) {
        const retry =
          idempotent &&
          isAppError(error) &&
          error.code === "UNAVAILABLE" &&
          error.details.reason !== "CIRCUIT_OPEN" &&
          deadline - Date.now() > READ_RETRY_PAUSE_MS;
        if (!retry) throw error;
        await delay(READ_RETRY_PAUSE_MS);
        return attempt(method, request, ctx, deadline);
      }
    };

  return {
    getUser: call<GetUserRequest, GetUserResponse>(client.getUser, true),
    listUsers: call<ListUsersRequest, ListUsersResponse>(client.listUsers, true),
    createUser: call<CreateUserRequest, CreateUserResponse>(client.createUser),
    updateUser: call<UpdateUserRequest, UpdateUserResponse>(client.updateUser),
    deleteUser: call<DeleteUserRequest, DeleteUserResponse>(client.deleteUser),
    batchGetUsers: call<BatchGetUsersRequest, BatchGetUsersResponse>(client.batchGetUsers, true),
    health: (service, deadlineMs = opts.deadlineMs) => healthProbe.check(service, deadlineMs),
    breakerState: () => breakerStates[breaker.state],
    isolate() {
      const handle = breaker.isolate();
      return () => handle.dispose();
    },
    close() {
      client.close();
      healthProbe.close();
    },
  };
}
