/**
 * The audit service on the in-process bus: strict decoding (what is not a UserEvent goes to the dead-letter topic
 * with its reason, and the partition goes on), exactly-once recording with redeliveries and competing members,
 * ListUserHistory over real gRPC, and a store that fails: the partition pauses and retries, nothing is skipped.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  AuditServiceClient,
  type ListUserHistoryRequest,
  type ListUserHistoryResponse,
} from "../../generated/proto/charter/audit/v1/audit.js";
import { UserEvent, UserEventType } from "../../generated/proto/charter/users/v1/events.js";
import {
  type EventBus,
  type IncomingMessage,
  type OutgoingMessage,
  USER_EVENTS_DLQ_TOPIC,
  USER_EVENTS_TOPIC,
} from "../../platform/events/bus.js";
import { createMemoryBus } from "../../platform/events/memory-bus.js";
import { createLogger } from "../../platform/logging.js";
import { type RunningServer, startMongo } from "../../scripts/infra/index.js";
import { metricValue, waitFor } from "../../scripts/lib/processes.js";
import { type RunningAudit, startAudit } from "./audit-app.js";
import { loadAuditConfig } from "./audit-config.js";
import { createAuditConsumer } from "./audit-consumer.js";
import { createMemoryHistoryStore } from "./stores/memory-history-store.js";
import { decodeUserEvent } from "./user-event-codec.js";

const logger = createLogger("audit", "silent");
const config = (env: Record<string, string> = {}) =>
  loadAuditConfig({ AUDIT_HOST: "127.0.0.1", AUDIT_GRPC_PORT: "0", AUDIT_METRICS_PORT: "0", ...env });

let nextUser = 7_000_000_000;
const newUserId = () => String(nextUser++);

/** A UserEvent of the contract, as the users service publishes it. */
function event(userId: string, version: number, type = UserEventType.USER_EVENT_TYPE_UPDATED): UserEvent {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toISOString();
  return {
    eventId: `${userId}-${version}`,
    type,
    userId,
    user:
      type === UserEventType.USER_EVENT_TYPE_DELETED
        ? undefined
        : {
            id: userId,
            name: `User ${version}`,
            email: `u${userId}@example.com`,
            etag: String(version),
            createTime: "2026-01-01T00:00:00.000Z",
            updateTime: at,
          },
    version: String(version),
    occurredAt: at,
  };
}

const message = (e: UserEvent): OutgoingMessage => ({
  key: e.userId,
  value: JSON.stringify(UserEvent.toJSON(e)),
  headers: { ce_id: e.eventId, ce_specversion: "1.0", ce_type: "charter.users.v1.UserEvent" },
});

const incoming = (value: string, key?: string, headers: Record<string, string> = {}): IncomingMessage => ({
  topic: USER_EVENTS_TOPIC,
  partition: 0,
  offset: "0",
  key,
  value: Buffer.from(value),
  headers,
});

function history(port: number, request: Partial<ListUserHistoryRequest>): Promise<ListUserHistoryResponse> {
  const client = new AuditServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<ListUserHistoryResponse>((resolve, reject) => {
    client.listUserHistory(
      { userId: "", pageSize: 0, pageToken: "", ...request },
      new Metadata(),
      { deadline: Date.now() + 5_000 },
      (error: ServiceError | null, response: ListUserHistoryResponse) => {
        client.close();
        if (error) reject(error);
        else resolve(response);
      },
    );
  });
}

/** Every message on the dead-letter topic, read by a group of its own. */
async function deadLetters(bus: EventBus): Promise<IncomingMessage[]> {
  const seen: IncomingMessage[] = [];
  const reader = bus.consumer({ groupId: `dlq-${randomUUID()}`, topic: USER_EVENTS_DLQ_TOPIC });
  await reader.start(async (m) => {
    seen.push(m);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await reader.stop();
  return seen;
}

describe("decoding a message against the UserEvent contract", () => {
  test("CREATED, UPDATED and DELETED events of the contract decode", () => {
    for (const type of [
      UserEventType.USER_EVENT_TYPE_CREATED,
      UserEventType.USER_EVENT_TYPE_UPDATED,
      UserEventType.USER_EVENT_TYPE_DELETED,
    ]) {
      const e = event("42", 3, type);
      const decoded = decodeUserEvent(incoming(message(e).value, "42", { ce_id: e.eventId }));
      assert.ok(decoded.ok, JSON.stringify(decoded));
      assert.equal(decoded.entry.version, 3);
      assert.equal(decoded.entry.eventId, "42-3");
    }
  });

  test("what is not a UserEvent is refused with a reason", () => {
    const good = UserEvent.toJSON(event("42", 3)) as Record<string, unknown>;
    const cases: [string, IncomingMessage][] = [
      ["not JSON", incoming("{nope")],
      ["an array", incoming("[]")],
      ["no eventId", incoming(JSON.stringify({ ...good, eventId: undefined }))],
      ["unknown type", incoming(JSON.stringify({ ...good, type: "USER_EVENT_TYPE_RENAMED" }))],
      ["numeric id", incoming(JSON.stringify({ ...good, userId: 42 }))],
      ["version 0", incoming(JSON.stringify({ ...good, version: "0" }))],
      ["bad time", incoming(JSON.stringify({ ...good, occurredAt: "yesterday" }))],
      ["UPDATED without user", incoming(JSON.stringify({ ...good, user: undefined }))],
      ["DELETED with a user", incoming(JSON.stringify({ ...good, type: "USER_EVENT_TYPE_DELETED" }))],
      ["another user's snapshot", incoming(JSON.stringify({ ...good, user: { ...(good.user as object), id: "7" } }))],
      ["key is not the user", incoming(JSON.stringify(good), "43")],
      ["ce_id is not the event", incoming(JSON.stringify(good), "42", { ce_id: "other" })],
      ["not UTF-8", { ...incoming(""), value: Buffer.from([0xff, 0xfe, 0x7b]) }],
    ];
    for (const [what, input] of cases) {
      const decoded = decodeUserEvent(input);
      assert.equal(decoded.ok, false, what);
      if (!decoded.ok) assert.ok(decoded.reason.length > 0, what);
    }
  });
});

describe("the audit service on the in-process bus", () => {
  let bus: EventBus;
  let audit: RunningAudit;
  before(async () => {
    bus = createMemoryBus();
    await bus.ensureTopic(USER_EVENTS_TOPIC, 6);
    audit = await startAudit(config(), logger, { bus });
  });
  after(async () => {
    await audit?.stop();
    await bus?.close();
  });

  test("events are recorded once, in version order, and served page by page", async () => {
    const user = newUserId();
    const producer = bus.producer();
    const events = [1, 2, 3, 4, 5].map((v) =>
      event(user, v, v === 1 ? UserEventType.USER_EVENT_TYPE_CREATED : UserEventType.USER_EVENT_TYPE_UPDATED),
    );
    // Every event twice: a redelivery is a no-op.
    await producer.send(USER_EVENTS_TOPIC, [...events, ...events].map(message));
    const all = await waitFor("five events", async () => {
      const page = await history(audit.grpcPort, { userId: user, pageSize: 100 });
      return page.events.length >= 5 ? page : undefined;
    });
    assert.deepEqual(
      all.events.map((e) => e.version),
      ["1", "2", "3", "4", "5"],
    );
    assert.equal(all.events[0]?.type, UserEventType.USER_EVENT_TYPE_CREATED);
    assert.equal(all.events[4]?.user?.name, "User 5");
    await waitFor("the duplicates to be counted", async () =>
      (await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "duplicate" })) >= 5
        ? true
        : undefined,
    );
    const first = await history(audit.grpcPort, { userId: user, pageSize: 2 });
    assert.equal(first.events.length, 2);
    assert.notEqual(first.nextPageToken, "");
    const second = await history(audit.grpcPort, { userId: user, pageSize: 2, pageToken: first.nextPageToken });
    const third = await history(audit.grpcPort, { userId: user, pageSize: 2, pageToken: second.nextPageToken });
    assert.deepEqual(
      [...first.events, ...second.events, ...third.events].map((e) => e.eventId),
      all.events.map((e) => e.eventId),
    );
    assert.equal(third.nextPageToken, "");
    assert.deepEqual((await history(audit.grpcPort, { userId: newUserId() })).events, []);
    await producer.close();
  });

  test("a malformed message goes to the dead-letter topic with its reason, and its partition goes on", async () => {
    const user = newUserId();
    const producer = bus.producer();
    await producer.send(USER_EVENTS_TOPIC, [
      { key: user, value: "{ this is not json", headers: { ce_id: "x" } },
      message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)),
    ]);
    await waitFor("the good event after the bad one", async () =>
      (await history(audit.grpcPort, { userId: user })).events.length === 1 ? true : undefined,
    );
    const letters = (await deadLetters(bus)).filter((m) => m.key === user);
    assert.equal(letters.length, 1);
    assert.equal(letters[0]?.value?.toString(), "{ this is not json");
    assert.equal(letters[0]?.headers.dlq_reason, "the value is not UTF-8 JSON");
    assert.equal(letters[0]?.headers.dlq_topic, USER_EVENTS_TOPIC);
    assert.match(letters[0]?.headers.dlq_offset ?? "", /^\d+$/);
    await producer.close();
  });

  test("bad requests are INVALID_ARGUMENT naming the field", async () => {
    for (const [request, field] of [
      [{ userId: "abc" }, "userId"],
      [{ userId: "1", pageSize: 5000 }, "pageSize"],
      [{ userId: "1", pageToken: "forged" }, "pageToken"],
    ] as const) {
      await assert.rejects(history(audit.grpcPort, request), (error: ServiceError) => {
        assert.equal(error.code, 3);
        assert.match(error.details, new RegExp(`^${field}: `), `${field} in ${error.details}`);
        return true;
      });
    }
  });
});

describe("competing audit consumers", () => {
  test("three members of one group record every event exactly once", async () => {
    const bus = createMemoryBus();
    await bus.ensureTopic(USER_EVENTS_TOPIC, 6);
    const store = createMemoryHistoryStore();
    const members = ["a", "b", "c"].map((id) =>
      createAuditConsumer({ bus, store, groupId: "charter-audit", clientId: id, logger }),
    );
    for (const member of members) await member.start();
    const producer = bus.producer();
    const users = Array.from({ length: 30 }, newUserId);
    for (let version = 1; version <= 10; version++) {
      await producer.send(
        USER_EVENTS_TOPIC,
        users.map((u) => message(event(u, version))),
      );
    }
    await members[0]?.stop(); // its partitions move to the others mid-stream
    for (const u of users) await producer.send(USER_EVENTS_TOPIC, [message(event(u, 11))]);
    for (const u of users) {
      const entries = await waitFor(`${u}'s 11 events`, async () => {
        const list = await store.list(u, 100);
        return list.length >= 11 ? list : undefined;
      });
      assert.deepEqual(
        entries.map((e) => e.version),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      );
    }
    for (const member of members.slice(1)) await member.stop();
    await producer.close();
    await bus.close();
  });
});

describe("a history store that fails", () => {
  let mongo: RunningServer;
  before(async () => {
    mongo = await startMongo();
  });
  after(async () => {
    await mongo?.stop();
  });

  test("the partition pauses and retries: the event is recorded once the store is back, none dead-lettered", async () => {
    const bus = createMemoryBus();
    await bus.ensureTopic(USER_EVENTS_TOPIC, 6);
    const audit = await startAudit(config({ MONGO_URL: mongo.url, AUDIT_RETRY_DELAY_MS: "100" }), logger, { bus });
    const producer = bus.producer();
    try {
      const user = newUserId();
      await mongo.kill();
      await producer.send(USER_EVENTS_TOPIC, [message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED))]);
      await waitFor(
        "retries while MongoDB is down",
        async () =>
          (await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "retried" })) >= 2
            ? true
            : undefined,
        30_000,
      );
      await mongo.restart();
      const recorded = await waitFor(
        "the event recorded after MongoDB is back",
        async () => {
          const page = await history(audit.grpcPort, { userId: user });
          return page.events.length > 0 ? page : undefined;
        },
        60_000,
        200,
      );
      assert.equal(recorded.events.length, 1);
      assert.equal(
        await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "dead_lettered" }),
        0,
      );
    } finally {
      await producer.close();
      await audit.stop();
      await bus.close();
    }
  });
});
