/**
 * Jaeger and OpenSearch as scripts/infra provisions and starts them, fed by the real services.
 * Jaeger: the users service exports over OTLP/gRPC and the gateway over OTLP/HTTP, each with the project's own
 * tracing setup (platform/tracing.ts, configured only by the standard OTEL_* variables, the sampler set explicitly);
 * one REST request is then one trace in Jaeger's query API, the users service's gRPC span under the gateway's route.
 * OpenSearch and the rsyslog shipper: the log lines both services printed for that request (pino JSON, as on their
 * stdout) are sent to rsyslog as Docker's syslog driver sends them, land in the day's index under the template's
 * mappings, and are found again by the trace id; Traefik's access log is tailed into the same index; the retention
 * job deletes exactly the days older than its age.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  deleteOldLogIndices,
  freePorts,
  LOG_MAPPINGS,
  OPENSEARCH_USER,
  putLogTemplate,
  type RunningJaeger,
  type RunningLogShipper,
  type RunningOpenSearch,
  startJaeger,
  startLogShipper,
  startOpenSearch,
} from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { GATEWAY_ENTRY, LOAD_BUDGET, otherServicesOffline, USERS_ENTRY } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const TRACE_DEADLINE_MS = 15_000;

let jaeger: RunningJaeger;
let search: RunningOpenSearch;
let shipper: RunningLogShipper;
/** A Traefik-style JSON access log that the shipper tails; the quotes and space check the config's escaping. */
const accessLogDir = mkdtempSync(join(tmpdir(), "charter-access-log-"));
const accessLog = join(accessLogDir, 'access "json".log');
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
      ...issuer.env,
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
      ...issuer.env,
      GATEWAY_PORT: "0",
      ...otherServicesOffline(),
      USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
      ...tracingEnv("http/protobuf", jaeger.otlpHttpUrl),
      ...LOAD_BUDGET,
    },
    "gateway ready",
    60_000,
  );
  baseUrl = `http://127.0.0.1:${gateway.ready.port}`;
}

before(async () => {
  const started = await Promise.allSettled([
    startServices(),
    startOpenSearch().then(async (server) => {
      search = server;
      // The template first: the shipper's first line creates the day's index with the mappings of that moment.
      await putLogTemplate(search.url);
      writeFileSync(accessLog, "");
      shipper = await startLogShipper({
        opensearchUrl: search.url,
        files: [{ path: accessLog, tag: "traefik", service: "traefik" }],
      });
    }),
  ]);
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed.length > 0) throw new Error(failed.map((f) => String(f.reason)).join("\n"));
});

after(async () => {
  await gateway?.stop();
  await users?.stop();
  await shipper?.stop();
  await Promise.all([jaeger?.stop(), search?.stop()]);
  rmSync(accessLogDir, { recursive: true, force: true });
});

/** One request through the gateway: a create, which calls the users service over gRPC. */
let request: Promise<{ traceId: string; requestId: string; email: string }> | undefined;
const createUser = () => {
  request ??= (async () => {
    const email = `traced-${randomUUID()}@example.com`;
    const response = await fetch(`${baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Traced", email }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(response.headers.get("traceparent") ?? "");
    assert.ok(match, `a sampled W3C traceparent, got ${response.headers.get("traceparent")}`);
    return { traceId: match[1] as string, requestId: response.headers.get("x-request-id") ?? "", email };
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

/** The JSON log lines a service printed (pino, one object a line), as printed and parsed. */
const rawLogLines = (service: ServiceProcess): { text: string; line: Record<string, unknown> }[] =>
  service.output.flatMap((text) => {
    try {
      const entry = JSON.parse(text) as unknown;
      return typeof entry === "object" && entry !== null ? [{ text, line: entry as Record<string, unknown> }] : [];
    } catch {
      return [];
    }
  });
const logLines = (service: ServiceProcess): Record<string, unknown>[] => rawLogLines(service).map((l) => l.line);

/**
 * Sends `lines` to `address` (tcp://host:port) as Docker's syslog log driver does with `syslog-format=rfc5424`
 * over plain TCP (daemon/logger/syslog in moby, with its srslog): `<PRI>1 TIMESTAMP HOST TAG PID TAG - LINE`, no
 * octet count (only tcp+tls is framed that way), each message ended by a newline; the facility is daemon, the
 * severity info for stdout (PRI 30), err for stderr (27); the timestamp is Go's time.RFC3339 (whole seconds).
 */
async function sendAsDockerSyslog(address: string, tag: string, lines: readonly string[]): Promise<void> {
  const { hostname: host, port } = new URL(address);
  const timestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const frames = lines.map((line) => `<30>1 ${timestamp} ${hostname()} ${tag} ${process.pid} ${tag} - ${line}\n`);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), host, () => socket.end(frames.join("")));
    socket.once("error", reject);
    socket.once("close", () => resolve());
  });
}

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

interface SearchHits {
  hits: { total: { value: number }; hits: { _index: string; _source: Record<string, unknown> }[] };
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

  test("the services' log lines, sent to rsyslog as Docker's syslog driver sends them, are found in the day's index by the request's trace id", async () => {
    const { traceId, requestId, email } = await createUser();
    // The users service logs its RPC and the gateway its request once each is done; both lines name the trace.
    const lineOf = (service: ServiceProcess, msg: string) =>
      waitFor(`${msg} line with trace_id ${traceId}`, () =>
        logLines(service).find((line) => line.msg === msg && line.trace_id === traceId),
      );
    await Promise.all([lineOf(users, "rpc"), lineOf(gateway, "request")]);
    // Each container's tag names its instance; a line that is not JSON (a crash's stack trace) is shipped too.
    const run = randomUUID();
    const tags = { users: `users-${run.slice(0, 8)}`, gateway: `gateway-${run.slice(0, 8)}` };
    const notJson = `plain text that is not JSON ${run}`;
    const sent = { users: rawLogLines(users), gateway: rawLogLines(gateway) };
    await sendAsDockerSyslog(shipper.syslogAddress, tags.users, [...sent.users.map((l) => l.text), notJson]);
    await sendAsDockerSyslog(
      shipper.syslogAddress,
      tags.gateway,
      sent.gateway.map((l) => l.text),
    );
    const expected = [...sent.users, ...sent.gateway].filter(({ line }) => line.trace_id === traceId);
    assert.ok(expected.length >= 2);

    const byTrace = await waitFor(
      `${expected.length} lines with trace_id ${traceId} in charter-logs-*`,
      async () => {
        const found = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
          query: { term: { trace_id: traceId } },
          sort: [{ time: "asc" }],
          size: 100,
        });
        return found.hits.total.value >= expected.length ? found : undefined;
      },
      15_000,
      200,
    );
    assert.equal(byTrace.hits.total.value, expected.length, shipper.output().join("\n"));
    for (const hit of byTrace.hits.hits) {
      const source = hit._source;
      assert.equal(source.trace_id, traceId);
      assert.equal(source.instance, source.service === "gateway" ? tags.gateway : tags.users, JSON.stringify(source));
      assert.equal(source.host, hostname());
      // The day the shipper received the line (UTC) names the index.
      const day = String(source["@timestamp"]).slice(0, 10).replaceAll("-", ".");
      assert.equal(hit._index, `charter-logs-${day}`);
    }
    const found = byTrace.hits.hits.map((hit) => hit._source);
    assert.ok(found.some((line) => line.service === "users" && line.msg === "rpc" && line.requestId === requestId));
    assert.ok(
      found.some((line) => line.service === "gateway" && line.msg === "request" && line.requestId === requestId),
    );
    // Each document is the pino line as printed, plus what the shipper adds.
    const printed = expected.find(({ line }) => line.msg === "rpc")?.line ?? {};
    const { instance, host, "@timestamp": received, ...own } = found.find((line) => line.msg === "rpc") ?? {};
    assert.deepEqual(own, printed);
    assert.ok(instance && host && received);

    const plain = await waitFor("the line that is not JSON", async () => {
      const hits = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
        query: { bool: { filter: [{ term: { instance: tags.users } }, { exists: { field: "parse_error" } }] } },
      });
      return hits.hits.hits[0];
    });
    assert.equal(plain._source.msg, notJson);

    // The template's mappings, not dynamic ones.
    const mapping = await searchJson<Record<string, { mappings: { properties: Record<string, { type: string }> } }>>(
      "GET",
      `/${byTrace.hits.hits[0]?._index}/_mapping`,
    );
    const properties = Object.values(mapping)[0]?.mappings.properties ?? {};
    assert.equal(properties.trace_id?.type, "keyword");
    const types = (fields: Record<string, { type: string }>) =>
      Object.fromEntries(Object.entries(fields).map(([field, { type }]) => [field, type]));
    assert.deepEqual(types(properties), types(LOG_MAPPINGS.properties), "every field as the template maps it");

    // No e-mail address in clear: the services mask it before a line is written (platform/logging.ts).
    const total = sent.users.length + sent.gateway.length + 1;
    const everything = await waitFor(`all ${total} lines sent`, async () => {
      const hits = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
        query: { terms: { instance: [tags.users, tags.gateway] } },
        size: 1_000,
      });
      return hits.hits.total.value === total ? hits : undefined;
    });
    assert.ok(!JSON.stringify(everything.hits.hits).includes(email), `${email} reached OpenSearch in clear`);

    const perService = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
      size: 0,
      query: { terms: { instance: [tags.users, tags.gateway] } },
      aggs: { services: { terms: { field: "service" } } },
    });
    const counts = Object.fromEntries(
      (perService.aggregations?.services?.buckets ?? []).map((bucket) => [bucket.key, bucket.doc_count]),
    );
    // The users service also logs as "audit" (the embedded audit consumer of its in-process bus).
    const expectedCounts: Record<string, number> = {};
    for (const { line } of [...sent.users, ...sent.gateway]) {
      expectedCounts[String(line.service)] = (expectedCounts[String(line.service)] ?? 0) + 1;
    }
    assert.ok((expectedCounts.gateway ?? 0) > 0 && (expectedCounts.users ?? 0) > 0);
    assert.deepEqual(counts, expectedCounts);
  });

  test("Traefik's JSON access log, tailed by the shipper, is in the day's index with service traefik", async () => {
    const traceIds = [randomBytes(16).toString("hex"), randomBytes(16).toString("hex")];
    const entry = (TraceId: string, DownstreamStatus: number) =>
      JSON.stringify({
        ClientHost: "127.0.0.1",
        DownstreamStatus,
        Duration: 1_234_567,
        OriginStatus: DownstreamStatus,
        RequestMethod: "GET",
        RequestPath: "/v1/users/u1",
        RouterName: "gateway@etcd",
        ServiceURL: "http://127.0.0.1:8080",
        StartUTC: new Date().toISOString(),
        TraceId,
        level: "info",
        msg: "",
        time: new Date().toISOString(),
      });
    appendFileSync(accessLog, `${entry(traceIds[0] as string, 200)}\n${entry(traceIds[1] as string, 404)}\n`);
    const hits = await waitFor(
      "both access-log lines in charter-logs-*",
      async () => {
        const found = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
          query: { terms: { TraceId: traceIds } },
        });
        return found.hits.total.value === 2 ? found.hits.hits : undefined;
      },
      15_000,
      200,
    );
    for (const { _source: line } of hits) {
      assert.equal(line.service, "traefik");
      assert.equal(line.instance, "traefik");
      assert.equal(line.RequestPath, "/v1/users/u1");
    }
    // DownstreamStatus is an integer field: a range query finds the 404 only.
    const errors = await searchJson<SearchHits>("POST", "/charter-logs-*/_search", {
      query: {
        bool: { filter: [{ terms: { TraceId: traceIds } }, { range: { DownstreamStatus: { gte: 400 } } }] },
      },
    });
    assert.deepEqual(
      errors.hits.hits.map((hit) => hit._source.TraceId),
      [traceIds[1]],
    );
  });

  test("lines sent while OpenSearch is unreachable are queued and all arrive, once each, when it answers again", async () => {
    // OpenSearch behind a TCP relay on a fixed port: while it is closed, the shipper's connections are refused.
    const [relayPort = 0] = await freePorts(1);
    const target = new URL(search.url);
    const relay = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    const away = await startLogShipper({ opensearchUrl: `http://127.0.0.1:${relayPort}` });
    try {
      const tag = `outage-${randomUUID().slice(0, 8)}`;
      const lines = Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({ level: "info", service: "users", msg: `queued ${i}` }),
      );
      await sendAsDockerSyslog(away.syslogAddress, tag, lines);
      await waitFor("the shipper's report that OpenSearch is unreachable", () =>
        away.output().some((line) => /suspending/.test(line)) ? true : undefined,
      );
      const count = async () =>
        (await searchJson<{ count: number }>("POST", "/charter-logs-*/_count", { query: { term: { instance: tag } } }))
          .count;
      assert.equal(await count(), 0);
      await new Promise<void>((resolve) => relay.listen(relayPort, "127.0.0.1", resolve));
      await waitFor(
        `all ${lines.length} queued lines`,
        async () => ((await count()) >= lines.length ? true : undefined),
        20_000,
        200,
      );
      assert.equal(await count(), lines.length, `each line once:\n${away.output().join("\n")}`);
    } finally {
      await away.stop();
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  test("the retention job deletes exactly the daily indices older than its age", async () => {
    const listIndices = async () =>
      (await searchJson<{ index: string }[]>("GET", "/_cat/indices/charter-*?format=json&h=index"))
        .map((entry) => entry.index)
        .sort();
    const existing = await listIndices();
    const made = [
      "charter-logs-2020.01.01",
      "charter-logs-2020.01.02",
      "charter-logs-2020.01.04",
      "charter-logs-2020.01.09",
      "charter-logs-2020.02.31",
      "charter-logs-not-a-date",
      "charter-other-2020.01.01",
    ];
    for (const name of made) await searchJson("PUT", `/${name}`, { settings: { number_of_replicas: 0 } });
    // Today 2020-01-09, 5 days kept: the 4th to the 9th stay.
    const deleted = await deleteOldLogIndices(search.url, { maxAgeDays: 5, now: new Date("2020-01-09T23:59:00Z") });
    assert.deepEqual(deleted, ["charter-logs-2020.01.01", "charter-logs-2020.01.02"]);
    assert.deepEqual(await listIndices(), [...existing, ...made.slice(2)].sort());

    // The npm script, today: the 2020 days go; today's index, a date that is no day and the other names stay.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "scripts/logs-retention.ts", "--url", search.url, "--max-age-days", "7"],
      { cwd: join(import.meta.dirname, "..") },
    );
    assert.match(stdout, /deleted charter-logs-2020\.01\.04\ndeleted charter-logs-2020\.01\.09\n/);
    assert.deepEqual(
      await listIndices(),
      [...existing, "charter-logs-2020.02.31", "charter-logs-not-a-date", "charter-other-2020.01.01"].sort(),
    );
  });
});
