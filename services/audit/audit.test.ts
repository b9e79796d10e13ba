/**
 * The audit service on the in-process bus: strict decoding (what is not a UserEvent goes to the dead-letter topic
 * with its reason, and the partition goes on), exactly-once recording with redeliveries and competing members,
 * ListUserHistory over real gRPC, and a store that fails: the partition pauses and retries, nothing is skipped.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type Counter, Registry } from "prom-client";
import { userEventChannels } from "../../generated/asyncapi/users-events.js";
import {
  AuditServiceClient,
  type EraseUserHistoryRequest,
  type EraseUserHistoryResponse,
  type ListUserHistoryRequest,
  type ListUserHistoryResponse,
} from "../../generated/proto/charter/audit/v1/audit.js";
import { UserEvent, UserEventType } from "../../generated/proto/charter/users/v1/events.js";
import type { EventBus, IncomingMessage, OutgoingMessage } from "../../platform/events/bus.js";
import { createMemoryBus, partitionOf } from "../../platform/events/memory-bus.js";
import { createLogger } from "../../platform/logging.js";
import { type RunningServer, startMongo } from "../../scripts/infra/index.js";
import { metricValue, waitFor } from "../../scripts/lib/processes.js";
import { startTestIssuer } from "../../test/support/auth.js";
import { statusDetails, usersClient } from "../../test/support/contract-client.js";
import { createMemoryHistoryStore } from "./adapters/memory-history-store.js";
import { createAuditConsumer } from "./app/audit-consumer.js";
import { AUDIT_SERVICE_NAME, type RunningAudit, startAudit } from "./audit-app.js";
import { loadAuditConfig } from "./audit-config.js";
import type { HistoryStore } from "./domain/history.js";
import { decodeUserEvent } from "./domain/user-event-codec.js";

const logger = createLogger("audit", "silent");
/** The issuer the audit service trusts: every ListUserHistory brings one of its tokens. */
const issuer = await startTestIssuer();
after(() => issuer.close());
const authorization = await issuer.bearer();
const config = (env: Record<string, string> = {}) =>
  loadAuditConfig({
    ...issuer.env,
    AUDIT_HOST: "127.0.0.1",
    AUDIT_GRPC_PORT: "0",
    AUDIT_METRICS_PORT: "0",
    ...env,
  });

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
    actor: "",
    redactedAt: undefined,
  };
}

const message = (e: UserEvent): OutgoingMessage & { value: string } => ({
  key: e.userId,
  value: JSON.stringify(UserEvent.toJSON(e)),
  headers: { ce_id: e.eventId, ce_specversion: "1.0", ce_type: "charter.users.v1.UserEvent" },
});

const incoming = (value: string, key?: string, headers: Record<string, string> = {}): IncomingMessage => ({
  topic: userEventChannels.userEvents,
  partition: 0,
  offset: "0",
  key,
  value: Buffer.from(value),
  headers,
});

/** ListUserHistory with `metadata` (default: a token with every scope). */
function history(
  port: number,
  request: Partial<ListUserHistoryRequest>,
  metadata = Metadata.fromHttp2Headers({ authorization }),
): Promise<ListUserHistoryResponse> {
  const client = new AuditServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<ListUserHistoryResponse>((resolve, reject) => {
    client.listUserHistory(
      { userId: "", pageToken: "", ...request },
      metadata,
      { deadline: Date.now() + 5_000 },
      (error: ServiceError | null, response: ListUserHistoryResponse) => {
        client.close();
        if (error) reject(error);
        else resolve(response);
      },
    );
  });
}

/** EraseUserHistory with `metadata` (default: a token with every scope, users:erase among them). */
function erase(
  port: number,
  request: Partial<EraseUserHistoryRequest>,
  metadata = Metadata.fromHttp2Headers({ authorization }),
): Promise<EraseUserHistoryResponse> {
  const client = new AuditServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<EraseUserHistoryResponse>((resolve, reject) => {
    client.eraseUserHistory(
      { userId: "", eraseAfter: undefined, ...request },
      metadata,
      { deadline: Date.now() + 5_000 },
      (error: ServiceError | null, response: EraseUserHistoryResponse) => {
        client.close();
        if (error) reject(error);
        else resolve(response);
      },
    );
  });
}

/**
 * The messages with `key` on the dead-letter topic, read by a group of its own up to a marker sent now with the same
 * key (so to the same partition, after them). Call it once the audit consumer has handled every message of interest
 * — e.g. a later message of the same partition is recorded — as it dead-letters before it goes on.
 */
async function deadLettersOf(bus: EventBus, key: string): Promise<IncomingMessage[]> {
  const marker = randomUUID();
  const producer = bus.producer();
  await producer.send(userEventChannels.userEventsDeadLetter, [{ key, value: "", headers: { test_marker: marker } }]);
  await producer.close();
  const seen: IncomingMessage[] = [];
  let reachedMarker = false;
  const reader = bus.consumer({ groupId: `dlq-${randomUUID()}`, topic: userEventChannels.userEventsDeadLetter });
  await reader.start(async (m) => {
    if (m.headers.test_marker === marker) reachedMarker = true;
    else if (!reachedMarker && m.key === key) seen.push(m);
  });
  await waitFor("the dead-letter topic read up to the marker", () => (reachedMarker ? true : undefined));
  await reader.stop();
  return seen;
}

type Outcome = "recorded" | "duplicate" | "dead_lettered" | "retried";

/** charter_audit_events_consumed_total of one registry, by outcome. */
async function outcomes(registry: Registry): Promise<Record<Outcome, number>> {
  const counter = registry.getSingleMetric("charter_audit_events_consumed_total") as Counter | undefined;
  assert.ok(counter, "charter_audit_events_consumed_total is registered");
  const counts: Record<Outcome, number> = { recorded: 0, duplicate: 0, dead_lettered: 0, retried: 0 };
  for (const { labels, value } of (await counter.get()).values) counts[labels.outcome as Outcome] = value;
  return counts;
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
    // int64 may come as a JSON number; unknown fields (a newer producer) are ignored; no key or ce_id is fine.
    const json = { ...(UserEvent.toJSON(event("42", 7)) as Record<string, unknown>), version: 7, addedLater: "x" };
    const decoded = decodeUserEvent(incoming(JSON.stringify(json)));
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.entry.version, 7);
    assert.equal(decoded.entry.userId, "42");
  });

  test("unknown fields are not kept: a deeply nested one cannot reach the history store", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 500; i++) deep = [deep];
    const good = UserEvent.toJSON(event("42", 3)) as Record<string, unknown>;
    const json = { ...good, addedLater: deep, user: { ...(good.user as object), nickname: deep } };
    const decoded = decodeUserEvent(incoming(JSON.stringify(json)));
    assert.ok(decoded.ok, JSON.stringify(decoded).slice(0, 200));
    assert.deepEqual(decoded.entry.event, good, "exactly the contract's fields, as sent");
    const store = createMemoryHistoryStore();
    assert.equal(await store.record(decoded.entry), true);
    assert.deepEqual(
      (await store.list("42", 10)).map((e) => e.event),
      [good],
    );
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
      ["30 February", incoming(JSON.stringify({ ...good, occurredAt: "2026-02-30T00:00:00Z" }))],
      ["24:00", incoming(JSON.stringify({ ...good, occurredAt: "2026-01-01T24:00:00Z" }))],
      ["no occurredAt", incoming(JSON.stringify({ ...good, occurredAt: undefined }))],
      ["version as a boolean", incoming(JSON.stringify({ ...good, version: true }))],
      ["fractional version", incoming(JSON.stringify({ ...good, version: 1.5 }))],
      ["eventId too long", incoming(JSON.stringify({ ...good, eventId: "e".repeat(65) }))],
      ["userId of 20 digits", incoming(JSON.stringify({ ...good, userId: "1".repeat(20) }))],
      ["user without email", incoming(JSON.stringify({ ...good, user: { ...(good.user as object), email: "" } }))],
      ["no value (a tombstone)", { ...incoming(""), value: undefined }],
      ["JSON null", incoming("null")],
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
    await bus.ensureTopic(userEventChannels.userEvents, 6);
    // A short sweep: a pending erasure is carried out soon after it is due.
    audit = await startAudit(config({ AUDIT_ERASURE_SWEEP_MS: "20" }), logger, { bus });
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
    await producer.send(userEventChannels.userEvents, [...events, ...events].map(message));
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
    // One lag observation per recorded event (none for duplicates).
    assert.equal(
      await metricValue(audit.metricsPort, "charter_audit_event_lag_seconds_count"),
      await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "recorded" }),
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

  test("malformed messages go to the dead-letter topic as they were, with a reason, and their partition goes on", async () => {
    const user = newUserId();
    const good = UserEvent.toJSON(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)) as Record<string, unknown>;
    const headers = { ce_id: `${user}-1`, ce_type: "charter.users.v1.UserEvent" };
    const bad: [string | Buffer, RegExp][] = [
      ["{ this is not json", /not UTF-8 JSON/],
      [JSON.stringify({ ...good, occurredAt: undefined }), /occurredAt/],
      [JSON.stringify({ ...good, version: true }), /version/],
      [Buffer.from([0xff, 0xfe, 0x7b, 0x00]), /not UTF-8 JSON/],
      [JSON.stringify({ ...good, actor: "a".repeat(256) }), /actor/],
      [JSON.stringify({ ...good, actor: 7 }), /actor/],
    ];
    const before = await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", {
      outcome: "dead_lettered",
    });
    const producer = bus.producer();
    // All with the user's key: one partition, the good event last.
    await producer.send(userEventChannels.userEvents, [
      ...bad.map(([value]) => ({ key: user, value, headers })),
      { key: user, value: JSON.stringify(good), headers },
    ]);
    await producer.close();
    const recorded = await waitFor("the good event after the bad ones", async () => {
      const page = await history(audit.grpcPort, { userId: user });
      return page.events.length > 0 ? page : undefined;
    });
    assert.deepEqual(
      recorded.events.map((e) => e.eventId),
      [`${user}-1`],
    );
    const letters = await deadLettersOf(bus, user);
    assert.equal(letters.length, bad.length);
    const offsets: number[] = [];
    for (const [i, letter] of letters.entries()) {
      const [value, reason] = bad[i] as [string | Buffer, RegExp];
      assert.deepEqual(letter.value, Buffer.from(value), "the value as it was sent, byte for byte");
      assert.equal(letter.headers.ce_id, headers.ce_id, "the original headers are kept");
      assert.equal(letter.headers.ce_type, headers.ce_type);
      assert.match(letter.headers.dlq_reason ?? "", reason);
      assert.equal(letter.headers.dlq_topic, userEventChannels.userEvents);
      assert.equal(letter.headers.dlq_partition, String(partitionOf(user, 6)));
      assert.match(letter.headers.dlq_offset ?? "", /^\d+$/);
      offsets.push(Number(letter.headers.dlq_offset));
    }
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
      "in the order of the partition",
    );
    assert.equal(
      await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "dead_lettered" }),
      before + bad.length,
    );
  });

  test("bad requests are INVALID_ARGUMENT with every bad field in google.rpc.BadRequest", async () => {
    for (const [request, fields] of [
      [{ userId: "abc" }, ["user_id"]],
      [{ userId: "" }, ["user_id"]],
      [{ userId: "1".repeat(20) }, ["user_id"]],
      [{ userId: "1", pageSize: 1001 }, ["page_size"]],
      [{ userId: "1", pageSize: -1 }, ["page_size"]],
      [{ userId: "1", pageToken: "forged" }, ["page_token"]],
      [{ userId: "1", pageToken: Buffer.from("h1:0:x").toString("base64url") }, ["page_token"]],
      [{ userId: "x", pageSize: 5000, pageToken: "forged" }, ["page_size", "page_token", "user_id"]],
    ] as const) {
      await assert.rejects(history(audit.grpcPort, request), (error: ServiceError) => {
        assert.equal(error.code, 3, JSON.stringify(request));
        const status = statusDetails(error);
        assert.deepEqual(status.fieldViolations.map((v) => v.field).sort(), [...fields], JSON.stringify(request));
        assert.ok(status.fieldViolations.every((v) => v.description.length > 0));
        return true;
      });
    }
    // The bounds themselves are accepted.
    assert.deepEqual((await history(audit.grpcPort, { userId: "1".repeat(19), pageSize: 1000 })).events, []);
  });

  test("the caller's token is checked: none or a bad one is UNAUTHENTICATED, one without users:history PERMISSION_DENIED", async () => {
    const user = newUserId();
    const refused = async (metadata: Metadata, code: number, reason: string, message: RegExp) => {
      await assert.rejects(history(audit.grpcPort, { userId: user }, metadata), (error: ServiceError) => {
        assert.equal(error.code, code);
        const status = statusDetails(error);
        assert.equal(status.code, code);
        assert.equal(status.reason, reason);
        assert.match(status.message, message);
        return true;
      });
    };
    await refused(new Metadata(), 16, "INVALID_TOKEN", /^a valid bearer token is required$/);
    await refused(Metadata.fromHttp2Headers({ authorization: "Bearer x.y.z" }), 16, "INVALID_TOKEN", /bearer token/);
    // A subject asserted by a header is no token.
    await refused(Metadata.fromHttp2Headers({ "x-subject": "charter-dev" }), 16, "INVALID_TOKEN", /bearer token/);
    const reader = `Bearer ${await issuer.tokenWith(["users:read", "users:write"])}`;
    await refused(
      Metadata.fromHttp2Headers({ authorization: reader }),
      7,
      "INSUFFICIENT_SCOPE",
      /needs the scope users:history/,
    );
    const historian = `Bearer ${await issuer.tokenWith(["users:history"])}`;
    assert.deepEqual(
      (await history(audit.grpcPort, { userId: user }, Metadata.fromHttp2Headers({ authorization: historian }))).events,
      [],
    );
  });

  test("the actor of each change is recorded and served; an event without one has none", async () => {
    const user = newUserId();
    const producer = bus.producer();
    const made = [
      { ...event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED), actor: "charter-dev" },
      { ...event(user, 2), actor: "charter-writer" },
      event(user, 3),
    ];
    await producer.send(userEventChannels.userEvents, made.map(message));
    const page = await waitFor("three events", async () => {
      const found = await history(audit.grpcPort, { userId: user });
      return found.events.length >= 3 ? found : undefined;
    });
    assert.deepEqual(
      page.events.map((e) => e.actor),
      ["charter-dev", "charter-writer", ""],
    );
    await producer.close();
  });

  test("EraseUserHistory needs users:erase, erases name and e-mail (the skeleton stays), then nothing more; a redelivery stays erased", async () => {
    const user = newUserId();
    const producer = bus.producer();
    const created = { ...event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED), actor: "charter-dev" };
    const made = [created, event(user, 2), event(user, 3, UserEventType.USER_EVENT_TYPE_DELETED)];
    await producer.send(userEventChannels.userEvents, made.map(message));
    await waitFor("three events", async () =>
      (await history(audit.grpcPort, { userId: user })).events.length >= 3 ? true : undefined,
    );

    const historian = `Bearer ${await issuer.tokenWith(["users:history", "users:write"])}`;
    await assert.rejects(
      erase(audit.grpcPort, { userId: user }, Metadata.fromHttp2Headers({ authorization: historian })),
      (error: ServiceError) => {
        assert.equal(error.code, 7);
        assert.match(statusDetails(error).message, /needs the scope users:erase/);
        return true;
      },
    );
    await assert.rejects(erase(audit.grpcPort, { userId: "abc" }), (error: ServiceError) => {
      assert.equal(error.code, 3);
      assert.deepEqual(
        statusDetails(error).fieldViolations.map((v) => v.field),
        ["user_id"],
      );
      return true;
    });
    const eraser = Metadata.fromHttp2Headers({ authorization: `Bearer ${await issuer.tokenWith(["users:erase"])}` });
    assert.deepEqual(await erase(audit.grpcPort, { userId: user }, eraser), { erasedEvents: 3, pending: false });
    const erased = (await history(audit.grpcPort, { userId: user })).events;
    assert.deepEqual(
      erased.map((e) => [e.eventId, e.type, e.userId, e.version, e.occurredAt, e.actor, e.user]),
      made.map((e) => [e.eventId, e.type, e.userId, e.version, e.occurredAt, e.actor, undefined]),
    );
    assert.ok(erased.every((e) => e.redactedAt !== undefined && !Number.isNaN(Date.parse(e.redactedAt))));
    assert.ok(!JSON.stringify(erased).includes("@example.com"), "no e-mail left");
    assert.deepEqual(await erase(audit.grpcPort, { userId: user }, eraser), { erasedEvents: 0, pending: false });
    assert.deepEqual(
      (await deadLettersOf(bus, user)).map((m) => m.value),
      [undefined, undefined],
      "each erasure sent a tombstone for the user's dead letters",
    );

    // The CREATED event delivered again, with a later event behind it on the partition: it stays erased.
    await producer.send(userEventChannels.userEvents, [message(created), message(event(user, 4))]);
    const after = await waitFor("the later event", async () => {
      const page = await history(audit.grpcPort, { userId: user });
      return page.events.length >= 4 ? page.events : undefined;
    });
    assert.deepEqual(after.slice(0, 3), erased, "the redelivery changed nothing");
    assert.equal(after[3]?.user, undefined, "an event of an erased user is recorded erased");
    assert.notEqual(after[3]?.redactedAt, undefined);
    await producer.close();
  });

  test("an erasure due later is pending, and the sweep carries it out once it is due", async () => {
    const user = newUserId();
    const producer = bus.producer();
    await producer.send(userEventChannels.userEvents, [
      message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)),
      message(event(user, 2, UserEventType.USER_EVENT_TYPE_DELETED)),
    ]);
    await producer.close();
    await waitFor("two events", async () =>
      (await history(audit.grpcPort, { userId: user })).events.length >= 2 ? true : undefined,
    );
    const due = new Date(Date.now() + 500).toISOString();
    assert.deepEqual(await erase(audit.grpcPort, { userId: user, eraseAfter: due }), {
      erasedEvents: 0,
      pending: true,
    });
    const erased = await waitFor("the sweep to erase the history", async () => {
      const { events } = await history(audit.grpcPort, { userId: user });
      return events.every((e) => e.redactedAt !== undefined) ? events : undefined;
    });
    assert.deepEqual(
      erased.map((e) => e.user),
      [undefined, undefined],
    );
    assert.ok(
      erased.every((e) => Date.parse(e.redactedAt ?? "") >= Date.parse(due)),
      "not before it was due",
    );
    assert.deepEqual(await erase(audit.grpcPort, { userId: user, eraseAfter: due }), {
      erasedEvents: 0,
      pending: false,
    });
  });

  test("health answers SERVING for the server and the service, and reflection lists AuditService", async () => {
    // Health and reflection are the standard services, whatever else the server serves.
    const probe = usersClient(`127.0.0.1:${audit.grpcPort}`);
    try {
      assert.equal(await probe.health(), "SERVING");
      assert.equal(await probe.health(AUDIT_SERVICE_NAME), "SERVING");
      assert.ok((await probe.listServices()).includes(AUDIT_SERVICE_NAME));
    } finally {
      probe.close();
    }
  });
});

describe("competing audit consumers", () => {
  test("three members of one group share the partitions and record every event exactly once", async () => {
    const bus = createMemoryBus();
    await bus.ensureTopic(userEventChannels.userEvents, 6);
    const store = createMemoryHistoryStore();
    const registries = ["a", "b", "c"].map(() => new Registry());
    const members = ["a", "b", "c"].map((id, i) =>
      createAuditConsumer({
        bus,
        store,
        groupId: "charter-audit",
        clientId: id,
        logger,
        metrics: registries[i] as Registry,
      }),
    );
    for (const member of members) await member.start();
    // Users on every partition, so that each member (two partitions each) has work.
    const users: string[] = [];
    const partitions = new Set<number>();
    while (users.length < 30 || partitions.size < 6) {
      const user = newUserId();
      users.push(user);
      partitions.add(partitionOf(user, 6));
    }
    const producer = bus.producer();
    // Every event is sent twice, as a relay that resends after a crash would.
    const sendVersions = async (from: number, to: number) => {
      for (let version = from; version <= to; version++) {
        const batch = users.map((u) => message(event(u, version)));
        await producer.send(userEventChannels.userEvents, [...batch, ...batch]);
      }
    };
    const waitForVersions = async (count: number) => {
      for (const u of users) {
        const entries = await waitFor(`${u}'s ${count} events`, async () => {
          const list = await store.list(u, 100);
          return list.length >= count ? list : undefined;
        });
        assert.deepEqual(
          entries.map((e) => e.version),
          Array.from({ length: count }, (_, i) => i + 1),
        );
      }
    };

    await sendVersions(1, 5);
    await waitForVersions(5);
    for (const [i, registry] of registries.entries()) {
      assert.ok((await outcomes(registry)).recorded > 0, `member ${i} recorded a share of the events`);
    }

    await sendVersions(6, 10);
    await members[0]?.stop(); // mid-stream: its partitions move to the others
    for (const u of users) await producer.send(userEventChannels.userEvents, [message(event(u, 11))]);
    await waitForVersions(11);

    // Version 11 of each user comes after all its earlier messages in its partition: everything is handled now.
    const total = { recorded: 0, duplicate: 0, dead_lettered: 0, retried: 0 };
    for (const registry of registries) {
      const counts = await outcomes(registry);
      for (const outcome of Object.keys(total) as Outcome[]) total[outcome] += counts[outcome];
    }
    assert.equal(total.recorded, users.length * 11, "each event recorded by exactly one member, once");
    assert.ok(total.duplicate >= users.length * 10, `every resent event seen as a duplicate (${total.duplicate})`);
    assert.equal(total.dead_lettered, 0);
    assert.equal(total.retried, 0);
    for (const member of members.slice(1)) await member.stop();
    await producer.close();
    await bus.close();
  });
});

/** A consumer on its own bus and registry, over `store`; the test runs with it and everything is closed after. */
async function withConsumer(
  store: HistoryStore,
  run: (bus: EventBus, registry: Registry) => Promise<void>,
  batchSize?: number,
): Promise<void> {
  const bus = createMemoryBus();
  await bus.ensureTopic(userEventChannels.userEvents, 6);
  const registry = new Registry();
  const consumer = createAuditConsumer({
    bus,
    store,
    groupId: "charter-audit",
    clientId: "a",
    logger,
    metrics: registry,
    retryDelayMs: 10,
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
  await consumer.start();
  try {
    await run(bus, registry);
  } finally {
    await consumer.stop();
    await bus.close();
  }
}

/** Sends the messages in one send (one key: one partition, so one batch when the consumer is idle). */
async function send(bus: EventBus, messages: readonly OutgoingMessage[]): Promise<void> {
  const producer = bus.producer();
  await producer.send(userEventChannels.userEvents, messages);
  await producer.close();
}

const waitForHistory = (store: HistoryStore, user: string, count: number) =>
  waitFor(`${count} events of ${user} recorded`, async () => {
    const list = await store.list(user, 100);
    return list.length >= count ? list : undefined;
  });

describe("a history store that fails", () => {
  test("a store failing N times: the batch comes again N times, then is recorded once; the partition waits for it", async () => {
    const memory = createMemoryHistoryStore();
    const failures = 3;
    let failing = failures;
    const attempts: string[][] = [];
    // The real memory adapter, behind a port implementation that fails the first N bulk writes.
    const store: HistoryStore = {
      ...memory,
      async recordMany(entries) {
        attempts.push(entries.map((e) => e.eventId));
        if (failing > 0) {
          failing--;
          throw new Error("the store is unavailable");
        }
        return memory.recordMany(entries);
      },
    };
    await withConsumer(store, async (bus, registry) => {
      const user = newUserId();
      await send(bus, [message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)), message(event(user, 2))]);
      const entries = await waitForHistory(memory, user, 2);
      assert.deepEqual(
        entries.map((e) => e.eventId),
        [`${user}-1`, `${user}-2`],
      );
      assert.deepEqual(
        attempts,
        Array(failures + 1).fill([`${user}-1`, `${user}-2`]),
        "the same batch each time, nothing skipped ahead",
      );
      assert.deepEqual(await outcomes(registry), {
        recorded: 2,
        duplicate: 0,
        dead_lettered: 0,
        retried: failures * 2,
      });
      assert.deepEqual(await deadLettersOf(bus, user), []);
    });
  });

  test("a batch written but reported failed comes again: every event is in the history once", async () => {
    const memory = createMemoryHistoryStore();
    let lost = 1;
    const store: HistoryStore = {
      ...memory,
      async recordMany(entries) {
        const recorded = await memory.recordMany(entries);
        if (lost > 0) {
          lost--;
          throw new Error("the answer was lost"); // written, but the consumer cannot know
        }
        return recorded;
      },
    };
    await withConsumer(store, async (bus, registry) => {
      const user = newUserId();
      await send(
        bus,
        [1, 2, 3].map((v) => message(event(user, v, v === 1 ? UserEventType.USER_EVENT_TYPE_CREATED : undefined))),
      );
      await waitFor("the batch handled again", async () =>
        (await outcomes(registry)).duplicate >= 3 ? true : undefined,
      );
      assert.deepEqual(
        (await memory.list(user, 100)).map((e) => e.eventId),
        [`${user}-1`, `${user}-2`, `${user}-3`],
      );
      assert.deepEqual(await outcomes(registry), { recorded: 0, duplicate: 3, dead_lettered: 0, retried: 3 });
    });
  });
});

describe("batches", () => {
  test("a poison message in the middle of a batch is dead-lettered; the events around it are recorded", async () => {
    const memory = createMemoryHistoryStore();
    const batches: string[][] = [];
    const store: HistoryStore = {
      ...memory,
      async recordMany(entries) {
        batches.push(entries.map((e) => e.eventId));
        return memory.recordMany(entries);
      },
    };
    await withConsumer(store, async (bus, registry) => {
      const user = newUserId();
      await send(bus, [
        message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)),
        { key: user, value: "{not a user event", headers: { ce_id: "poison" } },
        message(event(user, 2)),
      ]);
      await waitForHistory(memory, user, 2);
      assert.deepEqual(batches, [[`${user}-1`, `${user}-2`]], "one bulk write for the batch, without the poison");
      const dead = await deadLettersOf(bus, user);
      assert.deepEqual(
        dead.map((m) => [m.value?.toString(), m.headers.ce_id, m.headers.dlq_offset]),
        [["{not a user event", "poison", "1"]],
      );
      assert.ok((dead[0]?.headers.dlq_reason ?? "").length > 0);
      assert.deepEqual(await outcomes(registry), { recorded: 2, duplicate: 0, dead_lettered: 1, retried: 0 });
    });
  });

  test("a redelivered batch records nothing twice", async () => {
    const memory = createMemoryHistoryStore();
    await withConsumer(memory, async (bus, registry) => {
      const user = newUserId();
      const sent = [1, 2, 3, 4].map((v) =>
        message(event(user, v, v === 1 ? UserEventType.USER_EVENT_TYPE_CREATED : undefined)),
      );
      await send(bus, sent);
      await waitForHistory(memory, user, 4);
      await send(bus, sent); // a relay that died before marking sends the same events again
      await waitFor("the copies handled", async () => ((await outcomes(registry)).duplicate >= 4 ? true : undefined));
      assert.deepEqual(
        (await memory.list(user, 100)).map((e) => e.eventId),
        sent.map((m) => m.headers?.ce_id),
      );
      assert.deepEqual(await outcomes(registry), { recorded: 4, duplicate: 4, dead_lettered: 0, retried: 0 });
    });
  });

  test("each user's events reach the store in order, within a batch and across batches", async () => {
    const memory = createMemoryHistoryStore();
    const writes: { eventId: string; userId: string; version: number }[][] = [];
    const store: HistoryStore = {
      ...memory,
      async recordMany(entries) {
        writes.push(entries.map(({ eventId, userId, version }) => ({ eventId, userId, version })));
        return memory.recordMany(entries);
      },
    };
    await withConsumer(
      store,
      async (bus) => {
        const users = [newUserId(), newUserId(), newUserId()];
        // Interleaved, 12 events a user, in three sends: batches of at most 5 cut across users and sends.
        for (let round = 0; round < 3; round++) {
          await send(
            bus,
            [1, 2, 3, 4].flatMap((step) =>
              users.map((user) => {
                const v = round * 4 + step;
                return message(event(user, v, v === 1 ? UserEventType.USER_EVENT_TYPE_CREATED : undefined));
              }),
            ),
          );
        }
        for (const user of users) await waitForHistory(memory, user, 12);
        assert.ok(
          writes.every((w) => w.length <= 5),
          "no bulk write over the batch size",
        );
        assert.ok(writes.length >= 3, "the events came in several batches");
        for (const user of users) {
          const order = writes.flat().filter((e) => e.userId === user);
          assert.deepEqual(
            order.map((e) => e.version),
            Array.from({ length: 12 }, (_, i) => i + 1),
            `${user}'s events in version order`,
          );
        }
      },
      5,
    );
  });
});

describe("MongoDB going away under the audit service", () => {
  let mongo: RunningServer;
  before(async () => {
    mongo = await startMongo();
  });
  after(async () => {
    await mongo?.stop();
  });

  test("the partition pauses and retries: the event is recorded once the store is back, none dead-lettered; reads are UNAVAILABLE meanwhile", async () => {
    const bus = createMemoryBus();
    await bus.ensureTopic(userEventChannels.userEvents, 6);
    const audit = await startAudit(
      config({ MONGO_URL: mongo.url, AUDIT_RETRY_DELAY_MS: "100", MONGO_CONNECT_TIMEOUT_MS: "1000" }),
      logger,
      { bus },
    );
    const producer = bus.producer();
    try {
      const user = newUserId();
      await mongo.kill();
      await producer.send(userEventChannels.userEvents, [
        message(event(user, 1, UserEventType.USER_EVENT_TYPE_CREATED)),
      ]);
      await waitFor(
        "retries while MongoDB is down",
        async () =>
          (await metricValue(audit.metricsPort, "charter_audit_events_consumed_total", { outcome: "retried" })) >= 2
            ? true
            : undefined,
        30_000,
      );
      // Reads fail too, as UNAVAILABLE (the gateway's 503 with Retry-After), never INTERNAL.
      await assert.rejects(history(audit.grpcPort, { userId: user }), (error: ServiceError) => {
        assert.equal(error.code, 14, error.details);
        assert.equal(error.details, "the history store is unavailable");
        return true;
      });
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
