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
 *   (g) as (b) with every trace sampled (OTEL_TRACES_SAMPLER=parentbased_always_on) and every span exported over
 *       OTLP/HTTP (protobuf) to a receiver in this process that drops them
 *
 *   (j) the proxy anchor: a hand-written Fastify route calling the same users service with grpc-js
 *       (scripts/bench-proxy.ts), the users service of (b)
 *
 * The gRPC rows (scripts/bench-grpc.ts: BENCH_CONNECTIONS concurrent unary calls from one grpc-js channel):
 *   (k) UsersService/GetUser on the users service of (b), a cache hit
 *   (l) the gRPC anchor: a bare grpc-js server answering GetUser from a map (scripts/bench-bare-grpc.ts)
 *
 * And the events rows of scripts/bench-events.ts (BENCH_EVENTS messages, default 2000): (h) write → history on the
 * in-process bus, (i) the same on Apache Kafka and the MongoDB-compatible store, (m) the pipeline's anchor (kafkajs
 * produce → consume → insertMany into the same store, a minimal script).
 *
 * Every row is printed with its ratio against its anchor, and the ratios that issue 17's goals name, with the goal
 * beside them; an HTTP row also with the CPU time its server processes spent per request (from /proc), and row (b)
 * with the gateway's resident memory sampled through the row (peak, after the warm-up, at the end). Numbers are
 * printed, never judged: there is no threshold.
 *
 * Every gateway here runs what the image ships: the gateway bundle, built once per run as the image's build stage
 * builds it (scripts/images/bundle.mjs), run by plain `node` — not the source under tsx, whose loader thread is a
 * second V8 isolate in the process (about 100 MiB more resident memory, and its own CPU). The users services, the
 * proxy and the other anchors run under tsx as before.
 * BENCH_DURATION_S, BENCH_WARMUP_S and BENCH_CONNECTIONS change the run (defaults 5, 2, 20); BENCH_ONLY=<letters or
 * names, comma-separated> runs a subset (e.g. BENCH_ONLY=a,j,b or BENCH_ONLY=grpc-users,grpc-bare); BENCH_PROFILE=1
 * runs the gateways, users services and the proxy under `node --cpu-prof` and prints the directory of the profiles.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { type EventsRowLetter, measureEvents } from "./bench-events.js";
import { loadGetUser } from "./bench-grpc.js";
import { type BenchIssuer, startBenchIssuer } from "./bench-issuer.js";
import { freePorts, startEtcd, startMongo } from "./infra/index.js";
import { startService, waitFor } from "./lib/processes.js";
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
  /** The processes that serve the row (their CPU time per request is printed). */
  readonly pids?: readonly (number | undefined)[];
  /** A process whose resident memory is sampled through the row (the gateway under (b)'s load). */
  readonly rssPid?: number | undefined;
}

/** Resident memory of a process through a row: the peak, after the warm-up, at the end. */
interface RssTrace {
  readonly peakBytes: number;
  readonly afterWarmupBytes: number;
  readonly endBytes: number;
  readonly samples: number;
}

interface Row {
  readonly letter: Letter;
  readonly label: string;
  readonly requestsPerS: number;
  readonly p50: number;
  readonly p99: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly non2xx: number;
  readonly total: number;
  /** CPU time (user + system, every thread) of the row's server processes per request, in µs. */
  readonly cpuUsPerRequest?: number;
  readonly rss?: RssTrace;
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_S = 100;
/** How often the resident memory of a watched process is read during a row. */
const RSS_INTERVAL_MS = 500;

/** A process's CPU time (user + system, all its threads) in ms, from /proc; undefined off Linux or once it is gone. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name, from field 3 (state) on: utime is field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** A process's resident set (VmRSS) in bytes, from /proc; undefined off Linux or once it is gone. */
function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** The summed CPU time of processes, or undefined when any cannot be read. */
function cpuMsOfAll(pids: readonly (number | undefined)[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const ms = cpuMsOf(pid);
    if (ms === undefined) return undefined;
    sum += ms;
  }
  return sum;
}

async function load(target: Target, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: target.url, connections, duration: seconds, requests: [target.request] });
}

async function measure(letter: Letter, target: Target): Promise<Row> {
  process.stderr.write(`${target.label}: ${warmupS} s warm-up, ${durationS} s measured… `);
  const rssSamples: number[] = [];
  const sampleRss = () => {
    const bytes = rssOf(target.rssPid);
    if (bytes !== undefined) rssSamples.push(bytes);
  };
  const sampler = target.rssPid === undefined ? undefined : setInterval(sampleRss, RSS_INTERVAL_MS);
  sampleRss();
  await load(target, warmupS);
  sampleRss();
  const afterWarmup = rssSamples.length - 1;
  const cpuBefore = target.pids ? cpuMsOfAll(target.pids) : undefined;
  const result = await load(target, durationS);
  const cpuAfter = target.pids ? cpuMsOfAll(target.pids) : undefined;
  sampleRss();
  clearInterval(sampler);
  process.stderr.write("done\n");
  const cpu =
    cpuBefore !== undefined && cpuAfter !== undefined && result.requests.total > 0
      ? { cpuUsPerRequest: ((cpuAfter - cpuBefore) * 1000) / result.requests.total }
      : {};
  const rss =
    rssSamples.length > 1 && afterWarmup >= 0
      ? {
          rss: {
            peakBytes: Math.max(...rssSamples),
            afterWarmupBytes: rssSamples[afterWarmup] ?? 0,
            endBytes: rssSamples[rssSamples.length - 1] ?? 0,
            samples: rssSamples.length,
          },
        }
      : {};
  return {
    ...cpu,
    ...rss,
    letter,
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

/** A Markdown table: the first and last columns left-aligned, the others right-aligned. */
function table(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = `|-${widths.map((w) => "-".repeat(w)).join("-|-")}-|`;
  return [`| ${pad(header, widths)} |`, line, ...cells.map((c) => `| ${pad(c, widths)} |`)].join("\n");
}

const note = (row: Row) =>
  row.errors > 0
    ? `ERRORS: ${row.errors} connection errors/timeouts`
    : row.non2xx > 0
      ? `NON-2XX: ${row.non2xx} of ${row.total}`
      : "ok";

/** Every row of the run, by letter, with its name for BENCH_ONLY and the anchor its ratio is taken against. */
const ROWS = {
  a: { name: "bare-fastify", anchor: undefined },
  j: { name: "proxy", anchor: "a" },
  b: { name: "gateway-get", anchor: "j" },
  c: { name: "gateway-post", anchor: "b" },
  d: { name: "prism", anchor: "a" },
  e: { name: "round-robin", anchor: "b" },
  f: { name: "telemetry-off", anchor: "j" },
  g: { name: "otlp-export", anchor: "f" },
  k: { name: "grpc-users", anchor: "l" },
  l: { name: "grpc-bare", anchor: undefined },
  h: { name: "events-memory", anchor: undefined },
  m: { name: "events-anchor", anchor: undefined },
  i: { name: "events-kafka", anchor: "m" },
} as const satisfies Record<string, { name: string; anchor: string | undefined }>;
type Letter = keyof typeof ROWS;
const LETTERS = Object.keys(ROWS) as Letter[];
/** The rows the others are measured against: bare Fastify, bare grpc-js, the pipeline's floor. */
const ANCHORS: ReadonlySet<Letter> = new Set<Letter>(["a", "l", "m"]);

/** The ratios issue 17's goals name: numerator, denominator, what it compares, the goal (printed, not judged). */
const GOALS: readonly (readonly [Letter, Letter, string, string])[] = [
  ["b", "j", "gateway GET / hand-written proxy", "≥ 1.0×"],
  ["b", "a", "gateway GET / bare Fastify", "≥ 0.15×"],
  ["b", "d", "gateway GET / Prism", "≥ 2×"],
  ["b", "f", "default telemetry / telemetry off", "≥ 0.9×"],
  ["g", "f", "100 % sampled and exported / telemetry off", "≥ 0.7×"],
  ["c", "b", "gateway POST / gateway GET", "≥ 0.7×"],
  ["k", "l", "users GetUser over gRPC / bare grpc-js from a map", "≥ 0.9×"],
  ["i", "m", "events on Kafka / the pipeline's anchor", "≥ 0.5×"],
  ["j", "a", "hand-written proxy / bare Fastify", "—"],
  ["e", "b", "round-robin over 3 instances / one instance", "—"],
];

/** BENCH_ONLY: row letters or names, comma-separated; every row without it. */
function selectedRows(): ReadonlySet<Letter> {
  const raw = process.env.BENCH_ONLY?.trim();
  if (!raw) return new Set(LETTERS);
  const chosen = new Set<Letter>();
  for (const item of raw.split(",").map((part) =>
    part
      .trim()
      .toLowerCase()
      .replace(/^\(|\)$/g, ""),
  )) {
    if (item === "") continue;
    const letter = LETTERS.find((l) => l === item || ROWS[l].name === item);
    if (!letter) {
      throw new Error(
        `BENCH_ONLY: no row "${item}"; rows are ${LETTERS.map((l) => `${l} (${ROWS[l].name})`).join(", ")}`,
      );
    }
    chosen.add(letter);
  }
  return chosen;
}

/**
 * BENCH_PROFILE=1: a fresh directory for the CPU profiles, and the Node flags that write the ones of `role`. Each
 * process gets a directory of its own and Node's default file names, not --cpu-prof-name: every thread writes a
 * profile, and tsx's loader thread would overwrite the main thread's under one fixed name. `collect` then moves the
 * main thread's (thread id 0) to <dir>/<role>.cpuprofile, leaving the loader thread's in <dir>/<role>/.
 */
function profiling(): { dir: string; args(role: string): string[]; collect(): string[] } | undefined {
  if (process.env.BENCH_PROFILE !== "1") return undefined;
  const dir = join(tmpdir(), `charter-bench-profiles-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    args: (role) => ["--cpu-prof", `--cpu-prof-dir=${join(dir, role)}`],
    collect() {
      for (const role of readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
        // CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile
        const main = readdirSync(join(dir, role.name)).find((name) =>
          /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(name),
        );
        if (main) renameSync(join(dir, role.name, main), join(dir, `${role.name}.cpuprofile`));
      }
      return readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
    },
  };
}

/** Starts `start` once, on first use, and remembers it for stopping at the end. */
function lazily<T extends { stop(): Promise<unknown> }>(
  started: { stop(): Promise<unknown> }[],
  start: () => Promise<T>,
): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= start().then((v) => {
      started.push(v);
      return v;
    });
    return value;
  };
}

/** The gateway bundle as the image's build stage makes it, in a fresh directory; `entry` is its main.js. */
async function buildGatewayBundle(): Promise<{ entry: string; stop(): Promise<void> }> {
  const out = mkdtempSync(join(tmpdir(), "charter-bench-bundle-"));
  execFileSync(process.execPath, ["scripts/images/bundle.mjs", out], {
    cwd: root,
    env: { ...process.env, SERVICES: "gateway" },
    stdio: "pipe",
  });
  return {
    entry: join(out, "gateway", "app", "main.js"),
    stop: async () => rmSync(out, { recursive: true, force: true }),
  };
}

/** The users service and gateway with `env`, one user created and read once (so its reads hit the cache). */
async function startBenchPlatform(
  auth: BenchIssuer,
  gatewayEntry: string,
  env: Record<string, string>,
  name: string,
  profile: ReturnType<typeof profiling>,
) {
  const { authorization } = auth;
  const platform = await startPlatform(
    { ...auth.env, ...env },
    profile ? { users: profile.args(`users-${name}`), gateway: profile.args(`gateway-${name}`) } : {},
    gatewayEntry,
  );
  try {
    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Ada Lovelace", email: `${name}.${Date.now()}@example.com` }),
    });
    if (created.status !== 201) throw new Error(`creating a benchmark user: ${created.status} ${await created.text()}`);
    const user = (await created.json()) as { id: string };
    const read = await fetch(`${platform.baseUrl}/v1/users/${user.id}`, { headers: { authorization } }); // fills the users service's cache
    if (read.status !== 200) throw new Error(`reading a benchmark user: ${read.status} ${await read.text()}`);
    return { platform, user, body: await read.text(), stop: () => platform.stop() };
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

/** (e): etcd, the shared store, three users instances registered in etcd, a gateway that discovers them. */
async function startCluster(auth: BenchIssuer, gatewayEntry: string) {
  const { authorization } = auth;
  const parts: { stop(): Promise<unknown> }[] = [];
  const stop = async () => {
    for (const part of parts.reverse()) await part.stop();
  };
  try {
    const [etcd, mongo] = await Promise.all([startEtcd(), startMongo()]);
    parts.push(etcd, mongo);
    const clusterEnv = { ...auth.env, ETCD_ENDPOINTS: etcd.url, MONGO_URL: mongo.url, USERS_HOST: "127.0.0.1" };
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
    parts.push(...instances);
    const gateway = await startService(
      gatewayEntry,
      { ...auth.env, ETCD_ENDPOINTS: etcd.url, GATEWAY_PORT: "0", GATEWAY_HOST: "127.0.0.1", ...LOAD_BUDGET },
      "gateway ready",
      60_000,
    );
    parts.push(gateway);
    const url = `http://127.0.0.1:${gateway.ready.port}`;
    await waitFor(
      "the gateway to discover three users instances",
      async () => {
        const response = await fetch(`${url}/readyz`);
        const body = (await response.json()) as { instances?: { health: string }[] };
        return body.instances?.filter((i) => i.health === "SERVING").length === 3 ? true : undefined;
      },
      30_000,
      100,
    );
    const created = await fetch(`${url}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Ada Lovelace", email: `ada.cluster.${Date.now()}@example.com` }),
    });
    if (created.status !== 201) {
      throw new Error(`creating the cluster benchmark user: ${created.status} ${await created.text()}`);
    }
    const user = (await created.json()) as { id: string };
    for (let i = 0; i < 6; i++) {
      const read = await fetch(`${url}/v1/users/${user.id}`, { headers: { authorization } }); // fills every instance's cache
      if (read.status !== 200) throw new Error(`reading the cluster benchmark user: ${read.status}`);
    }
    return { url, user, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const only = selectedRows();
  const profile = profiling();
  // Other work on the machine skews every row; the header says how busy it was before and after the run.
  const loadBefore = loadavg()[0] ?? 0;
  const started: { stop(): Promise<unknown> }[] = [];
  const rows: Row[] = [];
  const grpcRows: Row[] = [];
  try {
    const sink = lazily(started, startSpanSink);
    // Every call brings a token of the benchmark's own issuer, which every service and gateway here trusts.
    const auth = lazily(started, startBenchIssuer);
    const bundle = lazily(started, buildGatewayBundle);
    // The same platform three times: as shipped (the default sampler's share of the traces recorded, not exported;
    // metrics on), with both off, and recording every trace and exporting every span over OTLP (http/protobuf, the
    // SDK's default) to a receiver that drops them.
    const platform = lazily(started, async () =>
      startBenchPlatform(await auth(), (await bundle()).entry, {}, "default", profile),
    );
    const quiet = lazily(started, async () =>
      startBenchPlatform(
        await auth(),
        (await bundle()).entry,
        { OTEL_SDK_DISABLED: "true", GATEWAY_METRICS: "off" },
        "quiet",
        profile,
      ),
    );
    const exporting = lazily(started, async () =>
      startBenchPlatform(
        await auth(),
        (await bundle()).entry,
        { OTEL_EXPORTER_OTLP_ENDPOINT: (await sink()).url, OTEL_TRACES_SAMPLER: "parentbased_always_on" },
        "exported",
        profile,
      ),
    );
    const bare = lazily(started, async () =>
      startService("scripts/bench-bare-server.ts", { BENCH_USER: (await platform()).body }, "bare server ready"),
    );
    const proxy = lazily(started, async () =>
      startService(
        "scripts/bench-proxy.ts",
        { USERS_ADDR: `127.0.0.1:${(await platform()).platform.users.ready.grpcPort}`, ...(await auth()).env },
        "proxy ready",
        undefined,
        profile?.args("proxy"),
      ),
    );
    const bareGrpc = lazily(started, async () =>
      startService("scripts/bench-bare-grpc.ts", { BENCH_USER: (await platform()).body }, "bare grpc ready"),
    );
    const prism = lazily(started, startPrism);
    const cluster = lazily(started, async () => startCluster(await auth(), (await bundle()).entry));
    // Everything the chosen rows need is up before the first row is loaded, so that no start-up (a JVM, a
    // process's first compilations) overlaps a measurement.
    const needs: Partial<Record<Letter, () => Promise<unknown>>> = {
      a: bare,
      j: proxy,
      b: platform,
      c: platform,
      d: prism,
      e: cluster,
      f: quiet,
      g: exporting,
      k: platform,
      l: bareGrpc,
    };
    for (const letter of only) await needs[letter]?.();

    const run = Date.now().toString(36);
    let sequence = 0;
    // The token goes on every request, the anchors' too (they ignore it), so that each row sends the same bytes.
    const eventsOnly = [...only].every((letter) => letter === "h" || letter === "i" || letter === "m");
    const authorization = eventsOnly ? "" : (await auth()).authorization;
    const get = (path: string): autocannon.Request => ({ method: "GET", path, headers: { authorization } });
    const targets: Record<Exclude<Letter, "k" | "l" | "h" | "i" | "m">, () => Promise<Target>> = {
      a: async () => ({
        label: "(a) bare Fastify, GET user",
        url: `http://127.0.0.1:${(await bare()).ready.port}`,
        pids: [(await bare()).pid],
        request: get(`/v1/users/${(await platform()).user.id}`),
      }),
      j: async () => ({
        label: "(j) hand-written proxy, Fastify + grpc-js",
        url: `http://127.0.0.1:${(await proxy()).ready.port}`,
        pids: [(await proxy()).pid, (await platform()).platform.users.pid],
        request: get(`/v1/users/${(await platform()).user.id}`),
      }),
      b: async () => ({
        label: "(b) gateway GET /v1/users/{id} (gRPC, cache hit)",
        url: (await platform()).platform.baseUrl,
        pids: [(await platform()).platform.gateway.pid, (await platform()).platform.users.pid],
        rssPid: (await platform()).platform.gateway.pid,
        request: get(`/v1/users/${(await platform()).user.id}`),
      }),
      c: async () => ({
        label: "(c) gateway POST /v1/users (unique emails)",
        url: (await platform()).platform.baseUrl,
        pids: [(await platform()).platform.gateway.pid, (await platform()).platform.users.pid],
        request: {
          method: "POST",
          path: "/v1/users",
          headers: { "content-type": "application/json", authorization },
          setupRequest: (request) => {
            sequence += 1;
            return {
              ...request,
              body: JSON.stringify({ name: "Bench User", email: `bench.${run}.${sequence}@example.com` }),
            };
          },
        },
      }),
      d: async () => ({
        label: "(d) Prism mock GET /v1/users/{id} (examples)",
        url: (await prism()).url,
        request: get(`/v1/users/${exampleId}`),
      }),
      e: async () => ({
        label: "(e) gateway GET, round-robin over 3 users via etcd",
        url: (await cluster()).url,
        request: get(`/v1/users/${(await cluster()).user.id}`),
      }),
      f: async () => ({
        label: "(f) as (b), tracing and gateway metrics off",
        url: (await quiet()).platform.baseUrl,
        pids: [(await quiet()).platform.gateway.pid, (await quiet()).platform.users.pid],
        request: get(`/v1/users/${(await quiet()).user.id}`),
      }),
      g: async () => ({
        label: "(g) as (b), every trace sampled, exported over OTLP",
        url: (await exporting()).platform.baseUrl,
        pids: [(await exporting()).platform.gateway.pid, (await exporting()).platform.users.pid],
        request: get(`/v1/users/${(await exporting()).user.id}`),
      }),
    };
    for (const letter of ["a", "j", "b", "c", "d", "e", "f", "g"] as const) {
      if (only.has(letter)) rows.push(await measure(letter, await targets[letter]()));
    }

    const grpcTargets = {
      k: { label: "(k) users GetUser over gRPC (cache hit)", address: async () => (await platform()).platform.users },
      l: { label: "(l) bare grpc-js GetUser from a map", address: bareGrpc },
    } as const;
    for (const letter of ["k", "l"] as const) {
      if (!only.has(letter)) continue;
      const target = grpcTargets[letter];
      const service = await target.address();
      process.stderr.write(`${target.label}: ${warmupS} s warm-up, ${durationS} s measured… `);
      const result = await loadGetUser({
        address: `127.0.0.1:${service.ready.grpcPort}`,
        id: (await platform()).user.id,
        concurrency: connections,
        warmupS,
        durationS,
        ...(letter === "k" ? { authorization } : {}),
      });
      process.stderr.write("done\n");
      grpcRows.push({
        letter,
        label: target.label,
        requestsPerS: result.callsPerS,
        p50: result.p50,
        p99: result.p99,
        errors: result.errors,
        non2xx: 0,
        total: result.total,
      });
    }
  } finally {
    for (const service of started.reverse()) await service.stop();
  }
  // The events rows start their own processes (and Kafka, the store) once the ones above have stopped.
  const eventLetters = new Set<EventsRowLetter>((["h", "i", "m"] as const).filter((l) => only.has(l)));
  const eventsRows = eventLetters.size > 0 ? await measureEvents(setting("BENCH_EVENTS", 2_000), eventLetters) : [];

  const rate = new Map<Letter, number>([
    ...[...rows, ...grpcRows].map((row) => [row.letter, row.requestsPerS] as const),
    ...eventsRows.map((row) => [row.letter, row.eventsPerS] as const),
  ]);
  const ratio = (x: Letter, y: Letter) => {
    const top = rate.get(x);
    const bottom = rate.get(y);
    return top !== undefined && bottom !== undefined && bottom > 0 ? `${fixed(top / bottom, 2)}×` : "n/a";
  };
  const versus = (letter: Letter) => {
    const anchor: Letter | undefined = ROWS[letter].anchor;
    if (anchor !== undefined) return `${ratio(letter, anchor)} (${anchor})`;
    return ANCHORS.has(letter) ? "anchor" : "—";
  };
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  console.log(
    `\n${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${cpus().length} cores (${cpu}) · ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB · autocannon ${connections} connections, ${warmupS} s warm-up, ` +
      `${durationS} s measured, one target at a time; latency resolution 1 ms; gRPC rows ${connections} ` +
      `concurrent calls on one channel; events ${setting("BENCH_EVENTS", 2_000)} per row; ` +
      `rows ${[...only].join(",")}${profile ? "; CPU profiles on" : ""}; ` +
      `1-min load average ${fixed(loadBefore, 2)} before the run, ${fixed(loadavg()[0] ?? 0, 2)} after`,
  );
  if (rows.length > 0) {
    console.log(
      `\n${table(
        ["target", "requests/s", "p50 ms", "p99 ms", "errors", "non-2xx", "CPU µs/req", "vs anchor", "note"],
        rows.map((row) => [
          row.label,
          fixed(row.requestsPerS, 0),
          ms(row.p50),
          ms(row.p99),
          String(row.errors),
          String(row.non2xx),
          row.cpuUsPerRequest === undefined ? "—" : fixed(row.cpuUsPerRequest, 0),
          versus(row.letter),
          note(row),
        ]),
      )}`,
    );
    for (const row of rows) {
      if (!row.rss) continue;
      const mib = (bytes: number) => fixed(bytes / 2 ** 20, 0);
      const growth = row.rss.endBytes - row.rss.afterWarmupBytes;
      console.log(
        `\ngateway RSS (the bundle, plain node) under (${row.letter})'s load (${row.rss.samples} samples, every ${RSS_INTERVAL_MS / 1000} s): ` +
          `peak ${mib(row.rss.peakBytes)} MiB; ${mib(row.rss.afterWarmupBytes)} MiB after the ${warmupS} s warm-up, ` +
          `${mib(row.rss.endBytes)} MiB after ${durationS} s measured (${growth >= 0 ? "+" : "−"}` +
          `${mib(Math.abs(growth))} MiB)  [goal ≤ 150 MiB, no growth after warm-up]`,
      );
    }
  }
  if (grpcRows.length > 0) {
    console.log(
      `\n${table(
        ["gRPC target", "calls/s", "p50 ms", "p99 ms", "errors", "vs anchor", "note"],
        grpcRows.map((row) => [
          row.label,
          fixed(row.requestsPerS, 0),
          fixed(row.p50, 2),
          fixed(row.p99, 2),
          String(row.errors),
          versus(row.letter),
          note(row),
        ]),
      )}`,
    );
  }
  if (eventsRows.length > 0) {
    console.log(
      `\n${table(
        ["events", "count", "events/s", "relay lag p99", "write → history p99", "vs anchor"],
        eventsRows.map((row) => [
          row.label,
          String(row.events),
          fixed(row.eventsPerS, 0),
          row.relayLagP99,
          row.endToEndLagP99,
          versus(row.letter),
        ]),
      )}`,
    );
  }
  console.log("\nratios (per second; issue 17's goal beside each, printed, not judged):");
  for (const [x, y, what, goal] of GOALS) {
    if (only.has(x) || only.has(y)) console.log(`  (${x})/(${y}) ${what} = ${ratio(x, y)}  [goal ${goal}]`);
  }
  if (profile) {
    const written = profile.collect();
    console.log(`\nCPU profiles (${written.join(", ") || "none written"}) in ${profile.dir}`);
  }
  const failed = [...rows, ...grpcRows].filter((row) => row.errors > 0);
  if (failed.length > 0) {
    console.log(`\nconnection errors in: ${failed.map((row) => row.label).join("; ")} — those rows are not comparable`);
    process.exitCode = 1;
  }
}

await main();
