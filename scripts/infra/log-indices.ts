/**
 * The daily log indices in OpenSearch (`charter-logs-YYYY.MM.DD`, written by the rsyslog shipper, rsyslog.ts): the
 * index template that maps the fields the services and Traefik log, and the retention job that deletes the days
 * older than the configured age (the OpenSearch distribution used here has no ISM plugin to do it).
 */
import { LOG_INDEX_PREFIX } from "./rsyslog.js";

/**
 * The fields the services log (platform/logging.ts and the request/RPC lines), what the shipper adds (`instance`,
 * `host`, `@timestamp`, `parse_error`) and Traefik's access-log fields that matter; anything else stays in _source
 * only (dynamic: false), so no line can make a mapping conflict on a field nobody queries.
 */
export const LOG_MAPPINGS = {
  dynamic: false,
  properties: {
    "@timestamp": { type: "date" },
    time: { type: "date" },
    level: { type: "keyword" },
    service: { type: "keyword" },
    instance: { type: "keyword" },
    host: { type: "keyword" },
    msg: { type: "text", fields: { keyword: { type: "keyword", ignore_above: 256 } } },
    parse_error: { type: "keyword" },
    trace_id: { type: "keyword" },
    span_id: { type: "keyword" },
    requestId: { type: "keyword" },
    route: { type: "keyword" },
    rpc: { type: "keyword" },
    code: { type: "keyword" },
    operation: { type: "keyword" },
    method: { type: "keyword" },
    status: { type: "integer" },
    duration_ms: { type: "float" },
    // Traefik's JSON access log (Duration in nanoseconds; TraceId/SpanId when Traefik traces).
    RequestPath: { type: "keyword" },
    RequestMethod: { type: "keyword" },
    RequestHost: { type: "keyword" },
    DownstreamStatus: { type: "integer" },
    OriginStatus: { type: "integer" },
    Duration: { type: "long" },
    RouterName: { type: "keyword" },
    ServiceURL: { type: "keyword" },
    TraceId: { type: "keyword" },
    SpanId: { type: "keyword" },
  },
} as const;

/** The name of the index template that covers `<prefix>*`. */
export const LOG_TEMPLATE_NAME = "charter-logs";

async function call(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}${path}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/**
 * Puts the index template `charter-logs` for `<prefix>*` (one shard, no replica: a single node; LOG_MAPPINGS).
 * Idempotent; to be put before the shipper creates the day's first index, which keeps the mappings it was made with.
 */
export async function putLogTemplate(url: string, prefix = LOG_INDEX_PREFIX): Promise<void> {
  await call(url, "PUT", `/_index_template/${LOG_TEMPLATE_NAME}`, {
    index_patterns: [`${prefix}*`],
    priority: 100,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: LOG_MAPPINGS,
    },
  });
}

/** The UTC day an index holds (`<prefix>YYYY.MM.DD`), as epoch ms at 00:00, or undefined for another name. */
export function logIndexDay(name: string, prefix = LOG_INDEX_PREFIX): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const match = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(name.slice(prefix.length));
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const time = Date.UTC(year, month - 1, day);
  // 2026.02.31 is not a day: Date.UTC would roll it over into March.
  return new Date(time).getUTCDate() === day && new Date(time).getUTCMonth() === month - 1 ? time : undefined;
}

export interface RetentionOptions {
  /** Days kept before today (UTC): with 7, today's index and the 7 before it stay. */
  readonly maxAgeDays: number;
  /** Today, for the age (default: now). */
  readonly now?: Date;
  readonly prefix?: string;
}

const DAY_MS = 86_400_000;

/**
 * The retention job: lists `<prefix>*` indices, and deletes each whose day is more than `maxAgeDays` days before
 * today (UTC). Indices whose name has no valid date are left alone. Returns the deleted names, sorted.
 */
export async function deleteOldLogIndices(url: string, opts: RetentionOptions): Promise<string[]> {
  if (!Number.isInteger(opts.maxAgeDays) || opts.maxAgeDays < 0) {
    throw new Error(`maxAgeDays must be a whole number of days ≥ 0, got ${opts.maxAgeDays}`);
  }
  const prefix = opts.prefix ?? LOG_INDEX_PREFIX;
  const now = opts.now ?? new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const oldest = today - opts.maxAgeDays * DAY_MS;
  const listed = (await call(url, "GET", `/_cat/indices/${encodeURIComponent(prefix)}*?format=json&h=index`)) as {
    index: string;
  }[];
  const old = listed
    .map((entry) => entry.index)
    .filter((name) => {
      const day = logIndexDay(name, prefix);
      return day !== undefined && day < oldest;
    })
    .sort();
  for (const name of old) await call(url, "DELETE", `/${encodeURIComponent(name)}`);
  return old;
}
