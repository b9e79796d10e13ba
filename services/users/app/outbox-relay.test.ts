/**
 * The outbox relay over the in-process bus, with the memory store and a real MongoDB-compatible store, driven
 * through the users use cases: ordering under concurrent writes, a producer that fails and recovers, an
 * acknowledgement that is lost, two relays sharing one store, and relays that die mid-round.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import { UserEvent, UserEventType } from "../../../generated/proto/charter/users/v1/events.js";
import type { EventBus, EventProducer, OutgoingMessage } from "../../../platform/events/bus.js";
import { createMemoryBus } from "../../../platform/events/memory-bus.js";
import { createLogger, type Logger } from "../../../platform/logging.js";
import { createSnowflake } from "../../../platform/snowflake.js";
import { type RunningServer, startMongo } from "../../../scripts/infra/index.js";
import { waitFor } from "../../../scripts/lib/processes.js";
import { createMemoryCache } from "../adapters/memory-cache.js";
import { createMemoryUserStore } from "../adapters/memory-user-store.js";
import { createMongoUserStore } from "../adapters/mongo-user-store.js";
import type { User } from "../domain/user.js";
import { CE_SOURCE, CE_TYPE } from "../domain/user-events.js";
import type { UserStore } from "../domain/user-store.js";
import { createOutboxRelay, type OutboxRelay } from "./outbox-relay.js";
import { createUsersService, type UsersService } from "./users-service.js";

const silent = createLogger("relay-test", "silent");
/** Who the writes are made by: every event carries it. */
const ACTOR = "relay-test-client";
/** Deadline for conditions: generous, since the machine may be busy with other suites. */
const DEADLINE_MS = 60_000;
/** Long enough that only a write (or a drained batch) makes the relay look: the poll never fires in a test. */
const NO_POLL_MS = 600_000;

interface Received {
  readonly event: UserEvent;
  readonly key: string | undefined;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Everything published on the user events topic, read by a consumer group of its own. */
async function collect(bus: EventBus): Promise<{ received: Received[]; stop: () => Promise<void> }> {
  const received: Received[] = [];
  const consumer = bus.consumer({ groupId: `test-${randomUUID()}`, topic: userEventChannels.userEvents });
  await consumer.start(async (message) => {
    const value = message.value?.toString("utf8") ?? "";
    received.push({ event: UserEvent.fromJSON(JSON.parse(value)), key: message.key, value, headers: message.headers });
  });
  return { received, stop: () => consumer.stop() };
}

/** Each user's versions in the order their events first arrived, and how many copies each event id had. */
function summarize(received: readonly Received[]) {
  const versions = new Map<string, number[]>();
  const copies = new Map<string, Received[]>();
  for (const r of received) {
    const seen = copies.get(r.event.eventId);
    if (seen) {
      seen.push(r);
      continue;
    }
    copies.set(r.event.eventId, [r]);
    versions.set(r.event.userId, [...(versions.get(r.event.userId) ?? []), Number(r.event.version)]);
  }
  return { versions, copies };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const until = (what: string, check: () => boolean | Promise<boolean>) =>
  waitFor(what, async () => ((await check()) ? true : undefined), DEADLINE_MS, 20);

/** A users service whose writes wake `relay()` (set after the relay is made). */
function usersService(store: UserStore, workerId: number, relay: () => OutboxRelay | undefined): UsersService {
  return createUsersService({
    store,
    cache: createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }),
    ids: createSnowflake(workerId),
    logger: silent,
    onWrite: () => relay()?.wake(),
  });
}

function relayOn(
  store: UserStore,
  producer: EventProducer,
  overrides: Partial<Parameters<typeof createOutboxRelay>[0]> = {},
): OutboxRelay {
  return createOutboxRelay({
    store,
    producer,
    owner: `relay-${randomUUID()}`,
    logger: silent,
    pollIntervalMs: NO_POLL_MS,
    batchSize: 100,
    leaseMs: 60_000,
    maxBackoffMs: 50,
    ...overrides,
  });
}

/** A producer whose sends go through `decide` first: it may fail them, deliver them, or hold them. */
function interceptedProducer(
  inner: EventProducer,
  decide: (messages: readonly OutgoingMessage[], deliver: () => Promise<void>) => Promise<void>,
): EventProducer {
  return {
    send: (topic, messages) => decide(messages, () => inner.send(topic, messages)),
    close: () => inner.close(),
  };
}

/** Writes to `count` users: create, `updates` concurrent updates without etag, and a delete for every third. */
async function writeUsers(services: readonly UsersService[], count: number, updates: number) {
  const pick = (i: number) => services[i % services.length] as UsersService;
  const created = await Promise.all(
    range(count).map((i) =>
      pick(i).create({ name: `User ${i}`, email: `user-${i}-${randomUUID()}@example.com` }, ACTOR),
    ),
  );
  await Promise.all(
    created.flatMap((user, u) =>
      range(updates).map((n) => pick(u + n).update(user.id, { name: `${user.name} v${n}` }, ACTOR)),
    ),
  );
  const deleted = created.filter((_, i) => i % 3 === 0);
  await Promise.all(deleted.map((user, i) => pick(i).delete(user.id, ACTOR)));
  const lastVersion = new Map<string, number>(created.map((u) => [u.id, 1 + updates]));
  for (const user of deleted) lastVersion.set(user.id, 2 + updates);
  const total = [...lastVersion.values()].reduce((a, b) => a + b, 0);
  return { created, deleted: new Set(deleted.map((u) => u.id)), lastVersion, total };
}

/** Checks every user's events arrived in version order with nothing missing, and each is a well-formed message. */
function assertInOrder(received: readonly Received[], lastVersion: ReadonlyMap<string, number>, deleted: Set<string>) {
  const { versions, copies } = summarize(received);
  assert.deepEqual(
    [...versions.keys()].sort(),
    [...lastVersion.keys()].sort(),
    "every user's events arrived, and no other user's",
  );
  for (const [userId, last] of lastVersion) {
    assert.deepEqual(versions.get(userId), range(last), `user ${userId}: every version once, in order`);
  }
  for (const [eventId, all] of copies) {
    const first = all[0] as Received;
    const { event } = first;
    assert.equal(eventId, `${event.userId}-${event.version}`);
    assert.equal(first.key, event.userId, "keyed by user id");
    assert.deepEqual(first.headers, {
      ce_specversion: "1.0",
      ce_id: eventId,
      ce_type: CE_TYPE,
      ce_source: CE_SOURCE,
      ce_time: event.occurredAt,
      "content-type": "application/json",
    });
    const last = lastVersion.get(event.userId);
    const expectedType =
      event.version === "1"
        ? UserEventType.USER_EVENT_TYPE_CREATED
        : deleted.has(event.userId) && Number(event.version) === last
          ? UserEventType.USER_EVENT_TYPE_DELETED
          : UserEventType.USER_EVENT_TYPE_UPDATED;
    assert.equal(event.type, expectedType, eventId);
    assert.equal(event.actor, ACTOR, `${eventId}: who made the change rides along`);
    if (expectedType === UserEventType.USER_EVENT_TYPE_DELETED) assert.equal(event.user, undefined);
    else assert.equal(event.user?.etag, event.version, "the user after the change rides along");
    for (const copy of all) assert.equal(copy.value, first.value, `every copy of ${eventId} is the same message`);
  }
}

const duplicates = (received: readonly Received[]) => received.length - summarize(received).copies.size;

let mongo: RunningServer | undefined;
before(async () => {
  mongo = await startMongo();
});
after(() => mongo?.stop());

const backends: [string, (collection: string) => Promise<UserStore>][] = [
  ["memory", async () => createMemoryUserStore()],
  [
    "mongo",
    (collection) => createMongoUserStore({ url: (mongo as RunningServer).url, connectTimeoutMs: 5_000, collection }),
  ],
];

for (const [backend, openCollection] of backends) {
  describe(`outbox relay (${backend} store, in-process bus)`, () => {
    const opened: UserStore[] = [];
    let bus: EventBus;
    /** A fresh store; with MongoDB, `shared` names a collection several stores (instances) share. */
    const open = async (shared = `users_${randomUUID().replaceAll("-", "")}`) => {
      const store = await openCollection(shared);
      opened.push(store);
      return store;
    };
    // A bus per test: a consumer group of its own reads a topic from its start.
    beforeEach(() => {
      bus = createMemoryBus();
    });
    afterEach(() => bus.close());
    after(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    test("concurrent writes: each event published once, in version order per user, then the outbox is empty", async () => {
      const store = await open();
      const registry = new Registry();
      const relay = relayOn(store, bus.producer(), { metrics: registry });
      const service = usersService(store, 1, () => relay);
      const sink = await collect(bus);
      relay.start();
      try {
        // Woken by writes only (the poll interval is longer than the test): a write that does not wake the relay
        // would leave its event unsent.
        const { lastVersion, deleted, total } = await writeUsers([service], 12, 8);
        await until(`${total} events`, () => sink.received.length >= total);
        await until("the outbox to empty", async () => (await store.outboxSize()) === 0);
        assertInOrder(sink.received, lastVersion, deleted);
        assert.equal(duplicates(sink.received), 0, "one relay that never failed sends nothing twice");
        assert.deepEqual(await store.claimOutbox("anyone", 1_000, 1), [], "no user left pending, tombstones gone");
        for (const userId of deleted) assert.equal(await store.get(userId), undefined);

        const metric = async (name: string) =>
          ((await registry.getSingleMetric(name)?.get())?.values ?? []) as {
            value: number;
            labels: Record<string, string | number>;
            metricName?: string;
          }[];
        const byType = Object.fromEntries(
          (await metric("charter_users_events_published_total")).map((v) => [v.labels.type, v.value]),
        );
        assert.deepEqual(byType, { CREATED: 12, UPDATED: 12 * 8, DELETED: deleted.size });
        const lagCount = (await metric("charter_users_outbox_lag_seconds")).find((v) =>
          v.metricName?.endsWith("_count"),
        );
        assert.equal(lagCount?.value, total);
        assert.deepEqual(
          (await metric("charter_users_outbox_backlog")).map((v) => v.value),
          [0],
        );
        assert.deepEqual(
          (await metric("charter_users_outbox_publish_errors_total")).map((v) => v.value),
          [0],
        );
      } finally {
        await relay.stop();
        await sink.stop();
      }
    });

    test("the producer fails, then recovers: writes go on, nothing is lost, one log line per change of state", async () => {
      const store = await open();
      const registry = new Registry();
      let failing = true;
      let failed = 0;
      const producer = interceptedProducer(bus.producer(), async (_messages, deliver) => {
        if (failing) {
          failed += 1;
          throw new Error("broker unavailable");
        }
        await deliver();
      });
      const lines: { level: string; msg: string }[] = [];
      const logger: Logger = createLogger(
        "relay-test",
        "info",
        new Writable({
          write(chunk, _encoding, done) {
            lines.push(JSON.parse(String(chunk)));
            done();
          },
        }),
      );
      const relay = relayOn(store, producer, { metrics: registry, logger });
      const service = usersService(store, 2, () => relay);
      const sink = await collect(bus);
      relay.start();
      try {
        const { lastVersion, deleted, total } = await writeUsers([service], 6, 4);
        await until("several failed sends", () => failed >= 5);
        assert.equal(await store.outboxSize(), total, "every event waits in the outbox");
        assert.equal(sink.received.length, 0);
        const errors = async () =>
          (await registry.getSingleMetric("charter_users_outbox_publish_errors_total")?.get())?.values[0]?.value;
        assert.ok(((await errors()) ?? 0) >= 5);
        const more = await service.create(
          { name: "During the outage", email: `outage-${randomUUID()}@example.com` },
          ACTOR,
        );
        lastVersion.set(more.id, 1);

        failing = false;
        await until(`${total + 1} events`, () => sink.received.length >= total + 1);
        await until("the outbox to empty", async () => (await store.outboxSize()) === 0);
        assertInOrder(sink.received, lastVersion, deleted);
        assert.equal(duplicates(sink.received), 0, "a failed send delivered nothing, so nothing came twice");
        assert.equal(await errors(), failed, "every failed attempt is counted");
      } finally {
        await relay.stop();
        await sink.stop();
      }
      assert.deepEqual(
        lines.map((line) => [line.level, line.msg]),
        [
          ["info", "outbox relay started"],
          ["warn", "cannot publish events: they stay in the outbox and are retried"],
          ["info", "outbox relay publishing again"],
          ["info", "outbox relay stopped"],
        ],
        "one line per change of state, none per event or attempt",
      );
    });

    test("a long backlog goes out in bounded rounds and sends: a cap per user, a cap in bytes, every event in order", async () => {
      const store = await open();
      let failing = true;
      const sends: { count: number; bytes: number; perUser: Map<string, number> }[] = [];
      const producer = interceptedProducer(bus.producer(), async (messages, deliver) => {
        if (failing) throw new Error("broker unavailable");
        const perUser = new Map<string, number>();
        for (const m of messages) perUser.set(m.key, (perUser.get(m.key) ?? 0) + 1);
        const bytes = messages.reduce((sum, m) => sum + Buffer.byteLength(m.value ?? "") + Buffer.byteLength(m.key), 0);
        sends.push({ count: messages.length, bytes, perUser });
        await deliver();
      });
      const maxSendBytes = 8 * 1024;
      const relay = relayOn(store, producer, { maxEventsPerUser: 10, maxSendBytes });
      const service = usersService(store, 4, () => relay);
      const sink = await collect(bus);
      relay.start();
      try {
        // The broker away while one user takes 60 changes and four others a few: a backlog of 70 events.
        const { created, lastVersion, deleted, total } = await writeUsers([service], 5, 1);
        const busy = created[1] as User; // not one of the deleted (every third from the first)
        for (let n = 0; n < 60; n++) await service.update(busy.id, { name: `Busy ${n}` }, ACTOR);
        lastVersion.set(busy.id, (lastVersion.get(busy.id) ?? 0) + 60);
        assert.equal(await store.outboxSize(), total + 60);

        failing = false;
        await until("the outbox to empty", async () => (await store.outboxSize()) === 0);
        await until(`${total + 60} events`, () => sink.received.length >= total + 60);
        assertInOrder(sink.received, lastVersion, deleted);
        assert.ok(
          sends.length >= 7,
          `61+ events of one user at 10 a round take 7 rounds or more, took ${sends.length}`,
        );
        for (const send of sends) {
          assert.ok(send.bytes <= maxSendBytes, `a send of ${send.bytes} bytes`);
          for (const [user, count] of send.perUser) assert.ok(count <= 10, `${count} events of ${user} in one send`);
        }
      } finally {
        await relay.stop();
        await sink.stop();
      }
    });

    test("a user written without pause does not hold back the others: claims go round", async () => {
      const store = await open();
      let relay: OutboxRelay | undefined;
      const service = usersService(store, 5, () => relay);
      const busy = await service.create({ name: "Busy", email: `busy-${randomUUID()}@example.com` }, ACTOR);
      const quiet = await service.create({ name: "Quiet", email: `quiet-${randomUUID()}@example.com` }, ACTOR);
      // Every send is followed by a write of the busy user (the lower id): it always has an event pending again
      // by the next claim. Claiming from the lowest id each round, the quiet user would wait for all 50.
      let writes = 0;
      let writesBeforeQuiet: number | undefined;
      const producer = interceptedProducer(bus.producer(), async (messages, deliver) => {
        await deliver();
        if (messages.some((m) => m.key === quiet.id)) writesBeforeQuiet ??= writes;
        if (writes < 50) await service.update(busy.id, { name: `Busy ${writes++}` }, ACTOR);
      });
      relay = relayOn(store, producer, { batchSize: 1 });
      const sink = await collect(bus);
      relay.start();
      try {
        await until("the quiet user's event", () => sink.received.some((r) => r.event.userId === quiet.id));
        assert.ok(
          writesBeforeQuiet !== undefined && writesBeforeQuiet < 50,
          `the quiet user's event waited through ${writesBeforeQuiet} writes of the busy one`,
        );
        await until("the outbox to empty", async () => (await store.outboxSize()) === 0);
      } finally {
        await relay.stop();
        await sink.stop();
      }
    });

    test("a send whose acknowledgement is lost: the events go again with the same ids, the first copies in order", async () => {
      const store = await open();
      let lost = 0;
      const producer = interceptedProducer(bus.producer(), async (_messages, deliver) => {
        await deliver();
        if (lost < 3) {
          lost += 1;
          throw new Error("request timed out"); // delivered, but the relay cannot know
        }
      });
      const relay = relayOn(store, producer);
      const service = usersService(store, 3, () => relay);
      const sink = await collect(bus);
      relay.start();
      try {
        const { lastVersion, deleted, total } = await writeUsers([service], 5, 3);
        await until("the outbox to empty", async () => (await store.outboxSize()) === 0);
        await until(`${total} distinct events`, () => summarize(sink.received).copies.size >= total);
        assertInOrder(sink.received, lastVersion, deleted);
        assert.equal(lost, 3);
        assert.ok(duplicates(sink.received) > 0, "the unacknowledged sends came again");
      } finally {
        await relay.stop();
        await sink.stop();
      }
    });

    test("stop() finishes the round in hand: what was sent is marked before it returns", async () => {
      const store = await open();
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let sending = false;
      const producer = interceptedProducer(bus.producer(), async (_messages, deliver) => {
        sending = true;
        await released;
        await deliver();
      });
      const relay = relayOn(store, producer);
      const service = usersService(store, 4, () => relay);
      const sink = await collect(bus);
      relay.start();
      try {
        const user = await service.create({ name: "Last", email: `last-${randomUUID()}@example.com` }, ACTOR);
        await until("the send to start", () => sending);
        const stopped = relay.stop();
        release();
        await stopped;
        assert.equal(await store.outboxSize(), 0, "marked before stop() returned");
        await until("the event", () => sink.received.length === 1);
        assert.equal(sink.received[0]?.event.eventId, `${user.id}-1`);
      } finally {
        await relay.stop();
        await sink.stop();
      }
    });

    test("a relay that dies after sending, before marking: after its lease another relay sends the events again", async () => {
      const shared = `users_${randomUUID().replaceAll("-", "")}`;
      const [storeA, storeB] = [await open(shared), backend === "memory" ? undefined : await open(shared)];
      let sentByA = 0;
      // A's process "dies" inside its send, after the broker took the messages: its round never ends.
      const dying = interceptedProducer(bus.producer(), async (_messages, deliver) => {
        await deliver();
        sentByA += 1;
        await new Promise(() => {});
      });
      const relayA = relayOn(storeA, dying, { leaseMs: 300, owner: "relay-a" });
      const service = usersService(storeA, 5, () => relayA);
      const sink = await collect(bus);
      // Written before the relay starts, so that its first round claims them all.
      const users = await Promise.all(
        range(4).map((i) =>
          service.create({ name: `Dying ${i}`, email: `dying-${i}-${randomUUID()}@example.com` }, ACTOR),
        ),
      );
      relayA.start(); // never stopped: it stands for a process that was killed
      await until("A's send", () => sentByA === 1 && sink.received.length === 4);
      assert.equal(await storeA.outboxSize(), 4, "nothing was marked");
      // A write to a claimed user meanwhile: its event joins the outbox and goes out with the re-sent ones.
      const first = users[0] as User;
      await service.update(first.id, { name: "Changed while A was dying" }, ACTOR);
      // B is not woken by any write: it finds the events by polling, once A's lease is over.
      const relayB = relayOn(storeB ?? storeA, bus.producer(), { owner: "relay-b", pollIntervalMs: 20 });
      relayB.start();
      try {
        await until("the outbox to empty", async () => (await (storeB ?? storeA).outboxSize()) === 0);
        await until("every event", () => summarize(sink.received).copies.size === 5);
        const lastVersion = new Map(users.map((u) => [u.id, u.id === first.id ? 2 : 1]));
        assertInOrder(sink.received, lastVersion, new Set());
        const { copies } = summarize(sink.received);
        for (const user of users) {
          assert.equal(copies.get(`${user.id}-1`)?.length, 2, "A's sent events went again, with the same id");
        }
        assert.equal(copies.get(`${first.id}-2`)?.length, 1, "the later event went once, after the re-sent one");
        assert.equal(sink.received.length, 9);
      } finally {
        await relayB.stop();
        await sink.stop();
      }
    });

    test("a relay that dies before its send: after its lease another relay sends the events, once", async () => {
      const shared = `users_${randomUUID().replaceAll("-", "")}`;
      const [storeA, storeB] = [await open(shared), backend === "memory" ? undefined : await open(shared)];
      let stuck = false;
      const dead = interceptedProducer(bus.producer(), async () => {
        stuck = true;
        await new Promise(() => {});
      });
      const relayA = relayOn(storeA, dead, { leaseMs: 300, owner: "relay-a" });
      const service = usersService(storeA, 6, () => relayA);
      const sink = await collect(bus);
      relayA.start();
      const user = await service.create({ name: "Stuck", email: `stuck-${randomUUID()}@example.com` }, ACTOR);
      await until("A to hold the events", () => stuck);
      const relayB = relayOn(storeB ?? storeA, bus.producer(), { owner: "relay-b", pollIntervalMs: 20 });
      relayB.start();
      try {
        await until("the outbox to empty", async () => (await (storeB ?? storeA).outboxSize()) === 0);
        await until("the event", () => sink.received.length >= 1);
        assert.deepEqual(
          sink.received.map((r) => r.event.eventId),
          [`${user.id}-1`],
        );
      } finally {
        await relayB.stop();
        await sink.stop();
      }
    });

    if (backend === "mongo") {
      test("two instances on one store, both relays competing: every user's events once each, in order", async () => {
        const shared = `users_${randomUUID().replaceAll("-", "")}`;
        const [storeA, storeB] = [await open(shared), await open(shared)];
        const registries = [new Registry(), new Registry()] as const;
        const relayA = relayOn(storeA, bus.producer(), { owner: "relay-a", batchSize: 3, metrics: registries[0] });
        const relayB = relayOn(storeB, bus.producer(), { owner: "relay-b", batchSize: 3, metrics: registries[1] });
        const services = [usersService(storeA, 7, () => relayA), usersService(storeB, 8, () => relayB)];
        const sink = await collect(bus);
        relayA.start();
        relayB.start();
        try {
          const { lastVersion, deleted, total } = await writeUsers(services, 30, 6);
          await until(`${total} events`, () => summarize(sink.received).copies.size >= total);
          await until("the outbox to empty", async () => (await storeA.outboxSize()) === 0);
          assertInOrder(sink.received, lastVersion, deleted);
          assert.equal(duplicates(sink.received), 0, "no lease ran out: no user's events were sent by both");
          const published = await Promise.all(
            registries.map(async (registry) =>
              ((await registry.getSingleMetric("charter_users_events_published_total")?.get())?.values ?? []).reduce(
                (sum, v) => sum + v.value,
                0,
              ),
            ),
          );
          const [byA = 0, byB = 0] = published;
          assert.equal(byA + byB, total);
          assert.ok(byA > 0 && byB > 0, `both relays published: ${byA} + ${byB}`);
        } finally {
          await Promise.all([relayA.stop(), relayB.stop()]);
          await sink.stop();
        }
      });
    }
  });
}
