import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { isAppError } from "../../platform/errors.js";
import type { User } from "../../services/users/domain/user.js";
import type { OutboxClaim, UserStore, UserStoreOptions } from "../../services/users/domain/user-store.js";

/** Opens a store on the given clock (what keys expire and leases run out on). */
type OpenStore = (options: Required<UserStoreOptions>) => Promise<{ store: UserStore; cleanup: () => Promise<void> }>;

const T0 = "2026-01-02T03:04:05.678Z";
const T1 = "2026-01-02T03:04:06.001Z";
let lastId = 1_000_000_000_000_000_000n + BigInt(Date.now()) * 1000n;

/** A valid user with a fresh id and email (overrides win). */
export function makeUser(overrides: Partial<User> = {}): User {
  lastId += 1n;
  return {
    id: String(lastId),
    name: "Ada Lovelace",
    email: `ada-${randomUUID()}@example.com`,
    version: 1,
    createTime: T0,
    updateTime: T0,
    ...overrides,
  };
}

const isEmailTaken = (e: unknown): boolean =>
  isAppError(e) && e.code === "ALREADY_EXISTS" && e.details.reason === "EMAIL_TAKEN";
const byNumber = (a: string, b: string): number => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/**
 * The behaviour every UserStore adapter shares; run against memory and a real MongoDB-compatible
 * server. `open` must return an empty store of its own on every call (the listing tests open one), on the clock
 * it is given: the spec moves that clock to let keys expire and leases run out, and never waits.
 */
export function runUserStoreSpec(name: string, openOn: OpenStore): void {
  let time = Date.parse("2026-01-02T03:04:05.000Z");
  const clock = { now: () => time };
  /** Lets `ms` pass on the stores' clock. */
  const advance = (ms: number): void => {
    time += ms;
  };
  const open = () => openOn(clock);

  describe(`${name} user store (shared spec)`, () => {
    let store: UserStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
    });
    after(() => cleanup());

    const inserted = async (overrides: Partial<User> = {}): Promise<User> => {
      const user = makeUser(overrides);
      await store.insert(user);
      return user;
    };

    test("insert then get returns an equal user; a missing id is undefined", async () => {
      const user = await inserted();
      assert.deepEqual(await store.get(user.id), user);
      assert.equal(await store.get(makeUser().id), undefined);
      await store.ping();
    });

    test("returned users are copies: mutating one changes nothing stored", async () => {
      const user = await inserted();
      const got = (await store.get(user.id)) as { name: string };
      got.name = "mutated";
      const [listed] = (await store.getMany([user.id])) as { name: string }[];
      assert.ok(listed);
      listed.name = "mutated";
      assert.deepEqual(await store.get(user.id), user);
    });

    test("unicode names (emoji, CJK, astral letters) and emails are stored exactly", async () => {
      const user = await inserted({ name: "Zoë 👩🏽‍💻 李小龙 𝔘𝔫𝔦 — ﷽", email: `ünï-${randomUUID()}@例え.jp` });
      assert.deepEqual(await store.get(user.id), user);
    });

    test("emails are unique case-insensitively on insert", async () => {
      const first = await inserted({ email: `Mixed.Case-${randomUUID()}@Example.COM` });
      await assert.rejects(store.insert(makeUser({ email: first.email.toUpperCase() })), isEmailTaken);
      await assert.rejects(store.insert(makeUser({ email: first.email.toLowerCase() })), isEmailTaken);
      const unicode = await inserted({ email: `ÄRGER-${randomUUID()}@example.com` });
      await assert.rejects(store.insert(makeUser({ email: unicode.email.toLowerCase() })), isEmailTaken);
    });

    test("findByEmail finds the live user case-insensitively, never a changed-away email or a deleted user", async () => {
      const user = await inserted({ email: `Mixed.Case-${randomUUID()}@Example.COM` });
      assert.deepEqual(await store.findByEmail(user.email), user);
      assert.deepEqual(await store.findByEmail(user.email.toUpperCase()), user, "upper case finds it");
      assert.deepEqual(await store.findByEmail(user.email.toLowerCase()), user, "lower case finds it");
      const unicode = await inserted({ email: `ÄRGER-${randomUUID()}@example.com` });
      assert.deepEqual(await store.findByEmail(unicode.email.toLowerCase()), unicode, "non-ASCII letters fold too");
      assert.equal(await store.findByEmail(`nobody-${randomUUID()}@example.com`), undefined);

      const renamed = `moved-${randomUUID()}@example.com`;
      const updated = await store.update(user.id, user.version, { email: renamed }, T1);
      assert.ok(updated.ok);
      assert.equal(await store.findByEmail(user.email), undefined, "the old email names no one now");
      assert.deepEqual(await store.findByEmail(renamed.toUpperCase()), updated.value);

      assert.ok((await store.delete(user.id)).ok);
      assert.equal(await store.findByEmail(renamed), undefined, "a tombstone is never found");
      const found = (await store.findByEmail(unicode.email)) as { name: string };
      found.name = "mutated";
      assert.deepEqual(await store.get(unicode.id), unicode, "the user found is a copy");
    });

    test("inserting an existing id rejects (not as a taken email) and keeps the stored user", async () => {
      const user = await inserted();
      await assert.rejects(store.insert(makeUser({ id: user.id })), (e) => !isEmailTaken(e));
      assert.deepEqual(await store.get(user.id), user);
    });

    test("update at the current version applies the changes and bumps the version", async () => {
      const user = await inserted();
      const email = `new-${randomUUID()}@example.com`;
      const renamed = await store.update(user.id, 1, { name: "Grace Hopper" }, T1);
      const expected = { ...user, name: "Grace Hopper", version: 2, updateTime: T1 };
      assert.deepEqual(renamed, { ok: true, value: expected });
      const moved = await store.update(user.id, 2, { email }, T1);
      assert.deepEqual(moved, { ok: true, value: { ...expected, email, version: 3 } });
      assert.deepEqual(await store.get(user.id), { ...expected, email, version: 3 });
    });

    test("update at a stale version is a conflict; update of a missing id is missing", async () => {
      const user = await inserted();
      assert.deepEqual(await store.update(user.id, 2, { name: "Nope" }, T1), { ok: false, reason: "conflict" });
      assert.deepEqual(await store.update(makeUser().id, 1, { name: "Nope" }, T1), { ok: false, reason: "missing" });
      assert.deepEqual(await store.get(user.id), user);
    });

    test("update without an expected version applies to the version it reads", async () => {
      const user = await inserted();
      assert.ok((await store.update(user.id, 1, { name: "Second" }, T1)).ok);
      const third = await store.update(user.id, undefined, { name: "Third" }, T1);
      assert.deepEqual(third, { ok: true, value: { ...user, name: "Third", version: 3, updateTime: T1 } });
      assert.deepEqual(await store.get(user.id), { ...user, name: "Third", version: 3, updateTime: T1 });
      assert.deepEqual(await store.update(makeUser().id, undefined, { name: "Nope" }, T1), {
        ok: false,
        reason: "missing",
      });
    });

    test("beforeWrite is awaited once with the version about to be written, before the write, and only then", async () => {
      const user = await inserted();
      const seen: Array<[number, number | undefined]> = [];
      const beforeWrite = async (version: number) => {
        seen.push([version, (await store.get(user.id))?.version]);
      };
      assert.ok((await store.update(user.id, 1, { name: "Fenced" }, T1, beforeWrite)).ok);
      assert.deepEqual(seen, [[2, 1]], "called with version 2 while version 1 was still stored");
      assert.ok((await store.update(user.id, undefined, { name: "Again" }, T1, beforeWrite)).ok);
      assert.deepEqual(seen, [
        [2, 1],
        [3, 2],
      ]);
      seen.length = 0;
      const stale = await store.update(user.id, 1, { name: "Stale" }, T1, beforeWrite);
      const missing = await store.update(makeUser().id, undefined, { name: "Nobody" }, T1, beforeWrite);
      assert.deepEqual(
        [stale, missing],
        [
          { ok: false, reason: "conflict" },
          { ok: false, reason: "missing" },
        ],
      );
      assert.deepEqual(seen, [], "no write, no call");
    });

    test("a write that gets in between the read and the write wins; the later one is a conflict", async () => {
      for (const expected of [1, undefined]) {
        const user = await inserted();
        const meanwhile = async () => {
          assert.ok((await store.update(user.id, 1, { name: "Meanwhile" }, T1)).ok);
        };
        const late = await store.update(user.id, expected, { name: "Late" }, T1, meanwhile);
        assert.deepEqual(late, { ok: false, reason: "conflict" }, `expected version ${expected}`);
        assert.deepEqual(await store.get(user.id), { ...user, name: "Meanwhile", version: 2, updateTime: T1 });
      }
    });

    test("update to another user's email in another case is taken; the user is unchanged", async () => {
      const owner = await inserted();
      const other = await inserted();
      await assert.rejects(store.update(other.id, 1, { email: owner.email.toUpperCase() }, T1), isEmailTaken);
      assert.deepEqual(await store.get(other.id), other);
    });

    test("a user may change the case of its own email; the old address is then free", async () => {
      const user = await inserted({ email: `lower-${randomUUID()}@example.com` });
      const upper = user.email.toUpperCase();
      const result = await store.update(user.id, 1, { email: upper }, T1);
      assert.deepEqual(result, { ok: true, value: { ...user, email: upper, version: 2, updateTime: T1 } });
      await assert.rejects(store.insert(makeUser({ email: user.email })), isEmailTaken);
      const moved = await store.update(user.id, 2, { email: `elsewhere-${randomUUID()}@example.com` }, T1);
      assert.equal(moved.ok, true);
      await store.insert(makeUser({ email: user.email }));
    });

    test("50 concurrent updates at the same version: exactly one wins and its change is stored", async () => {
      const user = await inserted();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.update(user.id, 1, { name: `writer ${i}` }, T1)),
      );
      const winners = results.flatMap((r) => (r.ok ? [r.value] : []));
      assert.equal(winners.length, 1);
      assert.equal(results.filter((r) => !r.ok && r.reason === "conflict").length, 49);
      assert.deepEqual(await store.get(user.id), winners[0]);
      assert.equal(winners[0]?.version, 2);
    });

    test("delete at a stale version is a conflict; at the current version it returns the user", async () => {
      const user = await inserted();
      assert.deepEqual(await store.delete(user.id, 2), { ok: false, reason: "conflict" });
      assert.deepEqual(await store.get(user.id), user);
      assert.deepEqual(await store.delete(user.id, 1), { ok: true, value: user });
      assert.equal(await store.get(user.id), undefined);
      assert.deepEqual(await store.delete(user.id, 1), { ok: false, reason: "missing" });
    });

    test("delete without a version deletes whatever is stored; a missing id is missing", async () => {
      const user = await inserted();
      const changed = await store.update(user.id, 1, { name: "Changed" }, T1);
      assert.ok(changed.ok);
      assert.deepEqual(await store.delete(user.id), { ok: true, value: changed.value });
      assert.deepEqual(await store.delete(user.id), { ok: false, reason: "missing" });
      assert.deepEqual(await store.delete(makeUser().id), { ok: false, reason: "missing" });
    });

    test("a deleted user's email is free again, in any case", async () => {
      const user = await inserted();
      assert.equal((await store.delete(user.id)).ok, true);
      const again = await inserted({ email: user.email.toUpperCase() });
      assert.deepEqual(await store.get(again.id), again);
    });

    test("getMany returns the existing users in the order of the ids, once per occurrence", async () => {
      const [a, b, c] = [await inserted(), await inserted(), await inserted()];
      const missing = makeUser().id;
      assert.deepEqual(await store.getMany([c.id, missing, a.id, b.id]), [c, a, b]);
      assert.deepEqual(await store.getMany([b.id, b.id]), [b, b]);
      assert.deepEqual(await store.getMany([missing]), []);
      assert.deepEqual(await store.getMany([]), []);
    });

    describe("idempotency keys", () => {
      const key = () => `req-${randomUUID()}`;
      const live = (fingerprint = "fp-1") => ({ fingerprint, expiresAt: clock.now() + 60_000 });

      test("an insert with a key stores it; the same key and fingerprint replay the first user", async () => {
        const k = key();
        const first = makeUser();
        assert.deepEqual(await store.insert(first, { key: k, ...live() }), { kind: "inserted", user: first });
        assert.deepEqual(await store.findByIdempotencyKey(k), { user: first, fingerprint: "fp-1" });
        const retry = makeUser({ email: first.email });
        assert.deepEqual(await store.insert(retry, { key: k, ...live() }), { kind: "replayed", user: first });
        assert.equal(await store.get(retry.id), undefined, "the retry inserted nothing");
        assert.deepEqual(await store.get(first.id), first);
      });

      test("the same key with another fingerprint is reused: nothing is inserted", async () => {
        const k = key();
        const first = makeUser();
        await store.insert(first, { key: k, ...live("fp-a") });
        const other = makeUser();
        assert.deepEqual(await store.insert(other, { key: k, ...live("fp-b") }), { kind: "key-reused" });
        assert.equal(await store.get(other.id), undefined);
        assert.equal(await store.findByIdempotencyKey(key()), undefined, "an unknown key is undefined");
      });

      test("an expired key is cleared on lookup and may be used again; the user it made stays", async () => {
        const k = key();
        const old = makeUser();
        await store.insert(old, { key: k, fingerprint: "fp-old", expiresAt: clock.now() - 1 });
        assert.equal(await store.findByIdempotencyKey(k), undefined);
        const fresh = makeUser();
        assert.deepEqual(await store.insert(fresh, { key: k, ...live("fp-new") }), { kind: "inserted", user: fresh });
        assert.deepEqual(await store.get(old.id), old);
        assert.deepEqual(await store.findByIdempotencyKey(k), { user: fresh, fingerprint: "fp-new" });
        // Expired and not looked up before the insert: the insert clears it itself.
        const k2 = key();
        await store.insert(makeUser(), { key: k2, fingerprint: "fp-old", expiresAt: clock.now() - 1 });
        const again = makeUser();
        assert.deepEqual(await store.insert(again, { key: k2, ...live("fp-x") }), { kind: "inserted", user: again });
      });

      test("deleting the user forgets its key; a plain insert stores no key", async () => {
        const k = key();
        const user = makeUser();
        await store.insert(user, { key: k, ...live() });
        assert.equal((await store.delete(user.id)).ok, true);
        assert.equal(await store.findByIdempotencyKey(k), undefined);
        const plain = makeUser();
        assert.deepEqual(await store.insert(plain), { kind: "inserted", user: plain });
      });

      test("a keyed insert with another user's email is still a taken email", async () => {
        const owner = await inserted();
        await assert.rejects(store.insert(makeUser({ email: owner.email }), { key: key(), ...live() }), isEmailTaken);
      });

      test("10 concurrent inserts with one key and one fingerprint: one user, nine replays of it", async () => {
        const k = key();
        const email = `race-${randomUUID()}@example.com`;
        const attempts = Array.from({ length: 10 }, () => makeUser({ email }));
        const results = await Promise.all(attempts.map((user) => store.insert(user, { key: k, ...live() })));
        const insertedOnes = results.flatMap((r) => (r.kind === "inserted" ? [r.user] : []));
        assert.equal(insertedOnes.length, 1, JSON.stringify(results));
        const winner = insertedOnes[0];
        assert.ok(winner);
        for (const r of results) assert.deepEqual(r.kind === "key-reused" ? undefined : r.user, winner);
        const stored = await store.getMany(attempts.map((u) => u.id));
        assert.deepEqual(stored, [winner]);
      });
    });

    describe("listing (on a store of its own)", () => {
      // 25 ids of 1 to 19 digits, up to the largest 64-bit id: string order is not numeric order.
      // biome-ignore format: a table
      const ids = [
        "9", "10", "11", "99", "100", "101", "999", "1000", "12345", "99999", "100000", "2000000",
        "30000000", "400000000", "5000000000", "99999999999", "100000000000", "4611686018427387904",
        "123456789012345678", "123456789012345679", "999999999999999999", "1000000000000000000",
        "1844674407370955161", "9007199254740993", "9223372036854775807",
      ];
      const sorted = [...ids].sort(byNumber);
      let own: Awaited<ReturnType<OpenStore>>;
      before(async () => {
        own = await open();
        // Inserted in a scrambled order (7 is coprime with 25, so this is a permutation).
        for (const i of ids.keys()) await own.store.insert(makeUser({ id: ids[(i * 7) % ids.length] as string }));
      });
      after(() => own.cleanup());

      test("pages of 10 cover every user in numeric id order, with no duplicates or gaps", async () => {
        const seen: string[] = [];
        const sizes: number[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await own.store.list(afterId === undefined ? { limit: 10 } : { limit: 10, afterId });
          sizes.push(page.length);
          if (page.length === 0) break;
          seen.push(...page.map((u) => u.id));
          afterId = page.at(-1)?.id;
        }
        assert.deepEqual(sizes, [10, 10, 5, 0]);
        assert.deepEqual(seen, sorted);
      });

      test("listing after an id that does not exist starts at the next larger id", async () => {
        const page = await own.store.list({ limit: 3, afterId: "50" });
        assert.deepEqual(
          page.map((u) => u.id),
          ["99", "100", "101"],
        );
        const last = await own.store.list({ limit: 10, afterId: "9007199254740992" });
        assert.deepEqual(
          last.map((u) => u.id),
          sorted.slice(sorted.indexOf("9007199254740993")),
        );
        assert.deepEqual(await own.store.list({ limit: 10, afterId: "9223372036854775807" }), []);
      });

      test("listed users are whole users", async () => {
        const [first] = await own.store.list({ limit: 1 });
        assert.equal(first?.id, "9");
        assert.deepEqual(await own.store.get("9"), first);
      });
    });

    describe("the outbox", () => {
      let own: { store: UserStore; cleanup: () => Promise<void> };
      before(async () => {
        own = await open();
      });
      after(() => own.cleanup());
      const T2 = "2026-01-02T03:04:07.000Z";
      const claimAll = (owner: string, leaseMs = 60_000) => own.store.claimOutbox(owner, 10_000, leaseMs);
      const eventsOf = (claims: readonly OutboxClaim[], userId: string) =>
        claims.find((c) => c.userId === userId)?.events ?? [];

      test("each write's event keeps the actor it was written by, read back as it was written", async () => {
        const user = makeUser();
        await own.store.insert(user, undefined, "charter-dev");
        assert.ok((await own.store.update(user.id, 1, { name: "Ada King" }, T1, undefined, "charter-writer")).ok);
        assert.ok((await own.store.update(user.id, 2, { name: "Ada" }, T1)).ok);
        assert.equal((await own.store.delete(user.id, 3, T2, "charter-admin")).ok, true);
        const owner = `relay-${randomUUID()}`;
        const events = eventsOf(await claimAll(owner), user.id);
        assert.deepEqual(
          events.map((event) => [event.type, event.actor]),
          [
            ["CREATED", "charter-dev"],
            ["UPDATED", "charter-writer"],
            ["UPDATED", undefined],
            ["DELETED", "charter-admin"],
          ],
        );
        await own.store.markSent(
          user.id,
          events.map((event) => event.eventId),
          owner,
        );
      });

      test("every write records its event in the same write: created, updated (with the new user), deleted", async () => {
        const user = makeUser();
        await own.store.insert(user);
        const updated = await own.store.update(user.id, 1, { name: "Ada King" }, T1);
        assert.ok(updated.ok);
        assert.equal((await own.store.delete(user.id, 2, T2)).ok, true);
        const first = `relay-${randomUUID()}`;
        const claims = await claimAll(first);
        assert.deepEqual(eventsOf(claims, user.id), [
          { eventId: `${user.id}-1`, type: "CREATED", userId: user.id, version: 1, occurredAt: T0, user },
          {
            eventId: `${user.id}-2`,
            type: "UPDATED",
            userId: user.id,
            version: 2,
            occurredAt: T1,
            user: { ...user, name: "Ada King", version: 2, updateTime: T1 },
          },
          { eventId: `${user.id}-3`, type: "DELETED", userId: user.id, version: 3, occurredAt: T2 },
        ]);
        // Written without an actor, the events name none (unknown).
        assert.ok(eventsOf(claims, user.id).every((event) => !("actor" in event)));
        // Marked in one call with another claimed user's: both outboxes are empty, the tombstone is gone.
        await own.store.releaseClaim(user.id, first);
        const other = makeUser();
        await own.store.insert(other);
        const owner = `relay-${randomUUID()}`;
        const held = await claimAll(owner);
        assert.equal(eventsOf(held, user.id).length, 3);
        await own.store.markAllSent(
          held.map((c) => ({ userId: c.userId, eventIds: c.events.map((e) => e.eventId) })),
          owner,
        );
        const after = await claimAll(`relay-${randomUUID()}`);
        assert.deepEqual([eventsOf(after, user.id), eventsOf(after, other.id)], [[], []]);
        assert.equal(await own.store.get(other.id).then((u) => u?.version), 1);
      });

      test("a deleted user is a tombstone: invisible, its email free at once, gone once its events are sent", async () => {
        const user = makeUser();
        await own.store.insert(user, { key: `k-${user.id}`, fingerprint: "f", expiresAt: clock.now() + 60_000 });
        assert.equal((await own.store.delete(user.id)).ok, true);
        assert.equal(await own.store.get(user.id), undefined);
        assert.deepEqual(await own.store.getMany([user.id]), []);
        assert.ok(!(await own.store.list({ limit: 10_000 })).some((u) => u.id === user.id));
        assert.equal(await own.store.findByIdempotencyKey(`k-${user.id}`), undefined);
        assert.deepEqual(await own.store.update(user.id, 2, { name: "x" }, T1), { ok: false, reason: "missing" });
        assert.deepEqual(await own.store.delete(user.id), { ok: false, reason: "missing" });
        const again = makeUser({ email: user.email.toUpperCase() });
        assert.equal((await own.store.insert(again)).kind, "inserted", "the email is free while the tombstone waits");
        const owner = `relay-${randomUUID()}`;
        const events = eventsOf(await claimAll(owner), user.id);
        assert.deepEqual(
          events.map((e) => e.type),
          ["CREATED", "DELETED"],
        );
        const before = await own.store.outboxSize();
        await own.store.markSent(
          user.id,
          events.map((e) => e.eventId),
          owner,
        );
        assert.equal(await own.store.outboxSize(), before - 2);
        assert.deepEqual(eventsOf(await claimAll(`relay-${randomUUID()}`), user.id), []);
      });

      test("marking sent keeps the version and any event recorded after the claim", async () => {
        const user = makeUser();
        await own.store.insert(user);
        const owner = `relay-${randomUUID()}`;
        const claimed = eventsOf(await claimAll(owner), user.id);
        assert.equal(claimed.length, 1);
        // A write lands between the relay's claim and its mark.
        assert.ok((await own.store.update(user.id, 1, { name: "Later" }, T1)).ok);
        await own.store.markSent(
          user.id,
          claimed.map((e) => e.eventId),
          owner,
        );
        assert.equal((await own.store.get(user.id))?.version, 2, "marking sent changes no version");
        const next = eventsOf(await claimAll(`relay-${randomUUID()}`), user.id);
        assert.deepEqual(
          next.map((e) => [e.eventId, e.user?.name]),
          [[`${user.id}-2`, "Later"]],
        );
      });

      test("a claim is exclusive until it is marked, released or its lease runs out", async () => {
        const user = makeUser();
        await own.store.insert(user);
        const [first, second] = await Promise.all([claimAll("relay-a"), claimAll("relay-b")]);
        const holders = [first, second].filter((claims) => eventsOf(claims ?? [], user.id).length > 0);
        assert.equal(holders.length, 1, "exactly one of two concurrent relays claims the user");
        const owner = eventsOf(first ?? [], user.id).length > 0 ? "relay-a" : "relay-b";
        const other = owner === "relay-a" ? "relay-b" : "relay-a";
        await own.store.markSent(user.id, [`${user.id}-1`], other); // not the holder: nothing happens
        await own.store.releaseClaim(user.id, other);
        assert.deepEqual(eventsOf(await claimAll("relay-c"), user.id), []);
        await own.store.releaseClaim(user.id, owner);
        assert.equal(eventsOf(await claimAll("relay-d", 1), user.id).length, 1, "released: claimable again");
        assert.deepEqual(eventsOf(await claimAll("relay-e"), user.id), [], "the lease still holds");
        advance(2);
        assert.equal(eventsOf(await claimAll("relay-e"), user.id).length, 1, "lease over: claimable again");
      });

      test("only applied writes record events: a lost race, a refused write and a replayed create record none", async () => {
        const user = makeUser();
        await own.store.insert(user, { key: `k-${user.id}`, fingerprint: "f", expiresAt: clock.now() + 60_000 });
        const retry = makeUser({ email: user.email });
        assert.equal(
          (await own.store.insert(retry, { key: `k-${user.id}`, fingerprint: "f", expiresAt: clock.now() + 60_000 }))
            .kind,
          "replayed",
        );
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => own.store.update(user.id, 1, { name: `writer ${i}` }, T1)),
        );
        const winner = results.flatMap((r) => (r.ok ? [r.value] : []));
        assert.equal(winner.length, 1);
        await assert.rejects(own.store.insert(makeUser({ email: user.email })), isEmailTaken);
        assert.deepEqual(await own.store.delete(user.id, 1), { ok: false, reason: "conflict" });
        const claims = await claimAll(`relay-${randomUUID()}`);
        assert.deepEqual(
          eventsOf(claims, user.id).map((e) => [e.eventId, e.type, e.user]),
          [
            [`${user.id}-1`, "CREATED", user],
            [`${user.id}-2`, "UPDATED", winner[0]],
          ],
        );
        assert.deepEqual(eventsOf(claims, retry.id), [], "the replayed create recorded nothing");
      });

      test("a delete between claim and mark: the tombstone stays, invisible, until its DELETED event is sent", async () => {
        const { store, cleanup } = await open();
        try {
          const user = makeUser();
          await store.insert(user);
          const first = await store.claimOutbox("relay-a", 10, 60_000);
          assert.deepEqual(
            eventsOf(first, user.id).map((e) => e.type),
            ["CREATED"],
          );
          assert.equal((await store.delete(user.id, 1, T1)).ok, true);
          await store.markSent(user.id, [`${user.id}-1`], "relay-a");
          assert.equal(await store.get(user.id), undefined);
          assert.equal(await store.outboxSize(), 1, "the DELETED event is still pending");
          const second = await store.claimOutbox("relay-b", 10, 60_000);
          assert.deepEqual(second, [
            {
              userId: user.id,
              events: [{ eventId: `${user.id}-2`, type: "DELETED", userId: user.id, version: 2, occurredAt: T1 }],
            },
          ]);
          await store.markSent(user.id, [`${user.id}-2`], "relay-b");
          assert.equal(await store.outboxSize(), 0);
          assert.deepEqual(await store.claimOutbox("relay-c", 10, 1), []);
          const again = makeUser({ email: user.email });
          assert.equal((await store.insert(again)).kind, "inserted");
        } finally {
          await cleanup();
        }
      });

      test("claims start after the id a relay names and wrap round to the start, in id order", async () => {
        const { store, cleanup } = await open();
        try {
          const users = Array.from({ length: 5 }, () => makeUser());
          for (const user of [...users].reverse()) await store.insert(user); // inserted newest first
          const ids = users.map((u) => u.id);
          const claimed = async (owner: string, limit: number, afterId?: string) =>
            (await store.claimOutbox(owner, limit, 60_000, afterId)).map((c) => c.userId);
          assert.deepEqual(await claimed("relay-a", 2, ids[2]), [ids[3], ids[4]]);
          assert.deepEqual(await claimed("relay-a", 2, ids[4]), [ids[0], ids[1]], "wrapped round to the start");
          assert.deepEqual(await claimed("relay-b", 10, ids[0]), [ids[2]], "only what no claim holds");
          await store.releaseClaim(ids[1] as string, "relay-a");
          await store.releaseClaim(ids[3] as string, "relay-a");
          assert.deepEqual(await claimed("relay-c", 10), [ids[1], ids[3]], "without afterId, from the start");
        } finally {
          await cleanup();
        }
      });

      test("a late mark by a relay whose lease ran out and was taken over changes nothing", async () => {
        const { store, cleanup } = await open();
        try {
          const user = makeUser();
          await store.insert(user);
          assert.equal((await store.claimOutbox("relay-slow", 10, 1)).length, 1);
          advance(2);
          const taken = await store.claimOutbox("relay-next", 10, 60_000);
          assert.deepEqual(
            eventsOf(taken, user.id).map((e) => e.eventId),
            [`${user.id}-1`],
          );
          assert.ok((await store.update(user.id, 1, { name: "Meanwhile" }, T1)).ok);
          await store.markSent(user.id, [`${user.id}-1`], "relay-slow");
          await store.releaseClaim(user.id, "relay-slow");
          assert.equal(await store.outboxSize(), 2, "the late relay removed nothing");
          assert.deepEqual(await store.claimOutbox("relay-other", 10, 60_000), [], "the new claim still holds");
          await store.markSent(user.id, [`${user.id}-1`], "relay-next");
          const rest = await store.claimOutbox("relay-other", 10, 60_000);
          assert.deepEqual(
            eventsOf(rest, user.id).map((e) => e.eventId),
            [`${user.id}-2`],
          );
        } finally {
          await cleanup();
        }
      });

      test("a batch is claimed in one call and marked in one call: deletes, later writes and the limit as for one user", async () => {
        const { store, cleanup } = await open();
        try {
          const users = Array.from({ length: 30 }, () => makeUser());
          for (const user of users) await store.insert(user);
          const ids = users.map((u) => u.id).sort(byNumber);
          const claims = await store.claimOutbox("relay-a", 25, 60_000);
          assert.deepEqual(
            claims.map((c) => c.userId),
            ids.slice(0, 25),
            "the first 25 in id order",
          );
          assert.ok(claims.every((c) => c.events.length === 1 && c.events[0]?.type === "CREATED"));
          // Between the claim and the mark: one claimed user changes, one is deleted (its DELETED event waits).
          const changed = ids[3] as string;
          const deleted = ids[7] as string;
          assert.ok((await store.update(changed, 1, { name: "Changed" }, T1)).ok);
          assert.equal((await store.delete(deleted, 1, T1)).ok, true);
          await store.markAllSent(
            claims.map((c) => ({ userId: c.userId, eventIds: c.events.map((e) => e.eventId) })),
            "relay-a",
          );
          assert.equal(await store.outboxSize(), 5 + 2, "the 5 unclaimed and the 2 events written meanwhile");
          const next = await store.claimOutbox("relay-b", 100, 60_000);
          assert.deepEqual(
            next.map((c) => [c.userId, c.events.map((e) => e.type)]),
            [[changed, ["UPDATED"]], [deleted, ["DELETED"]], ...ids.slice(25).map((id) => [id, ["CREATED"]])],
          );
          await store.markAllSent(
            next.map((c) => ({ userId: c.userId, eventIds: c.events.map((e) => e.eventId) })),
            "relay-b",
          );
          assert.equal(await store.outboxSize(), 0);
          assert.deepEqual(await store.claimOutbox("relay-c", 100, 60_000), [], "the tombstone is gone");
          assert.equal((await store.get(changed))?.name, "Changed");
        } finally {
          await cleanup();
        }
      });

      test("marking a batch touches only the users the relay still holds", async () => {
        const { store, cleanup } = await open();
        try {
          const [a, b, c] = [makeUser(), makeUser(), makeUser()];
          for (const user of [a, b, c]) await store.insert(user);
          assert.equal((await store.claimOutbox("relay-slow", 10, 1)).length, 3);
          advance(2);
          // relay-next takes b over; a and c stay with relay-slow's expired lease (nobody took them).
          const taken = await store.claimOutbox("relay-next", 1, 60_000, a.id);
          assert.deepEqual(
            taken.map((claim) => claim.userId),
            [b.id],
          );
          await store.markAllSent(
            [a, b, c].map((u) => ({ userId: u.id, eventIds: [`${u.id}-1`] })),
            "relay-slow",
          );
          assert.equal(await store.outboxSize(), 1, "a's and c's events are marked; b's, held by another, stay");
          assert.deepEqual(await store.claimOutbox("relay-other", 10, 60_000), [], "b's claim still holds");
          await store.markAllSent([{ userId: b.id, eventIds: [`${b.id}-1`] }], "relay-next");
          assert.equal(await store.outboxSize(), 0);
        } finally {
          await cleanup();
        }
      });

      test("8 concurrent claimers over 60 users: each user claimed by exactly one, all claimed, limits kept", async () => {
        const { store, cleanup } = await open();
        try {
          const users = Array.from({ length: 60 }, () => makeUser());
          for (const user of users) await store.insert(user);
          const claimedBy = new Map<string, string[]>();
          const sizes: number[] = [];
          await Promise.all(
            Array.from({ length: 8 }, async (_, n) => {
              const owner = `relay-${n}`;
              for (;;) {
                const claims = await store.claimOutbox(owner, 4, 60_000);
                sizes.push(claims.length);
                if (claims.length === 0) return;
                for (const claim of claims)
                  claimedBy.set(claim.userId, [...(claimedBy.get(claim.userId) ?? []), owner]);
              }
            }),
          );
          assert.ok(Math.max(...sizes) <= 4, "no claim goes over its limit");
          assert.deepEqual([...claimedBy.keys()].sort(byNumber), users.map((u) => u.id).sort(byNumber));
          const twice = [...claimedBy].filter(([, owners]) => owners.length !== 1);
          assert.deepEqual(twice, [], "no user claimed twice while its claim held");
          assert.equal(await store.outboxSize(), 60, "claiming marks nothing");
        } finally {
          await cleanup();
        }
      });
    });
  });
}
