/**
 * The gateway's HTTP server span, made from Fastify's hooks rather than by patching node:http
 * (@opentelemetry/instrumentation-http). The patch computed a dozen attributes for every request before the sampler
 * had decided anything, and bound the request's and response's event emitters to the span's context (a wrapper for
 * every listener); here a span is started once the route is known — named `<METHOD> <route template>`, a caller's
 * `traceparent` continued — with its attributes only when it is recorded (scrapes and probes get none), and its context is entered where the
 * request's work runs: from the first onRequest hook on (the budget, the routes' hooks and handlers, and what they
 * call: gRPC, Redis, GraphQL), and again once a body has been read (Fastify reads it in the socket's callbacks,
 * outside any request's context).
 *
 * The span ends when the response is finished (endRequestSpan, from the gateway's finishResponse), with the status
 * code, and as an error for a 5xx. A request no route takes (a path the router refuses) gets its span from
 * requestContext() in the gateway's frameworkErrors handler, so that it too carries a traceparent. With tracing
 * off (OTEL_SDK_DISABLED=true) the API's no-op tracer makes invalid spans and no traceparent is written.
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";

const tracer = trace.getTracer("charter-gateway-http");

interface RequestTrace {
  /** None for the untraced scrapes and probes. */
  readonly span: Span | undefined;
  readonly context: Context;
}

/** Scrapes and probes are not traced: they would bury the requests (and answer without a traceparent). */
const UNTRACED_PATHS = new Set(["/metrics", "/healthz", "/readyz"]);
const UNTRACED: RequestTrace = { span: undefined, context: ROOT_CONTEXT };

const traces = new WeakMap<FastifyRequest, RequestTrace>();

/** The matched route's template as the contract writes it (an escaped `::` is one colon); "unmatched" for no route. */
const routeOf = (request: FastifyRequest): string => request.routeOptions.url?.replaceAll("::", ":") ?? "unmatched";

/** The span's attributes, in OpenTelemetry's stable HTTP semantic conventions (only for a recorded span). */
function requestAttributes(request: FastifyRequest, route: string): Attributes {
  const userAgent = request.headers["user-agent"];
  return {
    "http.request.method": request.method,
    "http.route": route,
    "url.path": request.url.split("?", 1)[0] ?? "/",
    "url.scheme": request.protocol,
    "network.protocol.version": request.raw.httpVersion,
    "client.address": request.ip,
    ...(userAgent === undefined ? {} : { "user_agent.original": userAgent }),
  };
}

/**
 * The request's trace context (its server span in the caller's trace, or a new trace), started on first use: from
 * the onRequest hook, or from a handler that answers before the hooks run.
 */
export function requestContext(request: FastifyRequest): Context {
  let found = traces.get(request);
  if (found === undefined && UNTRACED_PATHS.has(request.url.split("?", 1)[0] ?? "")) found = UNTRACED;
  if (found === undefined) {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = routeOf(request);
    const span = tracer.startSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(requestAttributes(request, route));
    found = { span, context: trace.setSpan(parent, span) };
    traces.set(request, found);
  }
  return found.context;
}

/** The request's server span, once started. */
export const requestSpan = (request: FastifyRequest): Span | undefined => traces.get(request)?.span;

/** Ends the request's span with the response's status code (a 5xx is an error). */
export function endRequestSpan(request: FastifyRequest, statusCode: number): void {
  const span = traces.get(request)?.span;
  if (span === undefined) return;
  traces.delete(request);
  if (span.isRecording()) {
    span.setAttribute("http.response.status_code", statusCode);
    if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Starts each request's span and runs the rest of its hooks and its handler in the span's context. Register it
 * before any other hook, so that everything the request does is in its trace.
 */
export function registerHttpTracing(app: FastifyInstance): void {
  app.addHook("onRequest", (request, _reply, done) => {
    context.with(requestContext(request), done);
  });
  // A body is read in the socket's callbacks, which run outside the request's context: enter it again.
  app.addHook("preValidation", (request, _reply, done) => {
    context.with(requestContext(request), done);
  });
}
