/**
 * Every GraphQL error as the one error model: `extensions.code` is one of the contract's
 * ErrorCode values, field problems are in `extensions.fieldViolations`, a machine-readable
 * `extensions.reason` says which rule refused a request. Messages come only from AppError
 * (safe by construction), from GraphQL's parser and validator (they speak of the query the
 * client sent) or from the HTTP layer's refusals; anything else is INTERNAL with a generic
 * message, and its details go to the log only.
 */
import type { ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from "graphql";
import type { MercuriusContext } from "mercurius";
import { type Code, type FieldViolation, isAppError } from "../errors.js";

/** Which rule refused the request (extensions.reason), beside the contract's code. */
export type RequestErrorReason =
  | "GRAPHQL_PARSE_FAILED"
  | "GRAPHQL_VALIDATION_FAILED"
  | "QUERY_TOO_DEEP"
  | "QUERY_TOO_COMPLEX"
  | "BAD_REQUEST";

interface Extensions {
  /** Every contract's ErrorCode lists exactly the platform's codes (test/contracts-agree.test.ts). */
  code: Code;
  reason?: string;
  fieldViolations?: readonly FieldViolation[];
}

interface Formatted {
  readonly statusCode: number;
  readonly response: FormattedExecutionResult;
}

const INTERNAL_MESSAGE = "internal error";

const formatted = (
  error: GraphQLError | undefined,
  message: string,
  extensions: Extensions,
): GraphQLFormattedError => ({
  message,
  ...(error?.locations ? { locations: error.locations } : {}),
  ...(error?.path ? { path: error.path } : {}),
  extensions: { ...extensions },
});

/** An error raised by the HTTP layer (body parsing, schema, method) before any resolver ran. */
function fromHttpLayer(error: Error & { statusCode?: number; code?: string }, trusted = false): GraphQLFormattedError {
  const known = trusted || (typeof error.code === "string" && /^(FST_|MER_ERR_)/.test(error.code));
  return formatted(undefined, known ? error.message : "the request is not a valid GraphQL request", {
    code: error.statusCode === 413 ? "RESOURCE_EXHAUSTED" : "INVALID_ARGUMENT",
    reason: "BAD_REQUEST",
  });
}

/**
 * One of the errors mercurius gathers when it refuses a query before executing it: GraphQL
 * syntax and validation errors (our query limits among them), request schema errors, or its refusal of a
 * mutation over GET. All of them describe the request, so their messages may be shown.
 */
function fromRequestRefusal(inner: unknown): GraphQLFormattedError {
  if (inner instanceof Error && inner.name === "GraphQLError") {
    const error = inner as GraphQLError;
    const own = error.extensions as Partial<Extensions>;
    const reason: RequestErrorReason = error.message.startsWith("Syntax Error")
      ? "GRAPHQL_PARSE_FAILED"
      : "GRAPHQL_VALIDATION_FAILED";
    return formatted(error, error.message, { code: own.code ?? "INVALID_ARGUMENT", reason: own.reason ?? reason });
  }
  if (inner instanceof Error) return fromHttpLayer(inner, true);
  return formatted(undefined, "the request is not a valid GraphQL request", {
    code: "INVALID_ARGUMENT",
    reason: "BAD_REQUEST",
  });
}

/** mercurius's errorFormatter: called for execution results with errors and for refused requests. */
export function formatGraphqlErrors(
  execution: ExecutionResult & { errors: readonly GraphQLError[] },
  context: MercuriusContext,
): Formatted {
  const log = context.reply?.log ?? context.app.log;
  const errors: GraphQLFormattedError[] = [];
  let statusCode: number | undefined;
  const refuse = (status: number, ...out: GraphQLFormattedError[]) => {
    statusCode ??= status;
    errors.push(...out);
  };

  for (const error of execution.errors) {
    const original = error.originalError as (Error & { errors?: unknown[]; statusCode?: number }) | undefined;
    if (isAppError(original)) {
      const { fieldViolations, reason } = original.details;
      errors.push(
        formatted(error, original.message, {
          code: original.code,
          ...(reason ? { reason } : {}),
          ...(fieldViolations?.length ? { fieldViolations } : {}),
        }),
      );
    } else if (original && Array.isArray(original.errors)) {
      // A refused request (MER_ERR_GQL_VALIDATION and friends): each inner error is the reason.
      refuse(original.statusCode ?? 400, ...original.errors.map(fromRequestRefusal));
    } else if (original && !error.path && typeof original.statusCode === "number" && original.statusCode < 500) {
      // Refused by the HTTP layer: body not JSON, too large, unknown content type.
      refuse(original.statusCode, fromHttpLayer(original));
    } else if (!original && !error.path) {
      // GraphQL's own refusal before execution: unknown operation, missing or bad variables.
      refuse(400, formatted(error, error.message, { code: "INVALID_ARGUMENT", reason: "GRAPHQL_VALIDATION_FAILED" }));
    } else {
      log.error({ err: original ?? error, path: error.path }, "graphql resolver failed");
      errors.push(formatted(error, INTERNAL_MESSAGE, { code: "INTERNAL" }));
      // An error outside any execution (no data at all) is a failed request.
      if (!("data" in execution) && !error.path) statusCode ??= 500;
    }
  }
  for (const e of errors) {
    if (e.extensions?.code !== "INTERNAL") log.debug({ graphqlError: e }, "graphql request refused or failed");
  }
  if (statusCode !== undefined && statusCode >= 400) return { statusCode, response: { errors } };
  return { statusCode: statusCode ?? 200, response: { data: execution.data ?? null, errors } };
}
