/**
 * OpenTelemetry tracing for a service process. startTracing() must run before the modules it instruments are
 * imported (a service's main.ts calls it, then imports the rest dynamically): it registers the ESM loader hook
 * that lets instrumentations patch modules imported with `import`, then starts the Node SDK with spans for MongoDB
 * and Redis commands and GraphQL resolvers. Neither node:http nor grpc-js is patched: the one traced HTTP server,
 * the gateway, makes its server spans from Fastify's hooks (services/gateway/transport/http-tracing.ts), the
 * platform's gRPC servers and the gateway's gRPC clients make theirs where they handle and make calls
 * (platform/grpc-tracing.ts), and no service's outgoing HTTP (the OTLP exporter's own) is traced.
 *
 * Context propagation (W3C traceparent/tracestate) is always on, so every request has real trace ids and a
 * caller's trace continues across the hops. Which traces are recorded is the sampler's choice (tracesSampler()):
 * by default parentbased_traceidratio at DEFAULT_SAMPLE_RATIO — a caller's sampling decision is followed, and a
 * trace that starts here is recorded for that share of the trace ids; an unsampled request still carries its
 * traceparent (flags 00) downstream and back to its caller, and its log lines still name the trace.
 * OTEL_TRACES_SAMPLER=parentbased_always_on records every trace. Spans are exported only when an exporter is
 * configured: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER) set; the
 * SDK then reads the other standard OTEL_* variables (protocol, headers, batch sizes and delays, resource
 * attributes, service name). OTEL_SDK_DISABLED=true turns all of it off (no spans, no traceparent).
 */
import { register } from "node:module";
import type { Sampler, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ConfigError } from "./config.js";

export interface Tracing {
  /** False when OTEL_SDK_DISABLED=true. */
  readonly enabled: boolean;
  /** Whether finished spans leave the process (an exporter is configured). */
  readonly exporting: boolean;
  /** Flushes pending spans and stops the SDK. */
  shutdown(): Promise<void>;
}

const isTrue = (value: string | undefined) => value?.trim().toLowerCase() === "true";

/** Whether OTEL_SDK_DISABLED=true turns tracing off altogether. */
export function tracingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTrue(env.OTEL_SDK_DISABLED);
}

/** The span exporters the Node SDK builds from OTEL_TRACES_EXPORTER. */
const KNOWN_EXPORTERS = ["otlp", "zipkin", "console"];

/**
 * Whether the standard variables ask for spans to be exported, read as the Node SDK reads them: a list in
 * OTEL_TRACES_EXPORTER ("none" alone turns export off; "none" beside others means otlp), else an OTLP endpoint.
 * A list that names no exporter the SDK has would leave the SDK with no tracer at all (no spans, no
 * traceparent): it is reported, and spans stay in the process.
 */
export function exportConfigured(
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => {
    process.stderr.write(line);
  },
): boolean {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && name !== "null");
  if (exporters.length === 0) return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (exporters.length === 1 && exporters[0] === "none") return false;
  if (exporters.includes("none") || exporters.some((name) => KNOWN_EXPORTERS.includes(name))) return true;
  warn(
    `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER} names no exporter this SDK has (${KNOWN_EXPORTERS.join(", ")}): ` +
      "spans are not exported\n",
  );
  return false;
}

/**
 * Whether the environment names the service (OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES);
 * the SDK reads both itself, and the service's own name is only the default.
 */
export function serviceNameFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SERVICE_NAME?.trim()) return true;
  return (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",").some((pair) => pair.split("=")[0]?.trim() === "service.name");
}

/** The samplers OTEL_TRACES_SAMPLER may name (the specification's built-in ones). */
export const SAMPLERS = [
  "parentbased_traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "traceidratio",
  "always_on",
  "always_off",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** Charter's default sampler: a caller's decision is followed; a trace that starts here is sampled by its id. */
export const DEFAULT_SAMPLER: SamplerName = "parentbased_traceidratio";
/** The share of the traces that start in a service that the default sampler records (OTEL_TRACES_SAMPLER_ARG). */
export const DEFAULT_SAMPLE_RATIO = 0.1;

export interface SamplerConfig {
  readonly name: SamplerName;
  /** The ratio of the *traceidratio samplers; 1 for the others. */
  readonly ratio: number;
}

/**
 * The sampler the standard variables ask for, with Charter's defaults: OTEL_TRACES_SAMPLER (default
 * parentbased_traceidratio) and, for the ratio samplers, OTEL_TRACES_SAMPLER_ARG (a number from 0 to 1, default
 * DEFAULT_SAMPLE_RATIO). A sampler name or ratio the SDK would not understand stops the service at start.
 */
export function tracesSampler(env: NodeJS.ProcessEnv = process.env): SamplerConfig {
  const raw = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || DEFAULT_SAMPLER;
  const name = SAMPLERS.find((sampler) => sampler === raw);
  if (name === undefined) {
    throw new ConfigError(
      `OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(", ")}, got "${env.OTEL_TRACES_SAMPLER}"`,
    );
  }
  if (!name.endsWith("traceidratio")) return { name, ratio: 1 };
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (arg === undefined || arg === "") return { name, ratio: DEFAULT_SAMPLE_RATIO };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "${arg}"`);
  }
  return { name, ratio };
}

/** The SDK's sampler for a configuration. */
async function samplerOf({ name, ratio }: SamplerConfig): Promise<Sampler> {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = await import(
    "@opentelemetry/sdk-trace-base"
  );
  const root = name.endsWith("always_off")
    ? new AlwaysOffSampler()
    : name.endsWith("traceidratio")
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler();
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

/** Keeps spans recording (ids, parents, propagation) without sending them anywhere. */
const keepOnly: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

let started: Promise<Tracing> | undefined;

/** Starts tracing once per process; `service` is the service.name unless the environment names one. */
export function startTracing(service: string): Promise<Tracing> {
  started ??= start(service);
  return started;
}

async function start(service: string): Promise<Tracing> {
  if (tracingDisabled()) {
    return { enabled: false, exporting: false, shutdown: () => Promise.resolve() };
  }
  let sampling: SamplerConfig;
  try {
    sampling = tracesSampler();
  } catch (error) {
    // As runMain (platform/lifecycle.ts) reports bad configuration: one line naming the variable, exit 1.
    process.stderr.write(`${service}: configuration error: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const sampler = await samplerOf(sampling);
  const { createAddHookMessageChannel } = await import("import-in-the-middle");
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);

  const [{ NodeSDK }, mongodb, ioredis, graphql] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/instrumentation-mongodb"),
    import("@opentelemetry/instrumentation-ioredis"),
    import("@opentelemetry/instrumentation-graphql"),
  ]);
  const exporting = exportConfigured();
  const sdk = new NodeSDK({
    ...(serviceNameFromEnv() ? {} : { serviceName: service }),
    sampler,
    // Exporters come from the OTEL_* variables when one is configured; otherwise spans stay in the process.
    ...(exporting ? {} : { spanProcessors: [keepOnly] }),
    metricReaders: [], // metrics are prom-client's, on /metrics
    logRecordProcessors: [], // logs are pino's, on stdout
    instrumentations: [
      new mongodb.MongoDBInstrumentation({ requireParentSpan: true }),
      new ioredis.IORedisInstrumentation({ requireParentSpan: true }),
      new graphql.GraphQLInstrumentation({ mergeItems: true, ignoreTrivialResolveSpans: true, depth: 4 }),
    ],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
  return { enabled: true, exporting, shutdown: () => sdk.shutdown() };
}
