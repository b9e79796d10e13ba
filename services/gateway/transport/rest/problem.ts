/**
 * RFC 9457 problem documents as the contract's Problem schema: one per error code, plus the
 * HTTP-only outcomes (405, 413, 415). The type URI is the code in kebab case; internal errors carry
 * a fixed detail, never the error's own message.
 */
import type { FastifyReply } from "fastify";
import type { components } from "../../../../generated/openapi/users.v1.js";
import { type Code, httpStatusOf } from "../../../../platform/errors.js";

export type Problem = components["schemas"]["Problem"];
export type FieldError = components["schemas"]["FieldError"];

export const PROBLEM_MEDIA_TYPE = "application/problem+json";
const TYPE_BASE = "https://charter.dev/problems/";

/** Seconds a client should wait before retrying an UNAVAILABLE answer. */
export const RETRY_AFTER_SECONDS = 1;

const titles: Record<Code, string> = {
  CANCELLED: "Request cancelled",
  UNKNOWN: "Internal error",
  INVALID_ARGUMENT: "Invalid argument",
  DEADLINE_EXCEEDED: "Gateway timeout",
  NOT_FOUND: "Not found",
  ALREADY_EXISTS: "Already exists",
  PERMISSION_DENIED: "Forbidden",
  RESOURCE_EXHAUSTED: "Too many requests",
  FAILED_PRECONDITION: "Failed precondition",
  ABORTED: "Precondition failed",
  OUT_OF_RANGE: "Out of range",
  UNIMPLEMENTED: "Not implemented",
  INTERNAL: "Internal error",
  UNAVAILABLE: "Service unavailable",
  DATA_LOSS: "Internal error",
  UNAUTHENTICATED: "Unauthenticated",
};

/** Codes whose messages may carry internals: the client sees this detail instead. */
const INTERNAL_DETAIL = "an unexpected error occurred";
const opaqueCodes: ReadonlySet<Code> = new Set(["UNKNOWN", "INTERNAL", "DATA_LOSS"]);

/** Outcomes decided by HTTP itself rather than by an error code. */
export const httpOutcomes = {
  payloadTooLarge: { status: 413, type: `${TYPE_BASE}payload-too-large`, title: "Payload too large" },
  unsupportedMediaType: { status: 415, type: `${TYPE_BASE}unsupported-media-type`, title: "Unsupported media type" },
  /**
   * A method the contract does not declare on a path it declares (code UNIMPLEMENTED, as gRPC answers a method a
   * service does not have); the answer's Allow header lists the declared methods.
   */
  methodNotAllowed: { status: 405, type: `${TYPE_BASE}method-not-allowed`, title: "Method not allowed" },
  /** DATA_LOSS with reason UNSERVABLE_RECORD: a stored user the contract refuses is not sent (the contract's UnservableUser). */
  unservableRecord: {
    status: 500,
    type: `${TYPE_BASE}unservable-record`,
    title: "Stored record breaks the contract",
    detail:
      "the stored record no longer fits the contract (it was written before a rule tightened) and is not served; " +
      "errors names the fields to correct",
  },
} as const;

/** The ErrorInfo reason of a DATA_LOSS for a stored record that no longer fits the contract. */
export const UNSERVABLE_RECORD = "UNSERVABLE_RECORD";

export interface ProblemOptions {
  readonly errors?: readonly FieldError[];
  readonly instance?: string;
  readonly requestId?: string;
  /** Overrides for HTTP-only outcomes (see httpOutcomes); a fixed `detail` of the outcome replaces the message. */
  readonly outcome?: {
    readonly status: number;
    readonly type: string;
    readonly title: string;
    readonly detail?: string;
  };
}

// The contract's limits on Problem fields; a longer value is cut so the document stays valid.
const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const MAX_FIELD_ERRORS = 50;

export function problemOf(code: Code, detail: string, options: ProblemOptions = {}): Problem {
  const outcome = options.outcome;
  const errors = options.errors?.slice(0, MAX_FIELD_ERRORS).map((e) => ({
    field: clip(e.field, 200),
    message: clip(e.message, 500),
  }));
  return {
    type: outcome?.type ?? `${TYPE_BASE}${code.toLowerCase().replace(/_/g, "-")}`,
    title: outcome?.title ?? titles[code],
    status: outcome?.status ?? httpStatusOf[code],
    detail: clip(outcome?.detail ?? (opaqueCodes.has(code) ? INTERNAL_DETAIL : detail), 2000),
    code,
    ...(options.instance === undefined ? {} : { instance: clip(options.instance, 200) }),
    ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
    ...(errors?.length ? { errors } : {}),
  };
}

/** Sends a problem with its status, media type and, for 503, Retry-After. */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 503) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
  return reply.code(problem.status).type(PROBLEM_MEDIA_TYPE).send(problem);
}
