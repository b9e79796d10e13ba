/**
 * Reads a V8 CPU profile (`node --cpu-prof`, a .cpuprofile JSON) and turns it into what docs/benchmarks.md's cost
 * table and the flame graphs of docs/perf/ are made of: collapsed stacks (`frame;frame;frame count`, one line per
 * distinct stack, root first, the count in samples) and the self time of every sample by category.
 *
 * A sample's category is the one of its deepest frame that belongs to a package or to Charter's own code (frames of
 * V8 builtins, which carry no URL, and of Node's internals count for the code that called them: Node's HTTP/2 writes
 * under grpc-js are the gRPC client's, a RegExp run by pino is logging's). Node's internals count as such only when
 * no package or Charter frame is on the stack (an HTTP request being parsed from a socket). Samples with Node's
 * module loader, tsx or Ajv's schema compiler on the stack are the process's start, not a request's, and stay out of
 * the shares. Three stages are told by the stack rather than by the code that runs: everything under the outbox
 * relay, the event bus or the audit consumer is the events', everything under Fastify's reply serializer is response
 * validation and serialization, everything under its request validation is validation.
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export const readProfile = (path: string): CpuProfile => JSON.parse(readFileSync(path, "utf8")) as CpuProfile;

/** The categories of the cost table, in its order. */
export const CATEGORIES = [
  "Node HTTP/1 parsing and sockets (no package on the stack)",
  "parsing and routing (Fastify, find-my-way, its plugins)",
  "request validation (Ajv)",
  "response validation and serialization (Ajv, JSON.stringify)",
  "rate limiting and security headers (@fastify/rate-limit, helmet, cors; the gateway's rate-limit.ts)",
  "gateway code (services/gateway)",
  "gRPC (grpc-js, HTTP/2 framing, protobuf codecs, cockatiel policies, platform/grpc-*)",
  "users service code (services/users: handlers, cache, store)",
  "events (outbox relay, in-process bus, audit consumer)",
  "other Charter platform code (platform/)",
  "logging (pino, platform/logging.ts)",
  "tracing (@opentelemetry, platform/tracing.ts, platform/grpc-tracing.ts, the gateway's http-tracing.ts)",
  "async context (async_hooks: context propagation)",
  "metrics (prom-client, platform/metrics.ts)",
  "other packages",
  "other Node internals (timers, events, streams)",
  "garbage collection",
  "V8 and native, unattributed ((program))",
  "idle",
  "start (module loading, tsx, schema compilation)",
] as const;

export type Category = (typeof CATEGORIES)[number];

const PACKAGE_CATEGORIES: readonly [RegExp, Category][] = [
  [
    /^(@fastify\/(rate-limit|helmet|cors)|helmet)\//,
    "rate limiting and security headers (@fastify/rate-limit, helmet, cors; the gateway's rate-limit.ts)",
  ],
  [
    /^(fastify|find-my-way|light-my-request|avvio|@fastify\/[^/]+|fast-querystring|secure-json-parse|content-type|fast-decode-uri-component|toad-cache|fastify-plugin|process-warning|abstract-logging|ret|safe-regex2|cookie|fast-json-stringify)\//,
    "parsing and routing (Fastify, find-my-way, its plugins)",
  ],
  [/^(ajv|ajv-formats|fast-uri|json-schema-traverse|fast-deep-equal)\//, "request validation (Ajv)"],
  [
    /^(@grpc\/[^/]+|protobufjs|@protobufjs\/[^/]+|@bufbuild\/protobuf|long|cockatiel)\//,
    "gRPC (grpc-js, HTTP/2 framing, protobuf codecs, cockatiel policies, platform/grpc-*)",
  ],
  [
    /^(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|on-exit-leak-free|atomic-sleep|safe-stable-stringify|fast-safe-stringify)\//,
    "logging (pino, platform/logging.ts)",
  ],
  [
    /^(@opentelemetry\/|require-in-the-middle|import-in-the-middle|shimmer)/,
    "tracing (@opentelemetry, platform/tracing.ts, platform/grpc-tracing.ts, the gateway's http-tracing.ts)",
  ],
  [/^(prom-client|tdigest|bintrees)\//, "metrics (prom-client, platform/metrics.ts)"],
];

const TRACING: Category =
  "tracing (@opentelemetry, platform/tracing.ts, platform/grpc-tracing.ts, the gateway's http-tracing.ts)";

const SOURCE_CATEGORIES: readonly [RegExp, Category][] = [
  [/^generated\//, "gRPC (grpc-js, HTTP/2 framing, protobuf codecs, cockatiel policies, platform/grpc-*)"],
  [/^platform\/grpc-tracing/, TRACING],
  [/^services\/gateway\/transport\/http-tracing/, TRACING],
  [/^platform\/grpc-/, "gRPC (grpc-js, HTTP/2 framing, protobuf codecs, cockatiel policies, platform/grpc-*)"],
  [/^platform\/logging/, "logging (pino, platform/logging.ts)"],
  [/^platform\/tracing/, TRACING],
  [/^platform\/metrics/, "metrics (prom-client, platform/metrics.ts)"],
  [/^platform\//, "other Charter platform code (platform/)"],
  [
    /^services\/gateway\/transport\/rate-limit/,
    "rate limiting and security headers (@fastify/rate-limit, helmet, cors; the gateway's rate-limit.ts)",
  ],
  [/^services\/gateway\//, "gateway code (services/gateway)"],
  [/^services\/users\//, "users service code (services/users: handlers, cache, store)"],
];

/** Loading modules and compiling the contract's schemas happen once, when a process starts. */
const IS_START = /^node:internal\/(modules|bootstrap)\/|\/node_modules\/(tsx\/dist|ajv\/dist\/compile)\//;
/** Fastify's reply serializer: the gateway's compiled one validates the response against the contract, then stringifies. */
const isSerialize = (frame: CallFrame) =>
  frame.functionName === "serialize" && frame.url.endsWith("/fastify/lib/reply.js");
/** Fastify validating a request, or a function Ajv compiled from the contract (new Function: no URL). */
/** The outbox relay, the event bus and the audit consumer: the write's events, run after it in the same process. */
const isEvents = (frame: CallFrame) =>
  /\/(services\/users\/app\/outbox-relay|platform\/events\/|services\/audit\/)/.test(frame.url);
const isValidate = (frame: CallFrame) =>
  frame.url.endsWith("/fastify/lib/validation.js") || (frame.url === "" && /^validate\d+$/.test(frame.functionName));

/** The path of a frame's script relative to the repository or to node_modules (`fastify/lib/route.js`). */
export function shortUrl(url: string): string {
  const inModules = url.lastIndexOf("/node_modules/");
  if (inModules >= 0) return url.slice(inModules + "/node_modules/".length);
  const cwd = `file://${process.cwd()}/`;
  return url.startsWith(cwd) ? url.slice(cwd.length) : url;
}

/** The category a frame's own code belongs to, or undefined for a builtin or a Node internal. */
function codeCategory(url: string): Category | undefined {
  if (url === "" || url.startsWith("node:")) return undefined;
  const short = shortUrl(url);
  const table = url.includes("/node_modules/") ? PACKAGE_CATEGORIES : SOURCE_CATEGORIES;
  for (const [pattern, category] of table) if (pattern.test(short)) return category;
  return url.includes("/node_modules/") ? "other packages" : undefined;
}

function nodeCategory(url: string): Category {
  if (/^node:(internal\/)?async_hooks/.test(url)) return "async context (async_hooks: context propagation)";
  if (/^node:(_http_|http$|net$|internal\/(http|net|stream_base|streams\/)|stream$)/.test(url)) {
    return "Node HTTP/1 parsing and sockets (no package on the stack)";
  }
  return "other Node internals (timers, events, streams)";
}

/** Every node's stack, root first (without V8's "(root)"), computed once. */
function stacks(profile: CpuProfile): Map<number, readonly CallFrame[]> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const result = new Map<number, readonly CallFrame[]>();
  const stackOf = (id: number): readonly CallFrame[] => {
    const known = result.get(id);
    if (known) return known;
    const node = byId.get(id);
    if (!node) return [];
    const up = parent.get(id);
    const above = up === undefined ? [] : stackOf(up);
    const stack = node.callFrame.functionName === "(root)" && up === undefined ? [] : [...above, node.callFrame];
    result.set(id, stack);
    return stack;
  };
  for (const node of profile.nodes) stackOf(node.id);
  return result;
}

/** The category of one sample's stack (see the file's comment). */
export function categorize(stack: readonly CallFrame[]): Category {
  const leaf = stack.at(-1);
  if (!leaf) return "V8 and native, unattributed ((program))";
  if (leaf.functionName === "(idle)") return "idle";
  if (leaf.functionName === "(garbage collector)") return "garbage collection";
  if (leaf.functionName === "(program)") return "V8 and native, unattributed ((program))";
  if (stack.some((frame) => IS_START.test(frame.url))) return "start (module loading, tsx, schema compilation)";
  // Hooks run by async_hooks are the cost of context propagation, whoever made the promise or resource.
  const deepestScript = [...stack].reverse().find((frame) => frame.url !== "");
  if (deepestScript && /^node:(internal\/)?async_hooks/.test(deepestScript.url)) {
    return "async context (async_hooks: context propagation)";
  }
  if (stack.some(isEvents)) return "events (outbox relay, in-process bus, audit consumer)";
  if (stack.some(isSerialize)) return "response validation and serialization (Ajv, JSON.stringify)";
  if (stack.some(isValidate)) return "request validation (Ajv)";
  for (let i = stack.length - 1; i >= 0; i--) {
    const category = codeCategory(stack[i]?.url ?? "");
    if (category) return category;
  }
  return deepestScript ? nodeCategory(deepestScript.url) : "other Node internals (timers, events, streams)";
}

const frameLabel = (frame: CallFrame): string => {
  const where = frame.url === "" ? "" : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
  return `${frame.functionName || "(anonymous)"}${where}`.replace(/[;\n]/g, ",");
};

export interface Analysis {
  /** `frame;frame;frame count` lines, sorted, without idle and start samples. */
  readonly folded: string;
  /** Samples by category (every sample). */
  readonly samples: ReadonlyMap<Category, number>;
  /** The sampling interval, from the profile's span and sample count (µs). */
  readonly intervalUs: number;
}

export function analyze(profile: CpuProfile): Analysis {
  const byNode = stacks(profile);
  const counts = new Map<string, number>();
  const samples = new Map<Category, number>(CATEGORIES.map((category) => [category, 0]));
  for (const id of profile.samples) {
    const stack = byNode.get(id) ?? [];
    const category = categorize(stack);
    samples.set(category, (samples.get(category) ?? 0) + 1);
    if (category === "idle" || category === "start (module loading, tsx, schema compilation)") continue;
    const line = stack.map(frameLabel).join(";") || "(program)";
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  const folded = [...counts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([line, count]) => `${line} ${count}`)
    .join("\n");
  const intervalUs = profile.samples.length > 0 ? (profile.endTime - profile.startTime) / profile.samples.length : 0;
  return { folded: `${folded}\n`, samples, intervalUs };
}
