import type { status } from "@grpc/grpc-js";

/**
 * The closed list of error codes: the gRPC status names (OK aside). Every contract's ErrorCode lists exactly
 * these, which test/contracts-agree.test.ts checks.
 */
export type Code = Exclude<keyof typeof status, "OK">;

export interface FieldViolation {
  /** The field as named in the resource's JSON form (e.g. "email", "pageSize"). */
  readonly field: string;
  readonly description: string;
}

export interface ErrorDetails {
  readonly fieldViolations?: readonly FieldViolation[];
  /** A machine-readable reason (google.rpc.ErrorInfo.reason), e.g. "ETAG_MISMATCH". */
  readonly reason?: string;
}

/** The one error type. Its message is safe to show to a client; internals never go in it. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: Code,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }
}

export const invalidArgument = (violations: readonly FieldViolation[]): AppError =>
  new AppError(
    "INVALID_ARGUMENT",
    violations.map((v) => `${v.field}: ${v.description}`).join("; ") || "invalid argument",
    { fieldViolations: violations },
  );

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/**
 * A call to a service's backing store: an AppError passes as it is; any other failure is handed to `report`
 * (for the log) and becomes UNAVAILABLE with `message`, so the cause never reaches a client.
 */
export async function storeCall<T>(
  run: () => Promise<T>,
  message: string,
  report: (error: unknown) => void,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isAppError(error)) throw error;
    report(error);
    throw new AppError("UNAVAILABLE", message);
  }
}

/** gRPC status number of each code. Exhaustive: a new code cannot be forgotten. */
export const grpcStatusOf: Record<Code, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/**
 * HTTP status of each code. ABORTED is an etag mismatch here, so 412 (RFC 9110 If-Match);
 * FAILED_PRECONDITION is a request that conflicts with what the server holds (an idempotency key
 * reused with another body), so 422.
 */
export const httpStatusOf: Record<Code, number> = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 422,
  ABORTED: 412,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

const codeByGrpcStatus = new Map<number, Code>(
  (Object.entries(grpcStatusOf) as [Code, number][]).map(([code, n]) => [n, code]),
);

/** The code of a gRPC status number; anything unknown is UNKNOWN. */
export const codeOfGrpcStatus = (status: number): Code => codeByGrpcStatus.get(status) ?? "UNKNOWN";
