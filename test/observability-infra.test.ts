/**
 * Jaeger and OpenSearch as scripts/infra provisions and starts them, fed by the real services.
 * Jaeger: the users service exports over OTLP/gRPC and the gateway over OTLP/HTTP, each with the project's own
 * tracing setup (platform/tracing.ts, configured only by the standard OTEL_* variables, the sampler set explicitly);
 * one REST request is then one trace in Jaeger's query API, the users service's gRPC span under the gateway's route.
 * OpenSearch: the log lines both services printed for that request (pino JSON, as on their stdout) are bulk-indexed
 * into a daily index with explicit mappings, found again by the trace id, and aggregated per service.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  OPENSEARCH_USER,
  type RunningJaeger,
  type RunningOpenSearch,
  startJaeger,
  startOpenSearch,
} from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { GATEWAY_ENTRY, USERS_ENTRY } from "../scripts/lib/start-platform.js";

const TRACE_DEADLINE_MS = 15_000;

let jaeger: RunningJaeger;
let search: RunningOpenSearch;
let users: ServiceProcess;
let gateway: ServiceProcess;
let baseUrl: string;

/** The standard variables a deployment sets to send a service's spans to Jaeger. */
const tracingEnv = (protocol: "grpc" | "http/protobuf", endpoint: string): Record<string, string> => ({
  OTEL_TRACES_EXPORTER: "otlp",
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_TRACES_SAMPLER: "parentbased_always_on",
  OTEL_BSP_SCHEDULE_DELAY: "50",
});

async function startServices(): Promise<void> {
  jaeger = await startJaeger();
  users = await startService(
    USERS_ENTRY,
    {
      USERS_HOST: "127.0.0.1",
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      ...tracingEnv("grpc", `http://${jaeger.otlpGrpcAddress}`),
    },
    "users service ready",
    60_000,
  );
  gateway = await startService(
    GATEWAY_ENTRY,
    {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: "0",
      USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
      ...tracingEnv("http/protobuf", jaeger.otlpHttpUrl),
    },
    "gateway ready",
    60_000,
  );
  baseUrl = `http://127.0.0.1:${gateway.ready.port}`;
}

before(async () => {
  const started = await Promise.allSettled([
    startServices(),
    startOpenSearch().then((server) => {
      search = server;
    }),
  ]);
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed.length > 0) throw new Error(failed.map((f) => String(f.reason)).join("\n"));
});

after(async () => {
  await gateway?.stop();
  await users?.stop();
  await Promise.all([jaeger?.stop(), search?.stop()]);
});

/** One request through the gateway: a create, which calls the users service over gRPC. */
let request: Promise<{ traceId: string; requestId: string }> | undefined;
const createUser = () => {
  request ??= (async () => {
    const response = await fetch(`${baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Traced", email: `traced-${randomUUID()}@example.com` }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(response.headers.get("traceparent") ?? "");
    assert.ok(match, `a sampled W3C traceparent, got ${response.headers.get("traceparent")}`);
    return { traceId: match[1] as string, requestId: response.headers.get("x-request-id") ?? "" };
  })();
  return request;
};

interface JaegerSpan {
  readonly spanID: string;
  readonly operationName: string;
  readonly references: { refType: string; spanID: string }[];
  readonly tags: { key: string; value: unknown }[];
  readonly processID: string;
}

interface JaegerTrace {
  readonly traceID: string;
  readonly spans: JaegerSpan[];
  readonly processes: Record<string, { serviceName: string }>;
}

async function jaegerJson<T>(path: string): Promise<T | undefined> {
  const response = await fetch(`${jaeger.queryUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
  return response.ok ? ((await response.json()) as { data: T }).data : undefined;
}

describe("Jaeger, provisioned by scripts/infra", () => {
  test("one REST request is one trace in Jaeger's query API: the users service's gRPC span under the gateway's route", async () => {
    const { traceId } = await createUser();
    // Both services' server spans, the users one over OTLP/gRPC and the gateway's over OTLP/HTTP.
    const serviceOf = (trace: JaegerTrace, span: JaegerSpan) => trace.processes[span.processID]?.serviceName;
    const isServer = (span: JaegerSpan) => span.tags.some((tag) => tag.key === "span.kind" && tag.value === "server");
    const trace = await waitFor(
      `trace ${traceId} with a server span from each service in Jaeger`,
      async () => {
        const [found] = (await jaegerJson<JaegerTrace[]>(`/api/traces/${traceId}`)) ?? [];
        if (!found) return undefined;
        const servers = new Set(found.spans.filter(isServer).map((span) => serviceOf(found, span)));
        // Complete: every span's parent has arrived too (each service exports in its own batches).
        const ids = new Set(found.spans.map((span) => span.spanID));
        const complete = found.spans.every((span) => span.references.every((ref) => ids.has(ref.spanID)));
        return complete && servers.has("gateway") && servers.has("users") ? found : undefined;
      },
      TRACE_DEADLINE_MS,
    );
    assert.equal(trace.traceID, traceId);
    const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
    const parentOf = (span: JaegerSpan) =>
      byId.get(span.references.find((r) => r.refType === "CHILD_OF")?.spanID ?? "");
    const listing = trace.spans.map((s) => `${serviceOf(trace, s)} ${s.operationName} ${s.spanID}`).join("\n");

    const roots = trace.spans.filter((span) => parentOf(span) === undefined);
    assert.equal(roots.length, 1, `one root span:\n${listing}`);
    const root = roots[0] as JaegerSpan;
    assert.equal(serviceOf(trace, root), "gateway");
    assert.equal(root.operationName, "POST /v1/users");

    const usersServer = trace.spans.find((span) => serviceOf(trace, span) === "users" && isServer(span));
    assert.ok(usersServer, `a users server span:\n${listing}`);
    const ancestors: JaegerSpan[] = [];
    for (let parent = parentOf(usersServer); parent; parent = parentOf(parent)) ancestors.push(parent);
    assert.ok(ancestors.includes(root), `the users service's span is under the gateway's route:\n${listing}`);
    // Between them, the gateway's own gRPC client span.
    assert.equal(serviceOf(trace, ancestors[0] as JaegerSpan), "gateway");

    const services = await jaegerJson<string[]>("/api/services");
    assert.deepEqual([...(services ?? [])].sort(), ["gateway", "users"], "the services that sent spans");
  });
});

/** The JSON log lines a service printed (pino, one object a line). */
const logLines = (service: ServiceProcess): Record<string, unknown>[] =>
  service.output.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as unknown;
      return typeof entry === "object" && entry !== null ? [entry as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });

async function searchJson<T>(method: string, path: string, body?: unknown, ndjson = false): Promise<T> {
  const response = await fetch(`${search.url}${path}`, {
    method,
    headers: { "content-type": ndjson ? "application/x-ndjson" : "application/json" },
    ...(body === undefined ? {} : { body: ndjson ? (body as string) : JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The fields the services log, mapped; anything else stays in _source only. */
const LOG_MAPPINGS = {
  dynamic: false,
  properties: {
    time: { type: "date" },
    level: { type: "keyword" },
    service: { type: "keyword" },
    msg: { type: "text", fields: { keyword: { type: "keyword", ignore_above: 256 } } },
    trace_id: { type: "keyword" },
    span_id: { type: "keyword" },
    requestId: { type: "keyword" },
    route: { type: "keyword" },
    rpc: { type: "keyword" },
    method: { type: "keyword" },
    status: { type: "integer" },
    duration_ms: { type: "float" },
  },
};

interface SearchHits {
  hits: { total: { value: number }; hits: { _source: Record<string, unknown> }[] };
  aggregations?: Record<string, { buckets: { key: string; doc_count: number }[] }>;
}

/** The uid of the process whose command line names `dir` and OpenSearch's main class (Linux /proc). */
function openSearchUid(dir: string): number | undefined {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!command.includes(dir) || !command.includes("org.opensearch.bootstrap.OpenSearch")) continue;
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return uid === undefined ? undefined : Number(uid);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

describe("OpenSearch, provisioned by scripts/infra", () => {
  test("runs as a user other than root, with cluster health green", async () => {
    const uid = openSearchUid(search.dataDir);
    assert.notEqual(uid, undefined, "OpenSearch's java process is found");
    assert.notEqual(uid, 0, "OpenSearch does not run as root");
    if (process.getuid?.() === 0) {
      const expected = Number(
        readFileSync("/etc/passwd", "utf8").match(new RegExp(`^${OPENSEARCH_USER}:[^:]*:(\\d+):`, "m"))?.[1],
      );
      assert.equal(uid, expected, `run as root, it runs as ${OPENSEARCH_USER}`);
    } else {
      assert.equal(uid, process.getuid?.());
    }
    const health = await searchJson<{ status: string; number_of_nodes: number }>("GET", "/_cluster/health");
    assert.equal(health.number_of_nodes, 1);
    assert.equal(health.status, "green");
  });

  test("the services' log lines, bulk-indexed, are found by the request's trace id and aggregated per service", async () => {
    const { traceId, requestId } = await createUser();
    // The users service logs its RPC and the gateway its request once each is done; both lines name the trace.
    const lineOf = (service: ServiceProcess, msg: string) =>
      waitFor(`${msg} line with trace_id ${traceId}`, () =>
        logLines(service).find((line) => line.msg === msg && line.trace_id === traceId),
      );
    await Promise.all([lineOf(users, "rpc"), lineOf(gateway, "request")]);
    const lines = [...logLines(users), ...logLines(gateway)];
    const index = `charter-logs-${new Date().toISOString().slice(0, 10).replaceAll("-", ".")}`;
    await searchJson("PUT", `/${index}`, {
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: LOG_MAPPINGS,
    });

    const bulk = `${lines.map((line) => `{"index":{}}\n${JSON.stringify(line)}`).join("\n")}\n`;
    const indexed = await searchJson<{ errors: boolean; items: { index: { status: number } }[] }>(
      "POST",
      `/${index}/_bulk?refresh=wait_for`,
      bulk,
      true,
    );
    assert.equal(indexed.errors, false, JSON.stringify(indexed.items.filter((item) => item.index.status >= 300)));
    assert.equal(indexed.items.length, lines.length);

    const byTrace = await searchJson<SearchHits>("POST", `/${index}/_search`, {
      query: { term: { trace_id: traceId } },
      sort: [{ time: "asc" }],
      size: 100,
    });
    const expected = lines.filter((line) => line.trace_id === traceId);
    assert.equal(byTrace.hits.total.value, expected.length);
    const found = byTrace.hits.hits.map((hit) => hit._source);
    assert.ok(found.every((line) => line.trace_id === traceId));
    assert.ok(found.some((line) => line.service === "users" && line.msg === "rpc" && line.requestId === requestId));
    assert.ok(
      found.some((line) => line.service === "gateway" && line.msg === "request" && line.requestId === requestId),
    );

    const perService = await searchJson<SearchHits>("POST", `/${index}/_search`, {
      size: 0,
      aggs: { services: { terms: { field: "service" } } },
    });
    const counts = Object.fromEntries(
      (perService.aggregations?.services?.buckets ?? []).map((bucket) => [bucket.key, bucket.doc_count]),
    );
    // The users service also logs as "audit" (the embedded audit consumer of its in-process bus).
    const expectedCounts: Record<string, number> = {};
    for (const line of lines) expectedCounts[String(line.service)] = (expectedCounts[String(line.service)] ?? 0) + 1;
    assert.ok((expectedCounts.gateway ?? 0) > 0 && (expectedCounts.users ?? 0) > 0);
    assert.deepEqual(counts, expectedCounts);
  });
});
