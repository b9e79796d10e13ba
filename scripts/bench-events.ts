/**
 * The events rows of `npm run bench`: how fast changes travel from a write to the history, end to end.
 * N creates go to the users service over gRPC (20 at a time); the clock stops when the audit service has
 * recorded all N events. Reported: events/s (N over first write → last recorded), and the p99 of the outbox
 * relay lag (change → published, from charter_users_outbox_lag_seconds) and of the end-to-end lag (change →
 * recorded, from charter_audit_event_lag_seconds), both to the resolution of the histograms' buckets.
 */
import { createLogger } from "../platform/logging.js";
import { createUsersBackend } from "../services/gateway/adapters/users-backend.js";
import { startKafka, startMongo } from "./infra/index.js";
import { type ServiceProcess, startService, waitFor } from "./lib/processes.js";

export interface EventsRow {
  readonly label: string;
  readonly events: number;
  readonly eventsPerS: number;
  readonly relayLagP99: string;
  readonly endToEndLagP99: string;
}

/** The upper bound of the bucket holding the p99 of a Prometheus histogram, from a /metrics text. */
export function histogramP99(text: string, name: string): string {
  const buckets = text
    .split("\n")
    .filter((line) => line.startsWith(`${name}_bucket{`))
    .map((line) => ({ le: /le="([^"]+)"/.exec(line)?.[1] ?? "+Inf", count: Number(line.split(" ").pop()) }));
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return "n/a";
  const bucket = buckets.find((b) => b.count >= total * 0.99);
  return bucket?.le === "+Inf" || bucket === undefined ? "> largest bucket" : `≤ ${Number(bucket.le) * 1000} ms`;
}

const metricsOf = async (service: ServiceProcess): Promise<string> =>
  (await fetch(`http://127.0.0.1:${service.ready.metricsPort}/metrics`)).text();

const recorded = (text: string): number =>
  text
    .split("\n")
    .filter((line) => line.startsWith('charter_audit_events_consumed_total{outcome="recorded"'))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);

async function run(label: string, count: number, env: Record<string, string>, separateAudit: boolean) {
  const services: ServiceProcess[] = [];
  try {
    const users = await startService(
      "services/users/main.ts",
      { ...env, USERS_HOST: "127.0.0.1", USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0" },
      "users service ready",
      60_000,
    );
    services.push(users);
    const audit = separateAudit
      ? await startService(
          "services/audit/main.ts",
          { ...env, AUDIT_HOST: "127.0.0.1", AUDIT_GRPC_PORT: "0", AUDIT_METRICS_PORT: "0" },
          "audit service ready",
          60_000,
        )
      : users; // hosted: its metrics are the users service's
    if (separateAudit) services.push(audit);
    const client = createUsersBackend({
      target: `127.0.0.1:${users.ready.grpcPort}`,
      deadlineMs: 10_000,
      logger: createLogger("bench", "warn"),
    });
    const before = recorded(await metricsOf(audit));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < count) {
          const i = next++;
          await client.createUser({
            user: {
              id: "",
              etag: "",
              name: `Bench ${i}`,
              email: `bench-events-${label.length}-${Date.now()}-${i}@example.com`,
              createTime: undefined,
              updateTime: undefined,
            },
            requestId: "",
          });
        }
      }),
    );
    await waitFor(
      `${count} events recorded`,
      async () => (recorded(await metricsOf(audit)) - before >= count ? true : undefined),
      300_000,
      20,
    );
    const seconds = (performance.now() - started) / 1000;
    client.close();
    return {
      label,
      events: count,
      eventsPerS: count / seconds,
      relayLagP99: histogramP99(await metricsOf(users), "charter_users_outbox_lag_seconds"),
      endToEndLagP99: histogramP99(await metricsOf(audit), "charter_audit_event_lag_seconds"),
    };
  } finally {
    for (const service of services.reverse()) await service.stop();
  }
}

/** (h) the embedded defaults (in-process bus, memory store); (i) Apache Kafka and the MongoDB-compatible store. */
export async function measureEvents(count: number): Promise<EventsRow[]> {
  const rows: EventsRow[] = [];
  process.stderr.write(`(h) events, in-process bus: ${count} creates… `);
  rows.push(await run("(h) write → history, in-process bus, memory store", count, {}, false));
  process.stderr.write("done\n");
  const [kafka, mongo] = await Promise.all([startKafka(), startMongo()]);
  try {
    process.stderr.write(`(i) events, Kafka: ${count} creates… `);
    const env = { KAFKA_BROKERS: kafka.url, MONGO_URL: mongo.url };
    rows.push(await run("(i) write → history, Kafka + MongoDB-compatible store", count, env, true));
    process.stderr.write("done\n");
  } finally {
    await Promise.all([kafka.stop(), mongo.stop()]);
  }
  return rows;
}
