/**
 * What every gRPC service of the platform does around its use cases: AppErrors become gRPC statuses with
 * google.rpc details (BadRequest field violations under proto paths, ErrorInfo reasons) in
 * grpc-status-details-bin; anything unexpected becomes INTERNAL with no internals; every call is authorized first
 * (the caller's token and the method's scopes, platform/auth/grpc-auth.ts) and its use case is handed the caller;
 * each call is timed, counted through a hook, and logged on one line with its request id (x-request-id), the
 * caller's subject and the outcome (never the token).
 */
import { Metadata, type ServerUnaryCall, type ServiceError, type sendUnaryData } from "@grpc/grpc-js";
import { context } from "@opentelemetry/api";
import { BadRequest, ErrorInfo } from "../generated/proto/google/rpc/error_details.js";
import { Status } from "../generated/proto/google/rpc/status.js";
import { GrpcAuthError, type GrpcAuthorizer } from "./auth/grpc-auth.js";
import type { Principal } from "./auth/token-verifier.js";
import { AppError, type Code, grpcStatusOf, isAppError } from "./errors.js";
import { startServerCall } from "./grpc-tracing.js";
import type { Logger } from "./logging.js";

export interface ServiceErrorOptions {
  /** ErrorInfo.domain, e.g. users.charter.dev: see errorDomainOf. */
  readonly domain: string;
  /** Field names (JSON style, e.g. pageSize) as proto paths (page_size, user.name). */
  readonly fieldPath?: (field: string) => string;
}

const PROTO_NAME = /^charter\.([a-z][a-z0-9_]*)\.v[0-9]+(?:\.[A-Z][A-Za-z0-9]*)?$/;

/**
 * The one rule for a service's google.rpc.ErrorInfo.domain, from its proto package or its full service name:
 * charter.users.v1 (or charter.users.v1.UsersService) → users.charter.dev. The services and the gRPC mock of
 * each all name their errors' domain by it, so a client can tell which service refused.
 */
export function errorDomainOf(protoName: string): string {
  const name = PROTO_NAME.exec(protoName)?.[1];
  if (name === undefined) {
    throw new Error(`"${protoName}" is not a proto package charter.<name>.v<major> nor a service in one`);
  }
  return `${name}.charter.dev`;
}

/** camelCase JSON field names as snake_case proto field names. */
export const snakeCase = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function toServiceError(error: AppError, options: ServiceErrorOptions): Partial<ServiceError> {
  const details = [];
  const violations = error.details.fieldViolations ?? [];
  const path = options.fieldPath ?? snakeCase;
  if (violations.length > 0) {
    const value = Buffer.from(
      BadRequest.encode({
        fieldViolations: violations.map((v) => ({ field: path(v.field), description: v.description, reason: "" })),
      }).finish(),
    );
    details.push({ typeUrl: "type.googleapis.com/google.rpc.BadRequest", value });
  }
  if (error.details.reason) {
    const value = Buffer.from(
      ErrorInfo.encode({ reason: error.details.reason, domain: options.domain, metadata: {} }).finish(),
    );
    details.push({ typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value });
  }
  const code = grpcStatusOf[error.code];
  const metadata = new Metadata();
  metadata.set(
    "grpc-status-details-bin",
    Buffer.from(Status.encode({ code, message: error.message, details }).finish()),
  );
  return { code, details: error.message, metadata };
}

/** The caller's x-request-id, bounded, or undefined when it sent none. */
export function requestIdOf(metadata: Metadata): string | undefined {
  const value = metadata.get("x-request-id")[0];
  if (typeof value !== "string" || value === "") return undefined;
  return value.slice(0, 128);
}

export interface RpcHooks<Rpc extends string> {
  /** Called once per RPC with its outcome ("OK" or the status code name) and its duration in seconds. */
  readonly onRpc?: (rpc: Rpc, code: "OK" | Code, seconds: number) => void;
}

/** How a service's calls are authorized: its full proto name (charter.users.v1.UsersService) and the check. */
export interface RpcAuth {
  readonly service: string;
  readonly authorize: GrpcAuthorizer;
}

/**
 * An adapter from async use cases to grpc-js unary handlers: `unary(rpc, run, toError)` authorizes the call
 * (UNAUTHENTICATED or PERMISSION_DENIED before anything runs), resolves `run(request, caller)`'s result, or answers
 * its AppError through `toError` (INTERNAL for anything else, logged with the error). Each call is a server span
 * (grpc-tracing.ts) continuing the caller's trace, and the check and `run` run in its context.
 */
export function unaryAdapter<Rpc extends string>(logger: Logger, auth: RpcAuth, hooks: RpcHooks<Rpc> = {}) {
  return <Req, Res>(
    rpc: Rpc,
    run: (request: Req, caller: Principal) => Promise<Res>,
    toError: (error: AppError) => Partial<ServiceError>,
  ) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      const requestId = requestIdOf(call.metadata);
      const method = `${auth.service}/${rpc}`;
      let subject: string | undefined;
      const span = startServerCall(call.getPath(), call.metadata);
      const done = (code: "OK" | Code, extra: Record<string, unknown> = {}): void => {
        const seconds = (performance.now() - started) / 1000;
        hooks.onRpc?.(rpc, code, seconds);
        // One line per call, with the trace's ids (the gRPC server span is active here) and who called. The fields
        // go on the line itself: a child logger per call would serialize its bindings for a single line.
        logger.info(
          {
            rpc,
            requestId,
            code,
            duration_ms: Math.round(seconds * 100_000) / 100,
            ...(subject ? { subject } : {}),
            ...extra,
          },
          "rpc",
        );
        span.end(code === "OK" ? 0 : grpcStatusOf[code]);
      };
      // The check, the use case and what follows them (the line above, the answer) run in the server span's context.
      context.with(span.context, () =>
        auth
          .authorize(method, call.metadata)
          .then((caller) => {
            subject = caller.subject;
            return run(call.request, caller);
          })
          .then(
            (response) => {
              done("OK");
              callback(null, response);
            },
            (error: unknown) => {
              if (error instanceof GrpcAuthError) {
                subject ??= error.subject;
                done(error.code, { authFailure: error.logReason });
                return callback(toError(error));
              }
              if (isAppError(error)) {
                done(error.code);
                return callback(toError(error));
              }
              logger.error({ rpc, requestId, err: error }, "unexpected error");
              done("INTERNAL");
              callback(toError(new AppError("INTERNAL", "internal error")));
            },
          ),
      );
    };
}
