/**
 * The behaviour every store of an entity service made by `npm run new:service` shares: run against its memory
 * adapter and its MongoDB adapter (a real MongoDB-compatible server). Generic over the entity: the service's
 * tests hand it a factory of valid entities and a change to apply. The outbox too: each write records its event
 * with it, claims are exclusive until their lease ends, and marked events are not returned again.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { OutboxClaim, OutboxEventBase, OutboxStore } from "../../platform/events/outbox-relay.js";

/** What the spec needs of an entity: an id, a version counted from 1, and its timestamps. */
export interface StoredEntity {
  readonly id: string;
  readonly version: number;
  readonly createTime: string;
  readonly updateTime: string;
}

type Written<E> = { readonly ok: true; readonly value: E } | { readonly ok: false; readonly reason: string };

/** A claim as the store answers it: the outbox of the platform's relay (platform/events/outbox-relay.ts). */
type Claim = OutboxClaim<OutboxEventBase>;

/** The entity's store: its reads and writes, and the outbox port the platform's relay reads. */
export interface EntityStore<E extends StoredEntity, C> extends OutboxStore<OutboxEventBase> {
  get(id: string): Promise<E | undefined>;
  getMany(ids: readonly string[]): Promise<E[]>;
  list(page: { readonly limit: number; readonly afterId?: string }): Promise<E[]>;
  insert(entity: E): Promise<void>;
  update(id: string, changes: C, time: string, expectedVersion?: number): Promise<Written<E>>;
  delete(id: string, expectedVersion?: number): Promise<Written<E>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface EntityFixtures<E extends StoredEntity, C> {
  /** A valid entity at version 1 with this id (a decimal 64-bit integer). */
  make(id: string): E;
  /** A change every entity accepts, and what it does to one. */
  readonly change: C;
}

/** Opens an empty store of its own on every call; outbox claims run out on `now` (ms since 1970) when given. */
type OpenStore<E extends StoredEntity, C> = (options?: { readonly now?: () => number }) => Promise<{
  store: EntityStore<E, C>;
  cleanup: () => Promise<void>;
}>;

const LATER = "2026-01-02T03:04:06.001Z";
let lastId = 1_000_000_000_000_000_000n + BigInt(Date.now()) * 1000n;
const nextId = (): string => {
  lastId += 1n;
  return String(lastId);
};

export function runEntityStoreSpec<E extends StoredEntity, C>(
  name: string,
  open: OpenStore<E, C>,
  fixtures: EntityFixtures<E, C>,
): void {
  describe(`${name} (shared entity store spec)`, () => {
    let store: EntityStore<E, C>;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
    });
    after(() => cleanup());

    const inserted = async (id = nextId()): Promise<E> => {
      const entity = fixtures.make(id);
      await store.insert(entity);
      return entity;
    };

    test("insert then get returns an equal entity; a missing id is undefined", async () => {
      const entity = await inserted();
      assert.deepEqual(await store.get(entity.id), entity);
      assert.equal(await store.get(nextId()), undefined);
      await store.ping();
    });

    test("returned entities are copies: mutating one changes nothing stored", async () => {
      const entity = await inserted();
      const got = (await store.get(entity.id)) as { version: number };
      got.version = 99;
      const [listed] = (await store.getMany([entity.id])) as { version: number }[];
      assert.ok(listed);
      listed.version = 98;
      assert.deepEqual(await store.get(entity.id), entity);
    });

    test("getMany keeps the order asked and leaves out ids with no entity", async () => {
      const a = await inserted();
      const b = await inserted();
      const missing = nextId();
      assert.deepEqual(
        (await store.getMany([b.id, missing, a.id])).map((e) => e.id),
        [b.id, a.id],
      );
      assert.deepEqual(await store.getMany([]), []);
    });

    test("list orders by id as numbers (shorter ids first) and pages after an id", async () => {
      const own = await open();
      try {
        const ids = ["9", "10", "123", "1000000000000000001", "99"];
        for (const id of ids) await own.store.insert(fixtures.make(id));
        const all = (await own.store.list({ limit: 10 })).map((e) => e.id);
        assert.deepEqual(all, ["9", "10", "99", "123", "1000000000000000001"]);
        assert.deepEqual(
          (await own.store.list({ limit: 2, afterId: "10" })).map((e) => e.id),
          ["99", "123"],
        );
        assert.deepEqual(await own.store.list({ limit: 5, afterId: "1000000000000000001" }), []);
      } finally {
        await own.cleanup();
      }
    });

    test("update applies the change, bumps the version and sets updateTime; at a stale version it does not", async () => {
      const entity = await inserted();
      const updated = await store.update(entity.id, fixtures.change, LATER, 1);
      assert.ok(updated.ok);
      assert.equal(updated.value.version, 2);
      assert.equal(updated.value.updateTime, LATER);
      assert.equal(updated.value.createTime, entity.createTime);
      assert.deepEqual({ ...updated.value, ...fixtures.change }, updated.value, "the change is applied");
      assert.deepEqual(await store.get(entity.id), updated.value);
      assert.deepEqual(await store.update(entity.id, fixtures.change, LATER, 1), { ok: false, reason: "stale" });
      const unconditional = await store.update(entity.id, fixtures.change, LATER);
      assert.ok(unconditional.ok);
      assert.equal(unconditional.value.version, 3);
    });

    test("update and delete of a missing id are not-found", async () => {
      const id = nextId();
      assert.deepEqual(await store.update(id, fixtures.change, LATER), { ok: false, reason: "not-found" });
      assert.deepEqual(await store.delete(id), { ok: false, reason: "not-found" });
    });

    test("delete returns the entity as it was, at its version only when one is given; then it is gone", async () => {
      const entity = await inserted();
      assert.deepEqual(await store.delete(entity.id, 2), { ok: false, reason: "stale" });
      assert.deepEqual(await store.delete(entity.id, 1), { ok: true, value: entity });
      assert.equal(await store.get(entity.id), undefined);
      assert.deepEqual(await store.getMany([entity.id]), []);
      const other = await inserted();
      assert.deepEqual(await store.delete(other.id), { ok: true, value: other });
    });

    /** A store of its own whose claims run out on a clock the test moves. */
    const clocked = async () => {
      const clock = { now: Date.parse("2026-01-02T03:04:05.678Z") };
      const own = await open({ now: () => clock.now });
      return { ...own, clock };
    };
    const summary = (claims: readonly Claim[]) =>
      claims.map((c) => [c.id, c.events.map((e) => `${e.type} ${e.eventId}`)]);

    test("each write records its event with it, in order; a refused write records none", async () => {
      const own = await clocked();
      try {
        const entity = fixtures.make(nextId());
        await own.store.insert(entity);
        assert.ok((await own.store.update(entity.id, fixtures.change, LATER, 1)).ok);
        assert.deepEqual(await own.store.update(entity.id, fixtures.change, LATER, 1), { ok: false, reason: "stale" });
        assert.deepEqual(await own.store.delete(entity.id, 1), { ok: false, reason: "stale" });
        assert.ok((await own.store.delete(entity.id, 2)).ok);
        assert.equal(await own.store.get(entity.id), undefined, "a deleted entity is gone while its event waits");
        assert.deepEqual(await own.store.list({ limit: 10 }), []);
        assert.deepEqual(await own.store.update(entity.id, fixtures.change, LATER), { ok: false, reason: "not-found" });
        assert.equal(await own.store.outboxSize(), 3);
        assert.deepEqual(summary(await own.store.claimOutbox("relay-a", 10, 1_000)), [
          [entity.id, [`CREATED ${entity.id}-1`, `UPDATED ${entity.id}-2`, `DELETED ${entity.id}-3`]],
        ]);
      } finally {
        await own.cleanup();
      }
    });

    test("a claim is exclusive until its lease ends or it is released; claims go round from after the last", async () => {
      const own = await clocked();
      try {
        const [a, b, c] = [fixtures.make(nextId()), fixtures.make(nextId()), fixtures.make(nextId())];
        for (const entity of [a, b, c]) await own.store.insert(entity);
        const ids = (claims: readonly Claim[]) => claims.map((claim) => claim.id);
        assert.deepEqual(ids(await own.store.claimOutbox("relay-a", 2, 1_000)), [a.id, b.id]);
        assert.deepEqual(ids(await own.store.claimOutbox("relay-b", 10, 1_000)), [c.id], "a and b are held");
        assert.deepEqual(await own.store.claimOutbox("relay-c", 10, 1_000), [], "all are held");
        own.clock.now += 999;
        assert.deepEqual(await own.store.claimOutbox("relay-c", 10, 1_000), [], "the leases hold until they end");
        own.clock.now += 1;
        assert.deepEqual(ids(await own.store.claimOutbox("relay-c", 1, 1_000, a.id)), [b.id], "after the last claimed");
        assert.deepEqual(
          ids(await own.store.claimOutbox("relay-c", 10, 1_000, b.id)),
          [c.id, a.id],
          "round to the start",
        );
        await own.store.releaseClaim(b.id, "relay-a");
        assert.deepEqual(await own.store.claimOutbox("relay-d", 10, 1_000), [], "only the claim's owner releases it");
        await own.store.releaseClaim(b.id, "relay-c");
        assert.deepEqual(ids(await own.store.claimOutbox("relay-d", 10, 1_000)), [b.id]);
      } finally {
        await own.cleanup();
      }
    });

    test("marked events are not returned again; one recorded after the claim stays pending", async () => {
      const own = await clocked();
      try {
        const entity = fixtures.make(nextId());
        await own.store.insert(entity);
        const [claim] = await own.store.claimOutbox("relay-a", 10, 60_000);
        assert.ok(claim);
        assert.ok((await own.store.update(entity.id, fixtures.change, LATER)).ok);
        await own.store.markAllSent([{ id: entity.id, eventIds: claim.events.map((e) => e.eventId) }], "relay-a");
        assert.equal(await own.store.outboxSize(), 1);
        assert.deepEqual(summary(await own.store.claimOutbox("relay-b", 10, 60_000)), [
          [entity.id, [`UPDATED ${entity.id}-2`]],
        ]);
        await own.store.markAllSent([{ id: entity.id, eventIds: [`${entity.id}-2`] }], "relay-a");
        assert.equal(await own.store.outboxSize(), 1, "a relay that no longer holds the claim marks nothing");
        await own.store.markAllSent([{ id: entity.id, eventIds: [`${entity.id}-2`] }], "relay-b");
        assert.deepEqual(await own.store.claimOutbox("relay-c", 10, 60_000), []);
        assert.equal(await own.store.outboxSize(), 0);
        assert.deepEqual(await own.store.get(entity.id), {
          ...entity,
          ...fixtures.change,
          version: 2,
          updateTime: LATER,
        });

        assert.ok((await own.store.delete(entity.id)).ok);
        assert.deepEqual(summary(await own.store.claimOutbox("relay-c", 10, 60_000)), [
          [entity.id, [`DELETED ${entity.id}-3`]],
        ]);
        await own.store.markAllSent([{ id: entity.id, eventIds: [`${entity.id}-3`] }], "relay-c");
        assert.deepEqual(await own.store.claimOutbox("relay-d", 10, 60_000), []);
        assert.equal(await own.store.outboxSize(), 0);
        assert.equal(await own.store.get(entity.id), undefined);
      } finally {
        await own.cleanup();
      }
    });
  });
}
