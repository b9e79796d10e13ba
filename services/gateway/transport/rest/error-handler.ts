/**
 * Every failure as a problem document: the client's AppErrors by code, Fastify's validation,
 * body-size, media-type and parsing errors by what they mean, unknown routes as 404, an
 * undeclared method on a declared path as 405, and
 * anything else as a 500 with a fixed detail (the error itself only goes to the log).
 */
import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type AppError, type Code, isAppError } from "../../../../platform/errors.js";
import { escapePointerSegment as escapePointer } from "../../../../platform/json-pointer.js";
import { type FieldError, httpOutcomes, type Problem, problemOf, sendProblem, UNSERVABLE_RECORD } from "./problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** A REST operation's parameter names: field errors about them name the parameter; others point into the body. */
    restParameters?: readonly string[];
  }
}

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/** Where a field error points: a body field as a JSON pointer (/email), a parameter by its name (id, pageSize, If-Match). */
function fieldOf(request: FastifyRequest, jsonName: string, inBody: boolean): string {
  const parameters = request.routeOptions.config.restParameters ?? [];
  if (!inBody) {
    const first = jsonName.split("/").filter(Boolean)[0] ?? jsonName;
    return parameters.find((p) => p.toLowerCase() === first.toLowerCase()) ?? first;
  }
  return jsonName.startsWith("/") ? jsonName : `/${escapePointer(jsonName)}`;
}

function validationErrors(request: FastifyRequest, errors: readonly AjvError[], context: string): FieldError[] {
  const inBody = context === "body";
  return errors.map((e) => {
    const property = e.params.additionalProperty ?? e.params.missingProperty;
    const path = typeof property === "string" ? `${e.instancePath}/${escapePointer(property)}` : e.instancePath;
    // A query parameter the operation does not declare is no parameter: named as an unknown body field is, by pointer.
    if (context === "querystring" && e.keyword === "additionalProperties") {
      return { field: path, message: "is not a known query parameter" };
    }
    const message =
      e.keyword === "additionalProperties"
        ? "is not a known field"
        : e.keyword === "required"
          ? "is required"
          : (e.message ?? `fails ${e.keyword}`);
    return { field: inBody ? path || "/" : fieldOf(request, path.slice(1) || context, false), message };
  });
}

const describe = (errors: readonly FieldError[]): string => errors.map((e) => `${e.field} ${e.message}`).join("; ");

function appErrorProblem(request: FastifyRequest, error: AppError): Problem {
  const parameters = request.routeOptions.config.restParameters ?? [];
  const errors = (error.details.fieldViolations ?? []).map((v) => ({
    field: parameters.includes(v.field) ? v.field : fieldOf(request, v.field, true),
    message: v.description,
  }));
  const unservable = error.code === "DATA_LOSS" && error.details.reason === UNSERVABLE_RECORD;
  return problemOf(error.code, errors.length > 0 ? describe(errors) : error.message, {
    errors,
    ...(unservable ? { outcome: httpOutcomes.unservableRecord } : {}),
    ...where(request),
  });
}

const where = (request: FastifyRequest) => ({ instance: request.url.split("?")[0] ?? "/", requestId: request.id });

/** Fastify's own 4xx errors: the status they carry, with a detail that never echoes internals. */
function fastifyProblem(request: FastifyRequest, error: FastifyError): Problem | undefined {
  const validation = (error as { validation?: readonly AjvError[]; validationContext?: string }).validation;
  if (validation) {
    const context = (error as { validationContext?: string }).validationContext ?? "body";
    const errors = validationErrors(request, validation, context);
    return problemOf("INVALID_ARGUMENT", describe(errors), { errors, ...where(request) });
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problemOf("INVALID_ARGUMENT", `the body exceeds ${request.routeOptions.bodyLimit} bytes`, {
        outcome: httpOutcomes.payloadTooLarge,
        ...where(request),
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return unsupportedMediaType(request);
  }
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const code: Code = status === 404 ? "NOT_FOUND" : "INVALID_ARGUMENT";
  const title = STATUS_CODES[status] ?? "Bad request";
  return problemOf(code, `the request is invalid (${title.toLowerCase()})`, {
    outcome: { status, type: "about:blank", title },
    ...where(request),
  });
}

export function unsupportedMediaType(request: FastifyRequest): Problem {
  const contentType = request.headers["content-type"] ?? "(none)";
  return problemOf("INVALID_ARGUMENT", `content type ${contentType} is not accepted`, {
    outcome: httpOutcomes.unsupportedMediaType,
    ...where(request),
  });
}

/** 405 for a method the contract does not declare on a path it declares; `allow` is the Allow header's list. */
export function methodNotAllowed(request: FastifyRequest, allow: readonly string[]): Problem {
  return problemOf("UNIMPLEMENTED", `${request.method} is not allowed here; allowed: ${allow.join(", ")}`, {
    outcome: httpOutcomes.methodNotAllowed,
    ...where(request),
  });
}

export function problemErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let problem: Problem | undefined;
  if (isAppError(error)) {
    problem = appErrorProblem(request, error);
    if (problem.status >= 500) request.log.warn({ code: error.code }, error.message);
  } else if (error instanceof Error) {
    problem = fastifyProblem(request, error as FastifyError);
  }
  if (!problem) {
    request.log.error({ err: error }, "unexpected error");
    problem = problemOf("INTERNAL", "", where(request));
  }
  return sendProblem(reply, problem);
}

export function problemNotFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    problemOf("NOT_FOUND", `no route for ${request.method} ${where(request).instance}`, where(request)),
  );
}
