/**
 * User events on a real Apache Kafka (KRaft, one node) and a real MongoDB-compatible store: the users service
 * publishes through its outbox, the audit service runs as its own process in the consumer group, the gateway
 * serves the history. Create/update/delete show up in order through REST and GraphQL; a malformed message lands
 * in the dead-letter topic while the partition goes on; with Kafka stopped for 30 s writes keep succeeding, the
 * outbox backlog rises, and every event arrives once Kafka is back (restarted on its log dir, with its SCRAM users).
 * The broker is secured as in `npm run start:cluster` (test/support/secured-kafka.ts): SASL_SSL with SCRAM-SHA-256,
 * the services configured through KAFKA_TLS, KAFKA_TLS_CA_FILE and KAFKA_SASL_* as deployed. The topics get the
 * configuration of the AsyncAPI contract, and an erased user's dead letters are compacted away.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata } from "@grpc/grpc-js";
import kafkajs, { Kafka, logLevel } from "kafkajs";
import { userEventChannels, userEventTopicConfigs } from "../generated/asyncapi/users-events.js";
import {
  AuditServiceClient,
  type EraseUserHistoryResponse,
  type ListUserHistoryResponse,
} from "../generated/proto/charter/audit/v1/audit.js";
import type { IncomingMessage } from "../platform/events/bus.js";
import { createKafkaBus } from "../platform/events/kafka-bus.js";
import { createLogger } from "../platform/logging.js";
import { type RunningServer, startMongo } from "../scripts/infra/index.js";
import { metricValue, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { type SecuredKafka, startSecuredKafka } from "./support/secured-kafka.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const HISTORY_DEADLINE_MS = 15_000;
const OUTAGE_MS = 30_000;
const json = { "content-type": "application/json", authorization };

let kafka: SecuredKafka;
let mongo: RunningServer;
let users: ServiceProcess;
let audit: ServiceProcess;
let gateway: ServiceProcess;
let baseUrl: string;

before(async () => {
  // The log cleaner looks for work every 100 ms rather than 15 s, so a compaction is seen within the test.
  [kafka, mongo] = await Promise.all([startSecuredKafka({ "log.cleaner.backoff.ms": 100 }), startMongo()]);
  users = await startService(
    "services/users/main.ts",
    {
      ...kafka.env("users"),
      MONGO_URL: mongo.url,
      USERS_HOST: "127.0.0.1",
      ...issuer.env,
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      OUTBOX_POLL_INTERVAL_MS: "100",
    },
    "users service ready",
    60_000,
  );
  audit = await startService(
    "services/audit/main.ts",
    {
      ...kafka.env("audit"),
      MONGO_URL: mongo.url,
      AUDIT_HOST: "127.0.0.1",
      ...issuer.env,
      AUDIT_GRPC_PORT: "0",
      AUDIT_METRICS_PORT: "0",
      AUDIT_RETRY_DELAY_MS: "100",
    },
    "audit service ready",
    60_000,
  );
  gateway = await startService(
    "services/gateway/main.ts",
    {
      GATEWAY_HOST: "127.0.0.1",
      ...issuer.env,
      GATEWAY_PORT: "0",
      ...otherServicesOffline(),
      USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`,
      AUDIT_ADDR: `127.0.0.1:${audit.ready.grpcPort}`,
      ...LOAD_BUDGET,
    },
    "gateway ready",
  );
  baseUrl = `http://127.0.0.1:${gateway.ready.port}`;
});

after(async () => {
  await gateway?.stop();
  await Promise.all([users?.stop(), audit?.stop()]);
  await Promise.all([kafka?.stop(), mongo?.stop()]);
});

async function create(name: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/users`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ name, email: `${randomUUID()}@example.com` }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

async function historyOf(id: string): Promise<{ type: string; version: string; eventId: string }[]> {
  const response = await fetch(`${baseUrl}/v1/users/${id}/history?pageSize=1000`, { headers: { authorization } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { events: { type: string; version: string; eventId: string }[] }).events;
}

describe("user events on Apache Kafka", () => {
  test("create, update, delete: the history shows the three events in order, through REST and GraphQL", async () => {
    const id = await create("Ada Lovelace");
    const patched = await fetch(`${baseUrl}/v1/users/${id}`, {
      method: "PATCH",
      headers: json,
      body: JSON.stringify({ name: "Ada King" }),
    });
    assert.equal(patched.status, 200);
    assert.equal(
      (await fetch(`${baseUrl}/v1/users/${id}`, { method: "DELETE", headers: { authorization } })).status,
      204,
    );
    const events = await waitFor(
      "three events",
      async () => {
        const list = await historyOf(id);
        return list.length >= 3 ? list : undefined;
      },
      HISTORY_DEADLINE_MS,
      50,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.version]),
      [
        ["CREATED", "1"],
        ["UPDATED", "2"],
        ["DELETED", "3"],
      ],
    );
    // Across Kafka, each change names the subject of the token that made it (asked of the audit service itself).
    const auditClient = new AuditServiceClient(`127.0.0.1:${audit.ready.grpcPort}`, credentials.createInsecure());
    const served = await new Promise<ListUserHistoryResponse>((resolve, reject) =>
      auditClient.listUserHistory(
        { userId: id, pageToken: "" },
        Metadata.fromHttp2Headers({ authorization }),
        (error, response) => (error ? reject(error) : resolve(response)),
      ),
    ).finally(() => auditClient.close());
    assert.deepEqual(
      served.events.map((e) => e.actor),
      ["charter-dev", "charter-dev", "charter-dev"],
      "the actor rides the outbox, Kafka and the audit service",
    );
    const graphql = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ query: `{ userHistory(id: "${id}") { nodes { type version } } }` }),
    });
    const body = (await graphql.json()) as { data: { userHistory: { nodes: { type: string; version: string }[] } } };
    assert.deepEqual(
      body.data.userHistory.nodes.map((n) => [n.type, n.version]),
      events.map((e) => [e.type, e.version]),
    );
  });

  test("a malformed message goes to the dead-letter topic with its reason, and the partition goes on", async () => {
    const bus = createKafkaBus({
      brokers: [kafka.url],
      clientId: "test-dlq",
      logger: createLogger("test", "warn"),
      security: kafka.security,
    });
    const letters: { key: string | undefined; reason: string | undefined; value: string | undefined }[] = [];
    const reader = bus.consumer({ groupId: `dlq-${randomUUID()}`, topic: userEventChannels.userEventsDeadLetter });
    try {
      await reader.start(async (m) => {
        letters.push({ key: m.key, reason: m.headers.dlq_reason, value: m.value?.toString() });
      });
      const id = await create("Before the bad message");
      const producer = bus.producer();
      // Same key as the user: the same partition as its events, ahead of the update below.
      await producer.send(userEventChannels.userEvents, [{ key: id, value: '{"eventId": 42}' }]);
      await producer.close();
      const patched = await fetch(`${baseUrl}/v1/users/${id}`, {
        method: "PATCH",
        headers: json,
        body: JSON.stringify({ name: "After the bad message" }),
      });
      assert.equal(patched.status, 200);
      await waitFor(
        "the update after the bad message",
        async () => ((await historyOf(id)).length === 2 ? true : undefined),
        HISTORY_DEADLINE_MS,
      );
      const letter = await waitFor("the dead letter", () => letters.find((l) => l.key === id), HISTORY_DEADLINE_MS);
      assert.equal(letter.value, '{"eventId": 42}');
      assert.match(letter.reason ?? "", /eventId/);
    } finally {
      await reader.stop();
      await bus.close();
    }
  });

  test("the topics have the contract's configuration; an erased user's dead letters are compacted away", async () => {
    const admin = new Kafka({
      clientId: "test-topics",
      brokers: [kafka.url],
      ...kafka.kafkajs,
      logLevel: logLevel.NOTHING,
    }).admin();
    const markers = new Kafka({
      clientId: "test-markers",
      brokers: [kafka.url],
      ...kafka.kafkajs,
      logLevel: logLevel.NOTHING,
    }).producer();
    const bus = createKafkaBus({
      brokers: [kafka.url],
      clientId: "test-erasure",
      logger: createLogger("test", "warn"),
      security: kafka.security,
    });
    const dlq = userEventChannels.userEventsDeadLetter;
    const configOf = async (topic: string) => {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }],
      });
      return Object.fromEntries(
        (described.resources[0]?.configEntries ?? []).map((entry) => [entry.configName, entry.configValue]),
      );
    };
    try {
      await Promise.all([admin.connect(), markers.connect()]);
      const [erased, kept] = [await create("Erased"), await create("Kept")];
      const producer = bus.producer();
      await producer.send(userEventChannels.userEvents, [
        { key: erased, value: '{"name": "Erased", "email": "erased@example.com"}' },
        { key: kept, value: '{"name": "Kept"}' },
      ]);
      /**
       * The dead-letter topic from its start up to a new marker in each partition (whose append also closes the
       * segment before it, which compaction then may take).
       */
      const letters = async (): Promise<IncomingMessage[]> => {
        const marker = `marker-${randomUUID()}`;
        const partitions = (await admin.fetchTopicOffsets(dlq)).map((p) => p.partition);
        await markers.send({
          topic: dlq,
          messages: partitions.map((partition) => ({ key: marker, value: "", partition })),
        });
        const seen: IncomingMessage[] = [];
        const reached = new Set<number>();
        const reader = bus.consumer({ groupId: `dlq-${randomUUID()}`, topic: dlq });
        await reader.start(async (m) => {
          if (m.key === marker) reached.add(m.partition);
          else if (!reached.has(m.partition)) seen.push(m);
        });
        try {
          await waitFor(
            "the dead-letter topic read up to the markers",
            () => (reached.size === partitions.length ? true : undefined),
            30_000,
          );
        } finally {
          await reader.stop();
        }
        return seen;
      };
      const before = await waitFor(
        "both dead letters",
        async () => {
          const all = await letters();
          return all.some((m) => m.key === erased) && all.some((m) => m.key === kept) ? all : undefined;
        },
        HISTORY_DEADLINE_MS,
      );
      assert.ok(before.some((m) => m.key === erased && m.value?.toString().includes("erased@example.com")));
      // Made by whichever client came first (the test's have no configuration): the services applied the contract's.
      for (const topic of [userEventChannels.userEvents, dlq]) {
        const config = await configOf(topic);
        for (const [name, value] of Object.entries(userEventTopicConfigs[topic] ?? {})) {
          assert.equal(config[name], value, `${topic}: ${name}`);
        }
      }
      assert.equal((await configOf(dlq))["cleanup.policy"], "compact,delete");

      // Segments close at once and the cleaner may take any closed one: the compaction, not its schedule, is tested.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name: dlq,
            configEntries: Object.entries({
              ...userEventTopicConfigs[dlq],
              "segment.ms": "100",
              "max.compaction.lag.ms": "100",
              "min.cleanable.dirty.ratio": "0.01",
            }).map(([name, value]) => ({ name, value })),
          },
        ],
      });

      await waitFor(
        "the erased user's CREATED event in the history",
        async () => ((await historyOf(erased)).length === 1 ? true : undefined),
        HISTORY_DEADLINE_MS,
      );
      const token = await issuer.tokenWith(["users:erase"]);
      const client = new AuditServiceClient(`127.0.0.1:${audit.ready.grpcPort}`, credentials.createInsecure());
      const answer = await new Promise<EraseUserHistoryResponse>((resolve, reject) =>
        client.eraseUserHistory(
          { userId: erased, eraseAfter: undefined },
          Metadata.fromHttp2Headers({ authorization: `Bearer ${token}` }),
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      );
      client.close();
      assert.deepEqual(answer, { erasedEvents: 1, pending: false });
      const after = await waitFor(
        "the erased user's dead letters compacted away",
        async () => {
          const all = (await letters()).filter((m) => m.key === erased || m.key === kept);
          return all.filter((m) => m.key === erased).every((m) => m.value === undefined) ? all : undefined;
        },
        30_000,
      );
      assert.deepEqual(
        after.filter((m) => m.key === erased).map((m) => m.value),
        [undefined],
        "the tombstone alone",
      );
      assert.deepEqual(
        after.filter((m) => m.key === kept).map((m) => m.value?.toString()),
        ['{"name": "Kept"}'],
        "another user's dead letter stays",
      );
      await producer.close();
    } finally {
      await bus.close();
      await Promise.all([admin.disconnect(), markers.disconnect()]);
    }
  });

  test("Kafka stopped for 30 s: writes succeed, the backlog rises and falls, every event arrives", async () => {
    const metricsPort = Number(users.ready.metricsPort);
    const backlog = () => metricValue(metricsPort, "charter_users_outbox_backlog");
    await waitFor("an empty backlog", async () => ((await backlog()) === 0 ? true : undefined), HISTORY_DEADLINE_MS);
    await kafka.kill("SIGKILL");
    const started = Date.now();
    const ids: string[] = [];
    let peak = 0;
    while (Date.now() - started < OUTAGE_MS) {
      const id = await create(`During the outage ${ids.length}`);
      ids.push(id);
      const patched = await fetch(`${baseUrl}/v1/users/${id}`, {
        method: "PATCH",
        headers: json,
        body: JSON.stringify({ name: "Renamed during the outage" }),
      });
      assert.equal(patched.status, 200, "writes succeed while Kafka is down");
      peak = Math.max(peak, await backlog());
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(peak >= 2, `the backlog rose during the outage (peak ${peak})`);
    await kafka.restart();
    for (const id of ids) {
      const events = await waitFor(
        `${id}'s two events after Kafka came back`,
        async () => {
          const list = await historyOf(id);
          return list.length >= 2 ? list : undefined;
        },
        120_000,
        200,
      );
      assert.deepEqual(
        events.map((e) => e.type),
        ["CREATED", "UPDATED"],
      );
    }
    await waitFor("the backlog to fall to zero", async () => ((await backlog()) === 0 ? true : undefined), 60_000);
  });
});
