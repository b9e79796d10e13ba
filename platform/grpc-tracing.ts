/**
 * Spans for the platform's own gRPC calls, made where the calls are made — the server side in grpc-handlers.ts'
 * unaryAdapter, the client side in the gateway's unary caller — rather than by @opentelemetry/instrumentation-grpc,
 * which patched every client method and server handler: it bound each call's event emitters to the span's context
 * (a wrapper around every listener), wrapped callbacks with shimmer, and computed its attributes whatever the
 * sampler decided. Here a call costs one span, attributes only when it is recorded, and one context entry.
 *
 * Names and attributes are the instrumentation's: `grpc.<package.Service>/<Method>`, kind CLIENT or SERVER,
 * `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, and an error status for a failed call. W3C trace
 * context rides in the call's metadata (`traceparent`, `tracestate`): injected by the client, continued by the
 * server. Calls the platform does not make through these adapters (etcd's, health checks) are not traced, as
 * before. With tracing off (OTEL_SDK_DISABLED=true) the API's no-op tracer and propagator make none of it.
 */
import type { Metadata } from "@grpc/grpc-js";
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

const tracer = trace.getTracer("charter-grpc");

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const value = carrier.get(key)[0];
    return typeof value === "string" ? value : undefined;
  },
};

const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** A started call's span: `end` with the call's gRPC status code (0 is OK). */
export interface CallSpan {
  /** The span's context: what the call's work runs in (server) or was started from (client). */
  readonly context: Context;
  end(statusCode: number): void;
}

/** `/charter.users.v1.UsersService/GetUser` → its service and method. */
function split(path: string): { service: string; method: string } {
  const slash = path.lastIndexOf("/");
  return { service: path.slice(path.startsWith("/") ? 1 : 0, slash), method: path.slice(slash + 1) };
}

function start(path: string, kind: SpanKind, parent: Context): CallSpan {
  const { service, method } = split(path);
  const span: Span = tracer.startSpan(`grpc.${service}/${method}`, { kind }, parent);
  if (span.isRecording()) {
    const attributes: Attributes = { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method };
    span.setAttributes(attributes);
  }
  return {
    context: trace.setSpan(parent, span),
    end(statusCode) {
      if (span.isRecording()) {
        span.setAttribute("rpc.grpc.status_code", statusCode);
        if (statusCode !== 0) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

/**
 * The span of a call this process makes to `path` (the method's `/package.Service/Method`), a child of the active
 * context; its trace context is written into `metadata`.
 */
export function startClientCall(path: string, metadata: Metadata): CallSpan {
  const call = start(path, SpanKind.CLIENT, context.active());
  propagation.inject(call.context, metadata, metadataSetter);
  return call;
}

/** The span of a call this process serves, continuing the caller's trace from the call's metadata. */
export function startServerCall(path: string, metadata: Metadata): CallSpan {
  return start(path, SpanKind.SERVER, propagation.extract(ROOT_CONTEXT, metadata, metadataGetter));
}
