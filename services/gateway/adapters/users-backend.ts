/**
 * The gateway's typed client of the users service: the generated grpc-js client with a
 * deadline on every call, the request id in metadata, a capped reconnect backoff, and gRPC
 * failures turned into the one error model (AppError) with field details from google.rpc
 * (the parts every gateway client shares are in grpc-client.ts).
 *
 * Load balancing and failures, with a target that names several instances (`etcd:///users`):
 * - round_robin (grpc-js) spreads the calls over the instances whose connection is READY; an
 *   instance whose connection breaks leaves the rotation by itself, one at a time, and comes back
 *   when it reconnects. An instance that goes away from discovery is dropped.
 * - The idempotent reads (GetUser, ListUsers, BatchGetUsers, LookupUser) carry a grpc-js retryPolicy: up to
 *   two more attempts on UNAVAILABLE, which round_robin sends to the next ready instance; and a
 *   read whose connection dropped after grpc-js had committed the call (which it never retries)
 *   is sent once more by this client, within the same deadline. Writes have no
 *   retry policy; grpc-js only ever re-sends a call transparently when it never reached a server.
 * - A circuit breaker (cockatiel) opens only when no instance is usable: a run of UNAVAILABLE or
 *   DEADLINE_EXCEEDED failures with no success for a while, or discovery listing no instance at
 *   all. While open, calls fail at once with UNAVAILABLE (503 with Retry-After); after
 *   `halfOpenAfterMs` one call probes, and a success closes it.
 */

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
  type LookupUserRequest,
  type LookupUserResponse,
  type UpdateUserRequest,
  type UpdateUserResponse,
  UsersServiceClient,
} from "../../../generated/proto/charter/users/v1/users.js";
import { AppError, type Code, isAppError } from "../../../platform/errors.js";
import { grpcClientCredentials } from "../../../platform/grpc-credentials.js";
import type { Logger } from "../../../platform/logging.js";
import type { MutualTls } from "../../../platform/tls-config.js";
import type { BreakerState, UsersBackend } from "../app/backends.js";
import {
  createHealthProbe,
  createUnaryCaller,
  grpcChannelOptions,
  opaqueMessages,
  readRetryServiceConfig,
} from "./grpc-client.js";

export interface BreakerOptions {
  /** Failures (UNAVAILABLE, DEADLINE_EXCEEDED) in a row that open the breaker, if no call succeeded for quietMs. */
  readonly failures: number;
  /** How long no call may have succeeded before failures open the breaker (default halfOpenAfterMs). */
  readonly quietMs?: number;
  /** How long the breaker stays open before one call probes. */
  readonly halfOpenAfterMs: number;
}

export interface UsersBackendOptions {
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
  /** Mutual TLS (GRPC_TLS_*): this gateway's client certificate and the CA of the users service's; else plaintext. */
  readonly tls?: MutualTls | undefined;
}

const USERS_SERVICE = "charter.users.v1.UsersService";

/**
 * The channel's service config: round_robin, and one retry on another instance for the idempotent reads. The etcd
 * resolver carries these method configs into the config it reports (see platform/registry/grpc-resolver.ts).
 */
export const USERS_SERVICE_CONFIG = readRetryServiceConfig(USERS_SERVICE, [
  "GetUser",
  "ListUsers",
  "BatchGetUsers",
  "LookupUser",
]);

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

const opaque = opaqueMessages("users");

/** Channel options of every connection to the users service. */
export const usersChannelOptions = (maxReconnectBackoffMs = 1_000) =>
  grpcChannelOptions(USERS_SERVICE_CONFIG, maxReconnectBackoffMs);

export function createUsersBackend(opts: UsersBackendOptions): UsersBackend {
  const channelOptions = usersChannelOptions(opts.maxReconnectBackoffMs);
  const channelCredentials = grpcClientCredentials(opts.tls);
  const client = new UsersServiceClient(opts.target, channelCredentials, channelOptions);
  const healthProbe = createHealthProbe(opts.target, channelOptions, channelCredentials);
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

  const call = createUnaryCaller({
    client,
    service: "users",
    deadlineMs: opts.deadlineMs,
    guard: (attempt) =>
      breaker.execute(attempt).catch((error: unknown) => {
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
          throw new AppError("UNAVAILABLE", opaque.UNAVAILABLE ?? "unavailable", { reason: "CIRCUIT_OPEN" });
        }
        throw error;
      }),
  });

  return {
    getUser: call<GetUserRequest, GetUserResponse>(client.getUser, true),
    listUsers: call<ListUsersRequest, ListUsersResponse>(client.listUsers, true),
    createUser: call<CreateUserRequest, CreateUserResponse>(client.createUser),
    updateUser: call<UpdateUserRequest, UpdateUserResponse>(client.updateUser),
    deleteUser: call<DeleteUserRequest, DeleteUserResponse>(client.deleteUser),
    batchGetUsers: call<BatchGetUsersRequest, BatchGetUsersResponse>(client.batchGetUsers, true),
    lookupUser: call<LookupUserRequest, LookupUserResponse>(client.lookupUser, true),
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
