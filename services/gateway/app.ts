/**
 * The HTTP gateway as a Fastify instance, not listening (main.ts listens; tests use port 0):
 * request ids, the request budget, CORS, the REST API from the contract, /openapi.json and /docs, health, metrics,
 * and the extra plugins main.ts passes (GraphQL). Every error and unknown route is a problem document.
 */

import cors from "@fastify/cors";
import swagger, { type StaticDocumentSpec } from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { propagation, trace } from "@opentelemetry/api";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Histogram, type Registry } from "prom-client";
import type { Logger } from "../../platform/logging.js";
import { AUDIT_SERVICE } from "./adapters/audit-backend.js";
import type { InstancesReport } from "./adapters/users-discovery.js";
import type { AuditBackend, UsersBackend } from "./app/backends.js";
import {
  authFailureOf,
  enforce,
  type GatewayAuth,
  identify,
  principalOf,
  tokenEndpointOf,
  withTokenUrl,
} from "./transport/auth.js";
import { endRequestSpan, registerHttpTracing, requestContext, requestSpan } from "./transport/http-tracing.js";
import { type Budget, type RateLimitOptions, registerRateLimit } from "./transport/rate-limit.js";
import { requestIdOf } from "./transport/request-id.js";
import { problemErrorHandler, problemNotFoundHandler } from "./transport/rest/error-handler.js";
import { type OpenApiDocument, operationsOf } from "./transport/rest/openapi-document.js";
import { problemOf, sendProblem } from "./transport/rest/problem.js";
import { methodCheck, registerRest } from "./transport/rest/register-rest.js";
import { registerTranscodedRest, type TranscodedDocument } from "./transport/rest/transcoded-rest.js";
import { registerSecurityHeaders } from "./transport/security-headers.js";

export interface GatewayPluginDeps {
  readonly users: UsersBackend;
  readonly audit: AuditBackend;
  /** Whether interactive docs (Swagger UI, GraphiQL) are on. */
  readonly docs: boolean;
  /** The request budget, when the gateway has one: GraphQL draws the cost of each operation from it. */
  readonly budget?: Budget;
  /** Every other service's contract and backend (GraphQL merges their schemas). */
  readonly transcoded: readonly TranscodedDocument[];
}

/** A plugin serve.ts adds to the gateway, e.g. GraphQL: `(app, { users, audit, docs }) => registerGraphql(app, { users, audit, graphiql: docs })`. */
export type GatewayPlugin = (app: FastifyInstance, deps: GatewayPluginDeps) => Promise<void> | void;

export interface GatewayOptions {
  readonly users: UsersBackend;
  /** The audit service (users' history): its health is listed by /readyz, but does not decide readiness. */
  readonly audit: AuditBackend;
  /** The parsed REST contract (loadOpenApiDocument()). */
  readonly document: OpenApiDocument;
  readonly logger: Logger;
  /**
   * Bearer tokens (transport/auth.ts): every API operation needs a valid token with its contract's scopes; the
   * served contract's tokenUrl is the issuer's token endpoint.
   */
  readonly auth: GatewayAuth;
  /** Largest request body, in bytes. */
  readonly bodyLimit: number;
  /** Origins allowed by CORS; empty turns CORS off, ["*"] allows any origin. */
  readonly corsOrigins: readonly string[];
  /** Serve Swagger UI at /docs. */
  readonly docs: boolean;
  /**
   * The request budget per client (transport/rate-limit.ts): health, readiness, metrics, the contract and the docs
   * are exempt. Absent: no limit (in-process tests).
   */
  readonly rateLimit?: Omit<RateLimitOptions, "logger">;
  /**
   * Proxies (addresses or CIDRs) whose X-Forwarded-For is believed: the client address, which the budget is kept
   * by, is then the first hop none of them is. Empty: the socket's peer.
   */
  readonly trustedProxies?: readonly string[];
  /**
   * Users instances discovered in etcd: /readyz lists them with their health and is 503 only when none is usable
   * (none registered, or none answers SERVING).
   */
  readonly discovery?: { report(deadlineMs: number): Promise<InstancesReport> };
  /** When given, request durations are recorded in it and served at /metrics. */
  readonly metrics?: Registry;
  readonly plugins?: readonly GatewayPlugin[];
  /** Every other service's REST contract, transcoded to its gRPC backend (transport/rest/transcoded-rest.ts). */
  readonly transcoded?: readonly TranscodedDocument[];
}

/** The matched route's template as the contract writes it (an escaped `::` is one colon); "unmatched" for a 404 on no route. */
const routeOf = (request: FastifyRequest): string => request.routeOptions.url?.replaceAll("::", ":") ?? "unmatched";
/** The caller on a request's log line: its token's subject, or why its token was refused; never the token. */
function callerOf(request: FastifyRequest): { subject?: string; auth_failure?: string } {
  const subject = principalOf(request)?.subject;
  if (subject !== undefined) return { subject };
  const failure = authFailureOf(request);
  return failure === undefined ? {} : { auth_failure: failure };
}

/** The router's maxParamLength: a longer path segment is refused before routing. */
const MAX_PARAM_LENGTH = 100;
/** A reply's time so far; 0 where Fastify did not time it (a response made before routing). */
const elapsedMs = (reply: FastifyReply): number => (Number.isFinite(reply.elapsedTime) ? reply.elapsedTime : 0);

const SERVICE_HEALTH = "charter.users.v1.UsersService";
const AUDIT_HEALTH = AUDIT_SERVICE;
const HEALTH_ENTRIES = [`${SERVICE_HEALTH}/store`, `${SERVICE_HEALTH}/cache`];
const READY_DEADLINE_MS = 1_000;

export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const transcoded = options.transcoded ?? [];
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    requestIdHeader: false,
    requestIdLogLabel: "requestId",
    genReqId: (req) => requestIdOf(req.headers["x-request-id"]),
    // One line per request instead of Fastify's two, written in onResponse below.
    disableRequestLogging: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...(options.trustedProxies?.length ? { trustProxy: [...options.trustedProxies] } : {}),
    // A path Fastify cannot route (bad percent-encoding, a segment over maxParamLength) never reaches a route or
    // its hooks: it is answered here, with what the hooks give every other response.
    frameworkErrors: (error, request, reply) => {
      tagResponse(request, reply);
      reply.raw.once("finish", () => finishResponse(request, reply));
      const detail =
        error.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters`
          : "the path is not valid percent-encoding";
      const instance = request.url.split("?")[0] ?? "/";
      return sendProblem(reply, problemOf("INVALID_ARGUMENT", detail, { instance, requestId: request.id }));
    },
  });
  const finishers: ((request: FastifyRequest, reply: FastifyReply) => void)[] = [];
  /** What every response carries: its request id and its traceparent (of the server span, named by route). */
  function tagResponse(request: FastifyRequest, reply: FastifyReply): void {
    reply.header("x-request-id", request.id);
    const carrier: Record<string, string> = {};
    propagation.inject(requestContext(request), carrier);
    if (carrier.traceparent) reply.header("traceparent", carrier.traceparent);
  }
  /** What every finished response leaves: one log line, and the request metric when metrics are on. */
  function finishResponse(request: FastifyRequest, reply: FastifyReply): void {
    for (const finish of finishers) finish(request, reply);
    endRequestSpan(request, reply.statusCode);
  }

  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler(problemNotFoundHandler);
  registerHttpTracing(app);
  app.addHook("onRequest", async (request, reply) => tagResponse(request, reply));
  app.addHook("onResponse", async (request, reply) => finishResponse(request, reply));
  finishers.push((request, reply) => {
    const span = requestSpan(request)?.spanContext();
    const traced =
      span === undefined || !trace.isSpanContextValid(span) ? {} : { trace_id: span.traceId, span_id: span.spanId };
    request.log.info(
      {
        ...traced,
        method: request.method,
        route: routeOf(request),
        status: reply.statusCode,
        ...callerOf(request),
        duration_ms: Math.round(elapsedMs(reply) * 100) / 100,
      },
      "request",
    );
  });

  // Before every route and plugin, so that each one is covered: security headers, the caller (its budget is
  // kept by its subject), the budget, then the refusal of a request without a valid token or its scope.
  await registerSecurityHeaders(app, options.auth.issuer);
  app.addHook("onRequest", identify(options.auth.verifier));
  const budget = options.rateLimit
    ? await registerRateLimit(app, { ...options.rateLimit, logger: options.logger })
    : undefined;
  app.addHook("onRequest", enforce());
  /** Routes that never draw on the budget: probes, metrics, the contract, the docs. */
  const exempt = { config: { budget: "exempt" as const } };

  if (options.metrics) {
    const duration = new Histogram({
      name: "charter_gateway_http_request_duration_seconds",
      help: "HTTP request duration by method, route template and status.",
      labelNames: ["method", "route", "status"] as const,
      registers: [options.metrics],
    });
    finishers.push((request, reply) => {
      duration.observe(
        { method: request.method, route: routeOf(request), status: String(reply.statusCode) },
        elapsedMs(reply) / 1000,
      );
    });
    const registry = options.metrics;
    app.get("/metrics", { schema: { hide: true }, ...exempt }, async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    );
  }

  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: options.corsOrigins.includes("*") ? "*" : [...options.corsOrigins],
      methods: ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
      exposedHeaders: ["ETag", "Location", "Retry-After", "RateLimit", "RateLimit-Policy", "x-request-id"],
      // A plain OPTIONS (no Origin or Access-Control-Request-Method) is answered like a preflight, 204, instead
      // of the plugin's text/plain 400: no error leaves the gateway outside the problem+json format.
      strictPreflight: false,
    });
  }

  // The contracts as served name the configured issuer's token endpoint (discovered once) as their tokenUrl: one
  // document per service, the users document at /openapi.json and each other service's at /openapi/<name>.json.
  const tokenEndpoint = tokenEndpointOf(options.auth.issuer);
  let tokenUrl = `${options.auth.issuer.replace(/\/$/, "")}/token`;
  const contracts = [
    { name: "users", url: "/openapi.json", document: options.document },
    ...transcoded.map(({ name, document }) => ({ name, url: `/openapi/${name}.json`, document })),
  ];
  for (const { url, document } of contracts) {
    let contract: { tokenUrl: string; text: string } | undefined;
    app.get(url, exempt, async (_request, reply) => {
      tokenUrl = await tokenEndpoint();
      if (contract?.tokenUrl !== tokenUrl) {
        contract = { tokenUrl, text: JSON.stringify(withTokenUrl(document, tokenUrl)) };
      }
      return reply.type("application/json").send(contract.text);
    });
  }

  if (options.docs) {
    // The document is served as loaded; its 3.1 shape is wider than the plugin's OpenAPI 2/3.0 types.
    const document = structuredClone(options.document) as unknown as StaticDocumentSpec["document"];
    await app.register(swagger, { mode: "static", specification: { document } });
    await app.register(async (scope) => {
      // Every route of Swagger UI (the page, its assets, its copy of the document) is documentation: exempt from the
      // budget, with the documentation pages' policy. No third-party validator badge (it would load an image from
      // validator.swagger.io).
      scope.addHook("onRoute", (route) => {
        route.config = { ...route.config, budget: "exempt", helmet: app.docsHelmet };
      });
      // Swagger UI's copy names the issuer's token endpoint too (its "Authorize" asks it for tokens).
      scope.addHook("onRequest", async () => {
        tokenUrl = await tokenEndpoint();
      });
      await scope.register(swaggerUi, {
        routePrefix: "/docs",
        // With other services, the documents are listed in Swagger UI's top bar, users' first: each is fetched
        // from its own route above (the gateway serves its API at its root, as the documents' `servers` say).
        uiConfig: {
          validatorUrl: null,
          ...(transcoded.length === 0
            ? {}
            : { urls: contracts.map(({ name, url }) => ({ name, url })), "urls.primaryName": "users" }),
        },
        transformSpecification: (spec) => withTokenUrl(spec, tokenUrl),
      });
    });
  }

  app.get("/healthz", exempt, async () => ({ status: "ok" }));
  app.get("/readyz", exempt, async (_request, reply) => {
    const [discovered, audit, overall, ...entries] = await Promise.all([
      options.discovery?.report(READY_DEADLINE_MS),
      options.audit.health(AUDIT_HEALTH, READY_DEADLINE_MS),
      ...["", ...HEALTH_ENTRIES].map((service) => options.users.health(service, READY_DEADLINE_MS)),
    ]);
    // Users decide readiness; the audit service only serves history, so its state is listed, not required.
    const checks = {
      ...Object.fromEntries(HEALTH_ENTRIES.map((name, i) => [name, entries[i] ?? "UNKNOWN"])),
      [AUDIT_HEALTH]: audit,
    };
    if (discovered) {
      // With discovery, the instances decide: one that answers SERVING is enough.
      const instances = discovered.instances;
      const list = { instances, discovery: { synced: discovered.synced, watching: discovered.watching } };
      if (instances.some((instance) => instance.health === "SERVING")) {
        return { status: "ready", users: "SERVING", checks, ...list };
      }
      const detail = !discovered.synced
        ? "users instances are not discovered yet (etcd has not answered)"
        : instances.length === 0
          ? "no users instance is registered"
          : "no users instance answers";
      const problem = { ...problemOf("UNAVAILABLE", detail, { instance: "/readyz" }), users: overall, checks, ...list };
      return sendProblem(reply, problem);
    }
    if (overall === "SERVING") return { status: "ready", users: overall, checks };
    const detail =
      overall === "UNREACHABLE" ? "no users instance answers" : `the users service reports ${overall ?? "UNKNOWN"}`;
    const problem = { ...problemOf("UNAVAILABLE", detail, { instance: "/readyz" }), users: overall, checks };
    return sendProblem(reply, problem);
  });

  // On the root, not in a document's scope: a method no route has reaches only the root's not-found handler.
  app.addHook("onRequest", methodCheck([options.document, ...transcoded.map((t) => t.document)].flatMap(operationsOf)));
  await registerRest(app, {
    document: options.document,
    users: options.users,
    audit: options.audit,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  await registerTranscodedRest(app, options.document, transcoded);

  for (const plugin of options.plugins ?? []) {
    await plugin(app, {
      users: options.users,
      audit: options.audit,
      docs: options.docs,
      ...(budget ? { budget } : {}),
      transcoded,
    });
  }
  return app;
}
