/**
 * The REST API as a Fastify plugin built from the contract: one route per operation, bound to
 * its handler by operationId, with the contract's media types, parameter and body validation
 * and response schemas. Parsers, compilers and hooks stay inside this plugin's scope.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, type Registry } from "prom-client";
import { AppError } from "../../../../platform/errors.js";
import { firstNonUnicodeText, NOT_UNICODE } from "../../../../platform/rules/field-rules.js";
import type { AuditBackend, UsersBackend } from "../../app/backends.js";
import { type ContractSchemas, createContractSchemas } from "./contract-schemas.js";
import {
  methodNotAllowed,
  problemErrorHandler,
  problemNotFoundHandler,
  unsupportedMediaType,
} from "./error-handler.js";
import { createHistoryHandlers } from "./history-handlers.js";
import type { OpenApiDocument, Operation } from "./openapi-document.js";
import { operationsOf } from "./openapi-document.js";
import type { BoundHandler, OperationHandlers, OperationId } from "./operation-types.js";
import { problemOf, sendProblem } from "./problem.js";
import { createStatsHandlers } from "./stats-handlers.js";
import { createUsersHandlers, type UnservableRecord } from "./users-handlers.js";

export interface RestOptions {
  readonly document: OpenApiDocument;
  readonly users: UsersBackend;
  readonly audit: AuditBackend;
  /** Where charter_gateway_unservable_records_total is counted, when metrics are on. */
  readonly metrics?: Registry;
}

const mediaTypeOf = (header: string | undefined): string | undefined =>
  header?.split(";", 1)[0]?.trim().toLowerCase() || undefined;

/** application/json and any +json type: the only bodies this API has. */
const isJson = (mediaType: string): boolean => mediaType === "application/json" || mediaType.endsWith("+json");

function parseJson(_request: FastifyRequest, body: string, done: (error: Error | null, body?: unknown) => void): void {
  if (body.trim() === "") {
    done(new AppError("INVALID_ARGUMENT", "the body is empty"));
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    done(new AppError("INVALID_ARGUMENT", "the body is not valid JSON"));
    return;
  }
  const notText = firstNonUnicodeText(parsed);
  if (notText !== undefined) {
    done(
      new AppError("INVALID_ARGUMENT", `${notText} ${NOT_UNICODE}`, {
        fieldViolations: [{ field: notText, description: NOT_UNICODE }],
      }),
    );
    return;
  }
  done(null, parsed);
}

/**
 * A stored user the contract refuses is never sent: counted by operation, and logged with its id and the fields
 * that break the contract (never their values).
 */
function unservableReporter(app: FastifyInstance, metrics: Registry | undefined): (record: UnservableRecord) => void {
  const counter = metrics
    ? new Counter({
        name: "charter_gateway_unservable_records_total",
        help: "Stored users withheld because they no longer fit the REST contract's User, by operation.",
        labelNames: ["operation"] as const,
        registers: [metrics],
      })
    : undefined;
  return ({ operation, id, requestId, violations }) => {
    counter?.inc({ operation });
    app.log.warn(
      { operation, userId: id, requestId, violations: violations.map((v) => `${v.field} ${v.message}`) },
      "stored user does not fit the contract: not served",
    );
  };
}

export async function registerRest(
  app: FastifyInstance,
  { document, users, audit, metrics }: RestOptions,
): Promise<void> {
  const operations = operationsOf(document);
  const byId = new Map(operations.map((op) => [op.id, op]));
  const getUser = byId.get("getUser");
  if (!getUser) throw new Error("the contract has no getUser operation");
  const schemas = createContractSchemas(document);
  // The contract's own User, as getUser answers it: what every user the gateway sends must fit.
  const userSchema = getUser.responses.get("200")?.content.get("application/json");
  if (!userSchema) throw new Error("the contract's getUser has no 200 application/json schema");
  const handlers: OperationHandlers = {
    ...createUsersHandlers({
      users,
      userUrl: (id) => getUser.path.replace("{id}", encodeURIComponent(id)),
      checkUser: schemas.checkerOf(userSchema),
      onUnservable: unservableReporter(app, metrics),
    }),
    ...createHistoryHandlers(audit),
    ...createStatsHandlers(audit),
  };
  const unbound = operations.filter((op) => !(op.id in handlers)).map((op) => op.id);
  const unknown = Object.keys(handlers).filter((id) => !byId.has(id));
  if (unbound.length > 0 || unknown.length > 0) {
    throw new Error(`handlers and contract disagree: no handler for [${unbound}], no operation for [${unknown}]`);
  }

  await registerOperations(app, schemas, operations, (op) => handlers[op.id as OperationId] as unknown as BoundHandler);
}

/**
 * The routes of one contract document's operations, in a scope of their own: the document's validators and
 * serializers, problem documents for every error, its JSON media types, and each operation's handler bound to its
 * validated inputs. The operations' scopes go into each route's config, where transport/auth.ts checks them.
 */
export async function registerOperations(
  app: FastifyInstance,
  schemas: ContractSchemas,
  operations: readonly Operation[],
  handlerOf: (op: Operation) => BoundHandler,
): Promise<void> {
  await app.register(async (scope) => {
    scope.setValidatorCompiler(schemas.validatorCompiler);
    scope.setSerializerCompiler(schemas.serializerCompiler);
    scope.setErrorHandler(problemErrorHandler);
    scope.removeAllContentTypeParsers();
    const mediaTypes = new Set(operations.flatMap((op) => [...(op.requestBody?.content.keys() ?? [])]));
    for (const mediaType of mediaTypes) {
      if (!isJson(mediaType)) throw new Error(`the contract accepts ${mediaType}, which the gateway cannot parse`);
      scope.addContentTypeParser(mediaType, { parseAs: "string" }, parseJson);
    }
    for (const op of operations) {
      scope.route({
        method: op.method as "GET",
        url: op.route,
        schema: schemas.routeSchema(op),
        // The operation's scopes as the contract states them (transport/auth.ts checks them).
        config: { restParameters: op.parameters.map((p) => p.name), auth: { security: op.security } },
        preValidation: bodyCheck(op),
        handler: bind(op, handlerOf(op)),
      });
    }
  });
}

/**
 * A method no served document declares on a path one of them declares is 405 with an Allow header (the declared
 * methods, and HEAD where GET is declared), answered on request, before any body is read or its content type
 * judged. Routing alone cannot say it: find-my-way sends a method no route has (QUERY, TRACE, PUT) to the not-found
 * handler, and Fastify checks a body method's content type before that handler runs. So every request no route
 * took (routeOptions.url unset) is matched here against the path templates of `operations` (every document's: the
 * hook goes on the root, where a method no route has arrives); a path none of them matches is answered the 404
 * problem here, for the same reason. Requests a route took (HEAD of a GET route, CORS preflights on the plugin's
 * OPTIONS route) are not looked at.
 */
export function methodCheck(operations: readonly Operation[]) {
  const byPath = new Map<string, { pattern: RegExp; allow: Set<string> }>();
  for (const op of operations) {
    let entry = byPath.get(op.path);
    if (!entry) {
      const source = op.path
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/]+");
      entry = { pattern: new RegExp(`^${source}$`), allow: new Set() };
      byPath.set(op.path, entry);
    }
    entry.allow.add(op.method);
    if (op.method === "GET") entry.allow.add("HEAD");
  }
  const paths = [...byPath.values()].map(({ pattern, allow }) => ({ pattern, allow: [...allow].sort() }));
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (request.routeOptions.url !== undefined) return undefined;
    const path = request.url.split("?", 1)[0] ?? "/";
    const declared = paths.find((p) => p.pattern.test(path));
    // No route and no declared path: the 404 problem, also answered before any body is judged (QUERY /v2/x).
    if (!declared) return problemNotFoundHandler(request, reply);
    reply.header("allow", declared.allow.join(", "));
    return sendProblem(reply, methodNotAllowed(request, declared.allow));
  };
}

/** A body in a media type this operation does not accept is 415; a missing required body is 400. */
function bodyCheck(op: Operation) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const mediaType = mediaTypeOf(request.headers["content-type"]);
    if (request.body === undefined) {
      if (op.requestBody?.required) {
        const errors = [{ field: "/", message: "a JSON body is required" }];
        const problem = problemOf("INVALID_ARGUMENT", "the request has no body", {
          errors,
          instance: request.url.split("?")[0] ?? "/",
          requestId: request.id,
        });
        await sendProblem(reply, problem);
      }
      return;
    }
    if (!op.requestBody || mediaType === undefined || !op.requestBody.content.has(mediaType)) {
      await sendProblem(reply, unsupportedMediaType(request));
    }
  };
}

/** Calls the handler with the validated inputs and writes its result in the documented media type. */
function bind(op: Operation, handler: BoundHandler) {
  const headerParameters = op.parameters.filter((p) => p.in === "header").map((p) => p.name);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const header: Record<string, string> = {};
    for (const name of headerParameters) {
      const value = request.headers[name.toLowerCase()];
      if (value !== undefined) header[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const result = await handler({
      path: request.params,
      query: request.query,
      header,
      body: request.body,
      // The caller's token goes on to the services, which check it themselves.
      context: {
        requestId: request.id,
        ...(request.headers.authorization === undefined ? {} : { authorization: request.headers.authorization }),
      },
    });
    reply.code(result.status);
    for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
    if (result.body === undefined) return reply.send();
    const mediaType = op.responses.get(String(result.status))?.content.keys().next().value ?? "application/json";
    return reply.type(mediaType).send(result.body);
  };
}
