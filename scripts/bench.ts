/**
 * `npm run bench`: side-by-side throughput and latency of the REST path, from one run on this
 * machine. It starts everything it measures on 127.0.0.1 and loads each target in turn with
 * autocannon (warm-up first, then a measured run of fixed length):
 *
 *   (a) bare Fastify returning the same JSON user — the ceiling of an HTTP hop on this machine
 *   (b) the gateway, GET /v1/users/{id} through gRPC to the users service, a cache hit
 *   (c) the gateway, POST /v1/users, a unique email on every request
 *   (d) Prism mocking contracts/openapi/users.v1.yaml, GET /v1/users/{id} from the examples
 *   (e) the gateway, GET /v1/users/{id} round-robin over three users instances discovered in etcd (a real etcd;
 *       the instances share the MongoDB-compatible store and each has its in-memory cache, so reads are hits)
 *   (f) as (b) with OTEL_SDK_DISABLED=true and GATEWAY_METRICS=off: what tracing and request metrics cost
 *   (g) as (b) with every span exported over OTLP/HTTP (protobuf) to a receiver in this process that drops them
 *
 * Then the ratios (b)/(a), (b)/(d), (e)/(b), (b)/(f) and (g)/(f), and the events rows of scripts/bench-events.ts:
 * (h) write → history on the in-process bus, (i) the same on Apache Kafka (BENCH_EVENTS creates, default 2000). Numbers are printed, never judged: there is no threshold.
 * BENCH_DURATION_S, BENCH_WARMUP_S and BENCH_CONNECTIONS change the run (defaults 5, 2, 20).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { measureEvents } from "./bench-events.js";
import { freePorts, startEtcd, startMongo } from "./infra/index.js";
import { type ServiceProcess, startService, waitFor } from "./lib/processes.js";
import { LOAD_BUDGET, startPlatform } from "./lib/start-platform.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const contract = "contracts/openapi/users.v1.yaml";
/** The id of the contract's AdaUser example, which Prism answers with. */
const exampleId = "7281634251938816001";

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}
const durationS = setting("BENCH_DURATION_S", 5);
const warmupS = setting("BENCH_WARMUP_S", 2);
const connections = setting("BENCH_CONNECTIONS", 20);

interface Target {
  readonly label: string;
  readonly url: string;
  readonly request: autocannon.Request;
}

interface Row {
  readonly label: string;
  readonly requestsPerS: number;
  readonly p50: number;
  readonly p99: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly non2xx: number;
  readonly total: number;
}

async function load(target: Target, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: target.url, connections, duration: seconds, requests: [target.request] });
}

async function measure(target: Target): Promise<Row> {
  process.stderr.write(`${target.label}: ${warmupS} s warm-up, ${durationS} s measured… `);
  await load(target, warmupS);
  const result = await load(target, durationS);
  process.stderr.write("done\n");
  return {
    label: target.label,
    requestsPerS: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
  };
}

/** Prism on a free port; resolves once it answers the example user. */
async function startPrism(): Promise<{ url: string; stop(): Promise<void> }> {
  const [port] = await freePorts(1);
  const output: string[] = [];
  const child: ChildProcess = spawn(
    `${root}node_modules/.bin/prism`,
    ["mock", contract, "-p", String(port), "-h", "127.0.0.1"],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    process.off("exit", kill);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "Prism to answer the example user",
      async () => {
        if (child.exitCode !== null) throw new Error(`prism exited with ${child.exitCode}:\n${output.join("")}`);
        const response = await fetch(`${url}/v1/users/${exampleId}`);
        return response.status === 200 ? true : undefined;
      },
      60_000,
      200,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${output.join("")}`);
  }
  return { url, stop };
}

const fixed = (n: number, digits: number) => n.toFixed(digits);
/** autocannon measures latency in whole milliseconds. */
const ms = (n: number) => (n < 1 ? "<1" : fixed(n, 0));
const pad = (cells: readonly string[], widths: readonly number[]) =>
  cells
    .map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
    .join(" | ");

function table(rows: readonly Row[]): string {
  const header = ["target", "requests/s", "p50 ms", "p99 ms", "errors", "non-2xx", "note"];
  const cells = rows.map((row) => [
    row.label,
    fixed(row.requestsPerS, 0),
    ms(row.p50),
    ms(row.p99),
    String(row.errors),
    String(row.non2xx),
    row.errors > 0
      ? `ERRORS: ${row.errors} connection errors/timeouts`
      : row.non2xx > 0
        ? `NON-2XX: ${row.non2xx} of ${row.total}`
        : "ok",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = `|-${widths.map((w) => "-".repeat(w)).join("-|-")}-|`;
  return [`| ${pad(header, widths)} |`, line, ...cells.map((c) => `| ${pad(c, widths)} |`)].join("\n");
}

/** The users service and gateway with `env`, one user created and read once (so its reads hit the cache). */
async function startBenchPlatform(env: Record<string, string>, name: string) {
  const platform = await startPlatform(env);
  try {
    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Ada Lovelace", email: `${name}.${Date.now()}@example.com` }),
    });
    if (created.status !== 201) throw new Error(`creating a benchmark user: ${created.status} ${await created.text()}`);
    const user = (await created.json()) as { id: string };
    const read = await fetch(`${platform.baseUrl}/v1/users/${user.id}`); // fills the users service's cache
    if (read.status !== 200) throw new Error(`reading a benchmark user: ${read.status} ${await read.text()}`);
    return { platform, user, body: await read.text() };
  } catch (error) {
    await platform.stop();
    throw error;
  }
}

/** An OTLP/HTTP endpoint that accepts every export and keeps nothing. */
async function startSpanSink(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(200, { "content-type": "application/x-protobuf" }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main(): Promise<void> {
  // Other work on the machine skews every row; the header says how busy it was before and after the run.
  const loadBefore = loadavg()[0] ?? 0;
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const sink = await startSpanSink();
    started.push(sink);
    // The same platform three times: as shipped (spans made, not exported; metrics on), with both off, and
    // exporting every span over OTLP (http/protobuf, the SDK's default) to a receiver that drops them.
    const { platform, user, body } = await startBenchPlatform({}, "ada");
    started.push(platform);
    const quiet = await startBenchPlatform({ OTEL_SDK_DISABLED: "true", GATEWAY_METRICS: "off" }, "ada.quiet");
    started.push(quiet.platform);
    const exporting = await startBenchPlatform({ OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }, "ada.exported");
    started.push(exporting.platform);

    const bare: ServiceProcess = await startService(
      "scripts/bench-bare-server.ts",
      { BENCH_USER: body },
      "bare server ready",
    );
    started.push(bare);
    const prism = await startPrism();
    started.push(prism);

    // (e): etcd, the shared store, three users instances registered in etcd, a gateway that discovers them.
    const [etcd, mongo] = await Promise.all([startEtcd(), startMongo()]);
    started.push(etcd, mongo);
    const clusterEnv = { ETCD_ENDPOINTS: etcd.url, MONGO_URL: mongo.url, USERS_HOST: "127.0.0.1" };
    const instances = await Promise.all(
      [1, 2, 3].map((n) =>
        startService(
          "services/users/main.ts",
          { ...clusterEnv, USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_INSTANCE_ID: `bench-users-${n}` },
          "users service ready",
          60_000,
        ),
      ),
    );
    started.push(...instances);
    const clusterGateway = await startService(
      "services/gateway/main.ts",
      { ETCD_ENDPOINTS: etcd.url, GATEWAY_PORT: "0", GATEWAY_HOST: "127.0.0.1", ...LOAD_BUDGET },
      "gateway ready",
      60_000,
    );
    started.push(clusterGateway);
    const clusterUrl = `http://127.0.0.1:${clusterGateway.ready.port}`;
    await waitFor(
      "the gateway to discover three users instances",
      async () => {
        const response = await fetch(`${clusterUrl}/readyz`);
        const body = (await response.json()) as { instances?: { health: string }[] };
        return body.instances?.filter((i) => i.health === "SERVING").length === 3 ? true : undefined;
      },
      30_000,
      100,
    );
    const clusterCreated = await fetch(`${clusterUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Ada Lovelace", email: `ada.cluster.${Date.now()}@example.com` }),
    });
    if (clusterCreated.status !== 201) {
      throw new Error(`creating the cluster benchmark user: ${clusterCreated.status} ${await clusterCreated.text()}`);
    }
    const clusterUser = (await clusterCreated.json()) as { id: string };
    for (let i = 0; i < 6; i++) {
      const read = await fetch(`${clusterUrl}/v1/users/${clusterUser.id}`); // fills every instance's cache
      if (read.status !== 200) throw new Error(`reading the cluster benchmark user: ${read.status}`);
    }

    const run = Date.now().toString(36);
    let sequence = 0;
    const get = (path: string): autocannon.Request => ({ method: "GET", path });
    const targets: Target[] = [
      {
        label: "(a) bare Fastify, GET user",
        url: `http://127.0.0.1:${bare.ready.port}`,
        request: get(`/v1/users/${user.id}`),
      },
      {
        label: "(b) gateway GET /v1/users/{id} (gRPC, cache hit)",
        url: platform.baseUrl,
        request: get(`/v1/users/${user.id}`),
      },
      {
        label: "(c) gateway POST /v1/users (unique emails)",
        url: platform.baseUrl,
        request: {
          method: "POST",
          path: "/v1/users",
          headers: { "content-type": "application/json" },
          setupRequest: (request) => {
            sequence += 1;
            return {
              ...request,
              body: JSON.stringify({ name: "Bench User", email: `bench.${run}.${sequence}@example.com` }),
            };
          },
        },
      },
      { label: "(d) Prism mock GET /v1/users/{id} (examples)", url: prism.url, request: get(`/v1/users/${exampleId}`) },
      {
        label: "(e) gateway GET, round-robin over 3 users via etcd",
        url: clusterUrl,
        request: get(`/v1/users/${clusterUser.id}`),
      },
      {
        label: "(f) as (b), tracing and gateway metrics off",
        url: quiet.platform.baseUrl,
        request: get(`/v1/users/${quiet.user.id}`),
      },
      {
        label: "(g) as (b), every span exported over OTLP",
        url: exporting.platform.baseUrl,
        request: get(`/v1/users/${exporting.user.id}`),
      },
    ];
    const rows: Row[] = [];
    for (const target of targets) rows.push(await measure(target));

    const [a, b, , d, e, f, g] = rows;
    const ratio = (x: Row | undefined, y: Row | undefined) =>
      x && y && y.requestsPerS > 0 ? `${fixed(x.requestsPerS / y.requestsPerS, 2)}×` : "n/a";
    const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
    console.log(
      `\n${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${cpus().length} cores (${cpu}) · ` +
        `${Math.round(totalmem() / 2 ** 30)} GiB · autocannon ${connections} connections, ${warmupS} s warm-up, ` +
        `${durationS} s measured, one target at a time; latency resolution 1 ms; ` +
        `1-min load average ${fixed(loadBefore, 2)} before the run, ${fixed(loadavg()[0] ?? 0, 2)} after\n`,
    );
    console.log(table(rows));
    console.log(
      `\nrequests/s ratios: (b)/(a) = ${ratio(b, a)}, (b)/(d) = ${ratio(b, d)}, (e)/(b) = ${ratio(e, b)}, ` +
        `(b)/(f) telemetry on/off = ${ratio(b, f)}, (g)/(f) exported/off = ${ratio(g, f)}`,
    );
    const events = await measureEvents(setting("BENCH_EVENTS", 2_000));
    console.log(
      `\n| events | count | events/s | relay lag p99 | write → history p99 |\n|---|---|---|---|---|\n${events
        .map((r) => `| ${r.label} | ${r.events} | ${fixed(r.eventsPerS, 0)} | ${r.relayLagP99} | ${r.endToEndLagP99} |`)
        .join("\n")}`,
    );
    const failed = rows.filter((row) => row.errors > 0);
    if (failed.length > 0) {
      console.log(
        `\nconnection errors in: ${failed.map((row) => row.label).join("; ")} — those rows are not comparable`,
      );
      process.exitCode = 1;
    }
  } finally {
    for (const service of started.reverse()) await service.stop();
  }
}

await main();
