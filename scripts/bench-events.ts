/**
 * The events rows of `npm run bench`: how fast changes travel from a write to the history, end to end.
 * N creates go to the users service over gRPC (20 at a time); the clock stops when the audit service has
 * recorded all N events. Reported: events/s (N over first write → last recorded), and the p99 of the outbox
 * relay lag (change → published, from charter_users_outbox_lag_seconds) and of the end-to-end lag (change →
 * recorded, from charter_audit_event_lag_seconds), both to the resolution of the histograms' buckets.
 *
 * (m) is the pipeline's anchor, the physical floor of the event path on this machine: the same number of messages
 * produced and consumed with kafkajs and bulk-inserted (insertMany, one commit per batch) into the same
 * MongoDB-compatible store by a minimal script, in this process — no outbox, no relay, no service. Its lag column is
 * produce → inserted, measured per message (the Kafka message timestamp to the insert), not a histogram bucket.
 */
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { DEFAULT_PARTITIONS } from "../platform/events/kafka-bus.js";
import { createLogger } from "../platform/logging.js";
import { createUsersBackend } from "../services/gateway/adapters/users-backend.js";
import { startBenchIssuer } from "./bench-issuer.js";
import { startKafka, startMongo } from "./infra/index.js";
import { type ServiceProcess, startService, waitFor } from "./lib/processes.js";

export interface EventsRow {
  readonly letter: EventsRowLetter;
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

async function run(
  letter: EventsRowLetter,
  label: string,
  count: number,
  env: Record<string, string>,
  separateAudit: boolean,
): Promise<EventsRow> {
  const services: ServiceProcess[] = [];
  // The services check every call's token: an issuer they trust, and its token on every create.
  const issuer = await startBenchIssuer();
  env = { ...env, ...issuer.env };
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
          await client.createUser(
            {
              user: {
                id: "",
                etag: "",
                name: `Bench ${i}`,
                email: `bench-events-${label.length}-${Date.now()}-${i}@example.com`,
                createTime: undefined,
                updateTime: undefined,
              },
              requestId: "",
            },
            { authorization: issuer.authorization },
          );
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
      letter,
      label,
      events: count,
      eventsPerS: count / seconds,
      relayLagP99: histogramP99(await metricsOf(users), "charter_users_outbox_lag_seconds"),
      endToEndLagP99: histogramP99(await metricsOf(audit), "charter_audit_event_lag_seconds"),
    };
  } finally {
    for (const service of services.reverse()) await service.stop();
    await issuer.stop();
  }
}

/** A user event of about the size the relay publishes (JSON, keyed by the user's id). */
function anchorEvent(pass: string, i: number): { key: string; value: string } {
  const userId = String(388_000_000_000_000_000n + BigInt(i));
  const at = new Date().toISOString();
  return {
    key: userId,
    value: JSON.stringify({
      id: `${pass}-${i}`,
      type: "charter.users.v1.UserCreated",
      userId,
      version: 1,
      occurredAt: at,
      user: { id: userId, name: `Bench ${i}`, email: `bench-anchor-${i}@example.com`, etag: "1", createTime: at },
    }),
  };
}

/**
 * One pass of the anchor: a topic with the bus's partition count, a consumer group that commits once per batch
 * after insertMany of the batch into a collection with the history's index, and an idempotent producer (acks=all,
 * the relay's guarantees) sending `count` messages in sends of 500. The clock runs from the first send to the last
 * insert, once the consumer has joined its group.
 */
async function anchorPass(kafkaUrl: string, mongoUrl: string, count: number, pass: string) {
  const kafka = new Kafka({ clientId: `bench-anchor-${pass}`, brokers: [kafkaUrl], logLevel: logLevel.NOTHING });
  const mongo = new MongoClient(mongoUrl);
  const topic = `bench.anchor.${pass}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `bench-anchor-${pass}` });
  try {
    await mongo.connect();
    const history = mongo.db().collection<{ _id: string; userId: string; version: number }>(`bench_anchor_${pass}`);
    await history.createIndex({ userId: 1, version: 1, _id: 1 }, { name: "user_version" });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: DEFAULT_PARTITIONS }], waitForLeaders: true });
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({ topic, fromBeginning: true });
    const lags: number[] = [];
    let done: () => void = () => undefined;
    const allInserted = new Promise<void>((resolve) => {
      done = resolve;
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const messages = batch.messages;
        if (messages.length === 0) return;
        await history.insertMany(
          messages.map((m) => {
            const event = JSON.parse(m.value?.toString() ?? "{}") as { id: string; userId: string; version: number };
            return { _id: event.id, userId: event.userId, version: event.version, event, recordedAt: new Date() };
          }),
          { ordered: true },
        );
        const now = Date.now();
        for (const m of messages) lags.push(now - Number(m.timestamp));
        const last = messages.at(-1)?.offset ?? "0";
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }]);
        if (lags.length >= count) done();
      },
    });
    await joined;
    const started = performance.now();
    for (let next = 0; next < count; next += 500) {
      const messages = Array.from({ length: Math.min(500, count - next) }, (_, j) => anchorEvent(pass, next + j));
      await producer.send({ topic, acks: -1, messages });
    }
    await allInserted;
    const seconds = (performance.now() - started) / 1000;
    lags.sort((a, b) => a - b);
    return { eventsPerS: count / seconds, lagP99: lags[Math.floor(lags.length * 0.99)] ?? 0 };
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
    await mongo.close();
  }
}

/** (m), after an unmeasured pass of up to 500 messages that warms Kafka's and the store's JVMs for it and for (i). */
async function measureAnchor(kafkaUrl: string, mongoUrl: string, count: number): Promise<EventsRow> {
  const run = Date.now().toString(36);
  await anchorPass(kafkaUrl, mongoUrl, Math.min(500, count), `${run}-warmup`);
  const { eventsPerS, lagP99 } = await anchorPass(kafkaUrl, mongoUrl, count, run);
  return {
    letter: "m",
    label: "(m) anchor: kafkajs produce → consume → insertMany",
    events: count,
    eventsPerS,
    relayLagP99: "n/a",
    endToEndLagP99: `${Math.round(lagP99)} ms`,
  };
}

export type EventsRowLetter = "h" | "i" | "m";

/**
 * (h) the embedded defaults (in-process bus, memory store); (m) the pipeline's anchor and (i) Apache Kafka and the
 * MongoDB-compatible store, on one Kafka and one store (started only if (i) or (m) is asked for).
 */
export async function measureEvents(count: number, only: ReadonlySet<EventsRowLetter>): Promise<EventsRow[]> {
  const rows: EventsRow[] = [];
  if (only.has("h")) {
    process.stderr.write(`(h) events, in-process bus: ${count} creates… `);
    rows.push(await run("h", "(h) write → history, in-process bus, memory store", count, {}, false));
    process.stderr.write("done\n");
  }
  if (!only.has("i") && !only.has("m")) return rows;
  const [kafka, mongo] = await Promise.all([startKafka(), startMongo()]);
  try {
    if (only.has("m")) {
      process.stderr.write(`(m) events anchor, kafkajs + insertMany: ${count} messages… `);
      rows.push(await measureAnchor(kafka.url, mongo.url, count));
      process.stderr.write("done\n");
    }
    if (only.has("i")) {
      process.stderr.write(`(i) events, Kafka: ${count} creates… `);
      const env = { KAFKA_BROKERS: kafka.url, MONGO_URL: mongo.url };
      rows.push(await run("i", "(i) write → history, Kafka + MongoDB-compatible store", count, env, true));
      process.stderr.write("done\n");
    }
  } finally {
    await Promise.all([kafka.stop(), mongo.stop()]);
  }
  return rows;
}
