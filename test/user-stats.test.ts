/**
 * The latest user stats (GetUserStats, GET /v1/stats/users, GraphQL userStats) end to end through the real audit
 * service and an in-process gateway. On embedded defaults (the in-process bus: no Kafka, so no stats job) every
 * door says the stats pipeline is not running: the contract's 503 problem on REST, UNAVAILABLE on GraphQL and
 * gRPC. On a real Kafka, records written as the streaming job writes them — in transactions, one window twice with
 * other counts, a malformed record between, and a newer window in a transaction that is aborted — make every door
 * answer the latest window's last version, and the malformed record is skipped; a second instance's reader,
 * started afterwards, reads the same latest window.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { Kafka, logLevel } from "kafkajs";
import { userEventChannels } from "../generated/asyncapi/users-events.js";
import { AuditServiceClient, type GetUserStatsResponse } from "../generated/proto/charter/audit/v1/audit.js";
import { createTokenVerifier } from "../platform/auth/token-verifier.js";
import { createEventBus, createMemoryBus, type EventBus } from "../platform/events/index.js";
import { createLogger } from "../platform/logging.js";
import { startKafka } from "../scripts/infra/index.js";
import { waitFor } from "../scripts/lib/processes.js";
import { createMemoryLatestStats } from "../services/audit/adapters/memory-latest-stats.js";
import { createStatsReader } from "../services/audit/app/stats-reader.js";
import { type RunningAudit, startAudit, statsGroupOf } from "../services/audit/audit-app.js";
import { loadAuditConfig } from "../services/audit/audit-config.js";
import { createAuditBackend } from "../services/gateway/adapters/audit-backend.js";
import type { AuditBackend } from "../services/gateway/app/backends.js";
import { buildGateway } from "../services/gateway/app.js";
import { registerGraphql } from "../services/gateway/transport/graphql/index.js";
import { startTestIssuer } from "./support/auth.js";
import { inProcessGatewayOptions } from "./support/in-process-gateway.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());
const validator = createOpenApiValidator();
const logger = createLogger("audit", "silent");
const STATS_TOPIC = userEventChannels.userStats;
const DEADLINE_MS = 30_000;
const QUERY = "{ userStats { windowStart windowEnd created updated deleted liveUsers lateEvents } }";

/** The audit service on port 0 (and the bus it reads), an in-process gateway in front of it, and a gRPC client. */
async function startStack(bus: EventBus, env: Record<string, string>) {
  const audit: RunningAudit = await startAudit(
    loadAuditConfig({
      ...issuer.env,
      ...env,
      AUDIT_HOST: "127.0.0.1",
      AUDIT_GRPC_PORT: "0",
      AUDIT_METRICS_PORT: "0",
      AUDIT_RETRY_DELAY_MS: "100",
      LOG_LEVEL: "silent",
    }),
    logger,
    { bus, resources: [{ name: "event bus", close: () => bus.close() }] },
  );
  const target = `127.0.0.1:${audit.grpcPort}`;
  const backend: AuditBackend = createAuditBackend({ target, deadlineMs: 2_000 });
  const verifier = createTokenVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    clockSkewS: 30,
    jwksCacheMs: 60_000,
    jwksCooldownMs: 0,
  });
  const gateway = await buildGateway(
    inProcessGatewayOptions({
      audit: backend,
      auth: { issuer: issuer.issuer, verifier },
      plugins: [(app, deps) => registerGraphql(app, { users: deps.users, audit: deps.audit, graphiql: false })],
    }),
  );
  const grpc = new AuditServiceClient(target, credentials.createInsecure());

  /** GET /v1/stats/users, checked against the contract's getUserStats. */
  const rest = async () => {
    const response = await gateway.inject({ method: "GET", url: "/v1/stats/users", headers: { authorization } });
    const headers = new Headers(
      Object.entries(response.headers).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, String(value)] as [string, string]],
      ),
    );
    assert.deepEqual(
      validator.check("getUserStats", { status: response.statusCode, headers, text: response.body }),
      [],
    );
    return { status: response.statusCode, headers, body: response.json() as Record<string, unknown> };
  };
  const graphql = async () => {
    const response = await gateway.inject({
      method: "POST",
      url: "/graphql",
      headers: { authorization },
      payload: { query: QUERY },
    });
    return response.json() as {
      data?: { userStats: Record<string, unknown> | null };
      errors?: { message: string; extensions: { code: string; reason?: string } }[];
    };
  };
  const rpc = () =>
    new Promise<{ error: ServiceError | null; response: GetUserStatsResponse | undefined }>((resolve) => {
      const metadata = new Metadata();
      metadata.set("authorization", authorization);
      grpc.getUserStats({}, metadata, { deadline: Date.now() + 2_000 }, (error, response) =>
        resolve({ error, response }),
      );
    });
  return {
    audit,
    rest,
    graphql,
    rpc,
    async stop() {
      grpc.close();
      await gateway.close();
      backend.close();
      await audit.stop();
    },
  };
}

describe("user stats on embedded defaults", () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  before(async () => {
    stack = await startStack(createMemoryBus(), {});
  });
  after(() => stack?.stop());

  test("REST is the contract's 503 problem, GraphQL and gRPC UNAVAILABLE: the stats pipeline is not running", async () => {
    const rest = await stack.rest();
    assert.equal(rest.status, 503);
    assert.match(String(rest.headers.get("content-type")), /^application\/problem\+json/);
    assert.equal(rest.headers.get("retry-after"), "1");
    assert.equal(rest.body.code, "UNAVAILABLE");
    assert.match(String(rest.body.detail), /^the stats pipeline is not running/);

    const { data, errors } = await stack.graphql();
    assert.deepEqual(data, { userStats: null });
    assert.equal(errors?.length, 1);
    assert.equal(errors?.[0]?.extensions.code, "UNAVAILABLE");
    assert.equal(errors?.[0]?.extensions.reason, "STATS_PIPELINE_NOT_RUNNING");
    assert.match(String(errors?.[0]?.message), /^the stats pipeline is not running/);

    const { error } = await stack.rpc();
    assert.equal(error?.code, 14);
    assert.match(String(error?.details), /^the stats pipeline is not running/);
  });
});

describe("user stats from a real Kafka", () => {
  let kafka: Awaited<ReturnType<typeof startKafka>>;
  let stack: Awaited<ReturnType<typeof startStack>>;
  let client: Kafka;
  before(async () => {
    kafka = await startKafka();
    const brokers = [`${kafka.host}:${kafka.port}`];
    client = new Kafka({ clientId: "user-stats-test", brokers, logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: STATS_TOPIC, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const bus = await createEventBus({ brokers, clientId: "audit-stats-test", logger });
    stack = await startStack(bus, { KAFKA_BROKERS: brokers.join(","), AUDIT_INSTANCE_ID: "stats-test" });
  });
  after(async () => {
    await stack?.stop();
    await kafka?.stop();
  });

  /** A record as the streaming job writes it: keyed by the window's start, CloudEvents headers, every field. */
  const record = (start: string, counts: [number, number, number, number, number]) => {
    const end = new Date(Date.parse(start) + 60_000).toISOString().replace(".000Z", "Z");
    const [created, updated, deleted, liveUsers, lateEvents] = counts;
    return {
      key: start,
      value: JSON.stringify({ windowStart: start, windowEnd: end, created, updated, deleted, liveUsers, lateEvents }),
      headers: {
        ce_specversion: "1.0",
        ce_id: `user-stats-${start}`,
        ce_type: "charter.users.v1.UserStats",
        ce_source: "/charter/jobs/user-stats",
        ce_time: end,
        "content-type": "application/json",
      },
    };
  };

  test("every door serves the latest window's last version; a malformed or aborted record changes nothing", async () => {
    const A = "2026-01-15T09:30:00Z";
    const B = "2026-01-15T09:31:00Z";
    const producer = client.producer({ transactionalId: "user-stats-test", idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const first = await producer.transaction();
      await first.send({
        topic: STATS_TOPIC,
        messages: [
          record(B, [3, 1, 0, 10, 0]),
          record(A, [7, 2, 1, 7, 0]),
          // Not a UserStats: counts missing. Keyed as B, so it sits between B's two versions in their partition.
          { key: B, value: JSON.stringify({ windowStart: B, windowEnd: "2026-01-15T09:32:00Z" }) },
        ],
      });
      await first.commit();
      // A newer window in a transaction that is aborted: a reader of committed records never sees it.
      const aborted = await producer.transaction();
      await aborted.send({ topic: STATS_TOPIC, messages: [record("2026-01-15T09:45:00Z", [99, 99, 99, 99, 99])] });
      await aborted.abort();
      // The late firing of B: its counts updated.
      const second = await producer.transaction();
      await second.send({ topic: STATS_TOPIC, messages: [record(B, [4, 1, 0, 11, 2])] });
      await second.commit();
    } finally {
      await producer.disconnect();
    }
    // Times as every timestamp of the platform is served: RFC 3339 in UTC with milliseconds.
    const expected = {
      windowStart: "2026-01-15T09:31:00.000Z",
      windowEnd: "2026-01-15T09:32:00.000Z",
      created: 4,
      updated: 1,
      deleted: 0,
      liveUsers: 11,
      lateEvents: 2,
    };

    const rest = await waitFor(
      "GET /v1/stats/users answers B's second version",
      async () => {
        const answer = await stack.rest();
        return answer.status === 200 && answer.body.liveUsers === 11 ? answer : undefined;
      },
      DEADLINE_MS,
    );
    assert.deepEqual(rest.body, expected);
    assert.deepEqual(await stack.graphql(), { data: { userStats: expected } });
    const { error, response } = await stack.rpc();
    assert.equal(error, null);
    assert.deepEqual(response?.stats, expected);

    // The malformed record was read and skipped (counted), and the reader went on past it.
    const metrics = (await (await fetch(`http://127.0.0.1:${stack.audit.metricsPort}/metrics`)).text())
      .split("\n")
      .filter((line) => line.startsWith("charter_audit_stats_"));
    assert.ok(metrics.includes('charter_audit_stats_records_total{outcome="invalid",service="audit"} 1'), `${metrics}`);
    assert.ok(metrics.includes('charter_audit_stats_reader_up{service="audit"} 1'), `${metrics}`);

    // The first instance's reader committed no offset: its next start reads the topic from the beginning again.
    const admin = client.admin();
    await admin.connect();
    try {
      const groupId = statsGroupOf({ groupId: "charter-audit", instanceId: "stats-test" });
      const { groups } = await admin.describeGroups([groupId]);
      assert.deepEqual(
        groups.map((g) => [g.state, g.members.length]),
        [["Stable", 1]],
        "the reader is the one member of its group",
      );
      const [committed] = await admin.fetchOffsets({ groupId, topics: [STATS_TOPIC] });
      assert.deepEqual(
        committed?.partitions.map((p) => p.offset),
        ["-1", "-1", "-1"],
      );
    } finally {
      await admin.disconnect();
    }

    // Another instance, started after the first has read everything, reads the whole topic in a group of its own:
    // every instance serves the same latest window.
    const bus = await createEventBus({ brokers: [`${kafka.host}:${kafka.port}`], clientId: "stats-second", logger });
    const store = createMemoryLatestStats();
    const second = createStatsReader({
      bus,
      store,
      groupId: statsGroupOf({ groupId: "charter-audit", instanceId: "stats-second" }),
      clientId: "stats-second",
      logger,
    });
    try {
      await second.start();
      await waitFor(
        "the second instance to read B's second version",
        () => store.latest()?.liveUsers === 11 || undefined,
        DEADLINE_MS,
      );
      assert.deepEqual(store.latest(), expected);
    } finally {
      await second.stop();
      await bus.close();
    }
  });
});
