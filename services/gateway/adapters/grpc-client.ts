/**
 * What the gateway's gRPC clients share (users-backend.ts, audit-backend.ts): the channel options and a service
 * config with a retry policy for the idempotent reads, the standard health check, gRPC failures as the one error
 * model (AppError, field details from google.rpc), and unary calls with a deadline, the request id in metadata and
 * one more attempt of a read that grpc-js could not retry.
 */

import { setTimeout as delay } from "node:timers/promises";
import { type CallOptions, type ChannelOptions, type Client, Metadata, type ServiceError } from "@grpc/grpc-js";
import { BadRequest, ErrorInfo } from "../../../generated/proto/google/rpc/error_details.js";
import { Status } from "../../../generated/proto/google/rpc/status.js";
import { AppError, type Code, codeOfGrpcStatus, type FieldViolation, isAppError } from "../../../platform/errors.js";
import { startClientCall } from "../../../platform/grpc-tracing.js";
import type { CallContext } from "../app/backends.js";

/**
 * A channel's service config: round_robin, and for the idempotent reads of `service` a grpc-js retryPolicy of up
 * to two more attempts on UNAVAILABLE (round_robin sends each to the next ready instance).
 */
export function readRetryServiceConfig(service: string, reads: readonly string[]) {
  return {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: [
      {
        name: reads.map((method) => ({ service, method })),
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
}

/** Channel options of every connection to a service with this service config. */
export function grpcChannelOptions(serviceConfig: object, maxReconnectBackoffMs = 1_000): ChannelOptions {
  return {
    "grpc.initial_reconnect_backoff_ms": Math.min(100, maxReconnectBackoffMs),
    "grpc.max_reconnect_backoff_ms": maxReconnectBackoffMs,
    "grpc.service_config": JSON.stringify(serviceConfig),
    "grpc.enable_retries": 1,
    // Never idle: an idle channel drops its resolver, and with it the discovery that readiness reports.
    "grpc.client_idle_timeout_ms": 2_147_483_647,
  };
}

export { createHealthProbe, type HealthProbe } from "../../../platform/grpc-health-probe.js";

/** Proto field paths in BadRequest (user.email, page_size) as the JSON names clients send (email, pageSize). */
export const jsonFieldName = (path: string): string =>
  path.replace(/^user\./, "").replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Messages a client may see for codes whose server text could carry internals. */
export const opaqueMessages = (service: string): Partial<Record<Code, string>> => ({
  UNAVAILABLE: `the ${service} service is unavailable`,
  DEADLINE_EXCEEDED: `the ${service} service did not answer in time`,
  INTERNAL: "internal error",
  UNKNOWN: "internal error",
  DATA_LOSS: "internal error",
  CANCELLED: "the call was cancelled",
});

/**
 * A gRPC failure as the one error model: code by status, field violations and reason from google.rpc details.
 * `service` names the called service in the messages of outages.
 */
export function fromServiceError(error: ServiceError, service = "users"): AppError {
  const code = codeOfGrpcStatus(error.code);
  const { fieldViolations, reason } = detailsOf(error);
  // A service's own answer that says why (its ErrorInfo reason is one it may tell): its message stands.
  if (reason !== undefined && TOLD_REASONS.has(reason)) return new AppError(code, error.details, { reason });
  const safe = opaqueMessages(service)[code];
  if (safe) return new AppError(code, safe);
  const message = fieldViolations.length
    ? fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ")
    : error.details || code.toLowerCase();
  return new AppError(code, message, {
    ...(fieldViolations.length ? { fieldViolations } : {}),
    ...(reason ? { reason } : {}),
  });
}

/**
 * ErrorInfo reasons of outage codes whose message a service writes for clients: UNAVAILABLE because the stats
 * pipeline is not running says so, where an outage's message is otherwise replaced (opaqueMessages).
 */
const TOLD_REASONS: ReadonlySet<string> = new Set(["STATS_PIPELINE_NOT_RUNNING"]);

/** The field violations and the reason of a gRPC failure's google.rpc details. */
function detailsOf(error: ServiceError): { fieldViolations: FieldViolation[]; reason: string | undefined } {
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
  return { fieldViolations, reason };
}

/** A generated grpc-js client's unary method (grpc-js gives each its `/package.Service/Method` path). */
export type Unary<Req, Res> = ((
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown) & { readonly path?: string };

/** Wraps every attempt of a call, e.g. in a circuit breaker; it must settle as the attempt does or fail. */
export type AttemptGuard = <T>(attempt: () => Promise<T>) => Promise<T>;

export interface UnaryCallerOptions {
  /** The generated client the methods are called on. */
  readonly client: Client;
  /** Names the service in the messages of outages ("users" → "the users service is unavailable"). */
  readonly service: string;
  /** Default deadline of every call. */
  readonly deadlineMs: number;
  readonly guard?: AttemptGuard;
}

/** Pause before a read is sent again after an UNAVAILABLE that grpc-js did not retry. */
const READ_RETRY_PAUSE_MS = 25;

/**
 * Makes typed calls of a generated client's unary methods: one deadline per call, x-request-id and the caller's
 * authorization in metadata, gRPC
 * failures as AppErrors. A read (`idempotent`) that still fails UNAVAILABLE after grpc-js's own retries — a
 * connection that dropped after the call was committed, which grpc-js never retries — is sent once more, after a
 * short pause and within the same deadline, to whichever instance round_robin picks next; not when the guard
 * refused it (reason CIRCUIT_OPEN).
 */
export function createUnaryCaller(opts: UnaryCallerOptions) {
  const guard: AttemptGuard = opts.guard ?? ((attempt) => attempt());
  const metadataOf = (ctx: CallContext | undefined): Metadata => {
    const metadata = new Metadata();
    if (ctx?.requestId) metadata.set("x-request-id", ctx.requestId);
    if (ctx?.authorization) metadata.set("authorization", ctx.authorization);
    return metadata;
  };
  const attempt = <Req, Res>(method: Unary<Req, Res>, request: Req, ctx: CallContext | undefined, deadline: number) =>
    guard(
      () =>
        new Promise<Res>((resolve, reject) => {
          const metadata = metadataOf(ctx);
          // Each attempt is a client span in the request's trace, its context in the call's metadata.
          const span = startClientCall(method.path ?? "/unknown/unknown", metadata);
          method.call(opts.client, request, metadata, { deadline }, (error, response) => {
            span.end(error ? error.code : 0);
            if (error) reject(fromServiceError(error, opts.service));
            else resolve(response);
          });
        }),
    );
  return <Req, Res>(method: Unary<Req, Res>, idempotent = false) =>
    async (request: Req, ctx?: CallContext): Promise<Res> => {
      const deadline = Date.now() + (ctx?.deadlineMs ?? opts.deadlineMs);
      try {
        return await attempt(method, request, ctx, deadline);
      } catch (error) {
        const retry =
          idempotent &&
          isAppError(error) &&
          error.code === "UNAVAILABLE" &&
          // CIRCUIT_OPEN: the guard refused it; any other reason: the service answered why, and would again.
          error.details.reason === undefined &&
          deadline - Date.now() > READ_RETRY_PAUSE_MS;
        if (!retry) throw error;
        await delay(READ_RETRY_PAUSE_MS);
        return attempt(method, request, ctx, deadline);
      }
    };
}
