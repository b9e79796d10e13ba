import { randomUUID } from "node:crypto";
import { type AnyBulkWriteOperation, type Collection, type Filter, Long, MongoServerError } from "mongodb";
import { storedOrigin } from "../../../platform/events/change-origin.js";
import { connectMongo, DUPLICATE_KEY } from "../../../platform/mongo.js";
import { applyChanges, emailKey, emailTaken, type User } from "../domain/user.js";
import {
  type InsertResult,
  type KeyedUser,
  type OutboxClaim,
  type OutboxEvent,
  outboxEvent,
  type UserStore,
  type UserStoreOptions,
  type WriteResult,
} from "../domain/user-store.js";

interface UserDocument {
  /** The snowflake as a 64-bit integer. Reads give a number when it fits in 53 bits (promoteLongs). */
  _id: Long;
  name: string;
  email: string;
  /** The lower-cased email: the unique index makes emails unique case-insensitively. Unset on a tombstone. */
  emailKey?: string;
  version: number;
  createTime: string;
  updateTime: string;
  /** The idempotency key the user was created with, while it lives (a unique sparse index). */
  requestKey?: string;
  requestFingerprint?: string;
  /** When the key expires, ms since 1970; an expired key is unset when next looked up. */
  requestExpiresAt?: number;
  /** A tombstone: deleted, kept (invisible) until its DELETED event is sent. */
  deleted?: true;
  /** Events recorded with the writes and not yet sent, in version order. */
  outbox?: OutboxEvent[];
  /** Set while the outbox is not empty (a sparse index finds the users with something to send). */
  pending?: true;
  /** The relay that holds the outbox, until when (ms since 1970), and which of its claims (a random id). */
  claim?: { owner: string; until: number; round?: string };
}

/** Sparse: tombstones have no emailKey, so a deleted user's email is free at once. */
const EMAIL_INDEX = "email_unique_ci_live";
/** The index of the first releases, not sparse: dropped at start-up (tombstones would collide in it). */
const OLD_EMAIL_INDEX = "email_unique_ci";
const PENDING_INDEX = "outbox_pending";
/** The claimed users, by relay: what a relay still holds when it marks is found through it (on MongoDB). */
const CLAIM_INDEX = "outbox_claim_owner";
/** Attempts of a delete without etag that meets concurrent updates. */
const MAX_DELETE_ATTEMPTS = 20;
const LIVE = { deleted: { $ne: true } } as const;
/**
 * The fields a read of a user needs: never the outbox or the claim, which can be large and are being changed by
 * other writers. (mongo-java-server also answers an unprojected findAndModify with the stored document itself;
 * a concurrent update while the reply is encoded fails it and closes the connection.)
 */
const USER_FIELDS = { projection: { name: 1, email: 1, version: 1, createTime: 1, updateTime: 1 } } as const;
const KEYED_USER_FIELDS = {
  projection: { ...USER_FIELDS.projection, requestFingerprint: 1, requestExpiresAt: 1 },
} as const;
const REQUEST_KEY_INDEX = "request_key_unique";
/** How often an insert with an idempotency key looks again after meeting an expired key being cleared. */
const MAX_KEY_ATTEMPTS = 5;

const longId = (id: string): Long => Long.fromString(id);
/** An outbox event as read back (numbers stay numbers; the snapshot is a plain user). */
const fromStoredEvent = (event: OutboxEvent): OutboxEvent => ({
  eventId: event.eventId,
  type: event.type,
  userId: event.userId,
  version: Number(event.version),
  occurredAt: event.occurredAt,
  ...(event.user ? { user: { ...event.user, version: Number(event.user.version) } } : {}),
  ...storedOrigin(event),
});
const toUser = (doc: UserDocument): User => ({
  id: String(doc._id),
  name: doc.name,
  email: doc.email,
  version: doc.version,
  createTime: doc.createTime,
  updateTime: doc.updateTime,
});

/**
 * True when a write broke the email index (a duplicate _id is a different, internal, fault).
 * MongoDB names the index in keyPattern; mongo-java-server only in the message.
 */
const isEmailDuplicate = (error: unknown): boolean =>
  error instanceof MongoServerError &&
  error.code === DUPLICATE_KEY &&
  (error.keyPattern?.emailKey !== undefined || error.message.includes(`index: ${EMAIL_INDEX} `));

const isRequestKeyDuplicate = (error: unknown): boolean =>
  error instanceof MongoServerError &&
  error.code === DUPLICATE_KEY &&
  (error.keyPattern?.requestKey !== undefined || error.message.includes(`index: ${REQUEST_KEY_INDEX} `));

const mapDuplicate = (error: unknown): never => {
  throw isEmailDuplicate(error) ? emailTaken() : error;
};

/**
 * MongoDB adapter: `_id` is the snowflake as a 64-bit integer (so sorting by `_id` is id order),
 * a unique index on the lower-cased email, and every write conditional on the version it read.
 * Single-document writes only: the test server (mongo-java-server) has no transactions.
 * getMany returns a user once per occurrence of its id. Driver errors other than a taken email
 * propagate unchanged for the service layer to classify.
 */
export async function createMongoUserStore(
  opts: UserStoreOptions & {
    url: string;
    connectTimeoutMs: number;
    collection?: string;
  },
): Promise<UserStore> {
  const clock = opts.now ?? Date.now;
  const { client, db } = await connectMongo({
    url: opts.url,
    connectTimeoutMs: opts.connectTimeoutMs,
    appName: "charter-users",
    prepare: async (database) => {
      const collection = database.collection<UserDocument>(opts.collection ?? "users");
      await collection.dropIndex(OLD_EMAIL_INDEX).catch(() => undefined); // absent on new databases
      await collection.createIndex({ emailKey: 1 }, { unique: true, sparse: true, name: EMAIL_INDEX });
      await collection.createIndex({ pending: 1 }, { sparse: true, name: PENDING_INDEX });
      await collection.createIndex({ "claim.owner": 1 }, { sparse: true, name: CLAIM_INDEX });
      await collection.createIndex({ requestKey: 1 }, { unique: true, sparse: true, name: REQUEST_KEY_INDEX });
    },
  });
  const users: Collection<UserDocument> = db.collection<UserDocument>(opts.collection ?? "users");

  /** Why a delete conditional on _id and version matched nothing. */
  const missOrConflict = async (id: string): Promise<WriteResult<User>> => {
    const exists = await users.findOne({ _id: longId(id), ...LIVE }, { projection: { _id: 1 } });
    return { ok: false, reason: exists ? "conflict" : "missing" };
  };

  /** The live key's user; an expired key is unset (only if it is still that expired key). */
  const findLive = async (key: string): Promise<KeyedUser | undefined> => {
    const doc = await users.findOne({ requestKey: key, ...LIVE }, KEYED_USER_FIELDS);
    if (!doc) return undefined;
    const now = clock();
    if ((doc.requestExpiresAt ?? 0) <= now) {
      await users.updateOne(
        { _id: doc._id, requestKey: key, requestExpiresAt: { $lte: now } },
        { $unset: { requestKey: "", requestFingerprint: "", requestExpiresAt: "" } },
      );
      return undefined;
    }
    return { user: toUser(doc), fingerprint: doc.requestFingerprint ?? "" };
  };
  /**
   * Three round trips whatever the batch. First the users of `sent` that `owner` still holds (one read). Then one
   * update command, in order: remove each of those users' sent events (a statement per user, on `_id` alone);
   * where `owner` holds a user whose outbox is now empty, end the claim and unset `pending` (tombstones excepted);
   * end the claim on each of those users (on `_id` alone; an event recorded meanwhile keeps it pending). Then
   * remove the pending tombstones whose outbox is empty. A relay stopping between two steps leaves documents still
   * pending: the next claim finds them and its marking finishes the job (never a tombstone nothing would look at
   * again). A claim taken over between the read and the update (a lease that ran out just then) loses only events
   * this relay did publish, and the new holder sends them again.
   *
   * Why statements on `_id` alone: mongo-java-server uses the `_id` index only for such a filter. Beside another
   * field it scans the collection, and a list (`_id: {$in}`, `eventId: {$in}`) is matched against every document
   * it reaches: 100 ids among 20,000 users took about 250 ms here, and a mark of 1,000 users over a second.
   */
  const markAllSent = async (sent: readonly { userId: string; eventIds: readonly string[] }[], owner: string) => {
    if (sent.length === 0) return;
    const holds = new Set(
      (await users.find({ "claim.owner": owner }, { projection: { _id: 1 } }).toArray()).map((doc) => String(doc._id)),
    );
    const mine = sent.filter((s) => holds.has(s.userId));
    if (mine.length === 0) return;
    const steps: AnyBulkWriteOperation<UserDocument>[] = [
      ...mine.map(
        (s): AnyBulkWriteOperation<UserDocument> => ({
          updateOne: {
            filter: { _id: longId(s.userId) },
            update: { $pull: { outbox: { eventId: { $in: [...s.eventIds] } } } },
          },
        }),
      ),
      {
        updateMany: {
          filter: { "claim.owner": owner, outbox: { $size: 0 }, deleted: { $ne: true } },
          update: { $unset: { claim: "", pending: "" } },
        },
      },
      ...mine.map(
        (s): AnyBulkWriteOperation<UserDocument> => ({
          updateOne: { filter: { _id: longId(s.userId) }, update: { $unset: { claim: "" } } },
        }),
      ),
    ];
    await users.bulkWrite(steps, { ordered: true });
    await users.deleteMany({ pending: true, deleted: true, outbox: { $size: 0 } });
  };
  const outcome = (found: KeyedUser, fingerprint: string): InsertResult =>
    found.fingerprint === fingerprint ? { kind: "replayed", user: found.user } : { kind: "key-reused" };

  return {
    async get(id) {
      const doc = await users.findOne({ _id: longId(id), ...LIVE }, USER_FIELDS);
      return doc ? toUser(doc) : undefined;
    },
    async getMany(ids) {
      if (ids.length === 0) return [];
      const docs = await users.find({ _id: { $in: [...new Set(ids)].map(longId) }, ...LIVE }, USER_FIELDS).toArray();
      const byId = new Map(docs.map((d) => [String(d._id), d]));
      return ids.flatMap((id) => {
        const doc = byId.get(id);
        return doc ? [toUser(doc)] : [];
      });
    },
    async findByEmail(email) {
      // The unique email index answers it; a tombstone has no emailKey, so it is never found.
      const doc = await users.findOne({ emailKey: emailKey(email), ...LIVE }, USER_FIELDS);
      return doc ? toUser(doc) : undefined;
    },
    async list({ limit, afterId }) {
      const filter = afterId === undefined ? { ...LIVE } : { _id: { $gt: longId(afterId) }, ...LIVE };
      return (await users.find(filter, USER_FIELDS).sort({ _id: 1 }).limit(limit).toArray()).map(toUser);
    },
    async insert(user, idempotency, actor) {
      const { id, ...rest } = user;
      const doc: UserDocument = {
        _id: longId(id),
        ...rest,
        emailKey: emailKey(rest.email),
        outbox: [outboxEvent("CREATED", user, user.createTime, actor)],
        pending: true,
      };
      if (!idempotency) {
        await users.insertOne(doc).catch(mapDuplicate);
        return { kind: "inserted", user: { ...user } };
      }
      const keyed: UserDocument = {
        ...doc,
        requestKey: idempotency.key,
        requestFingerprint: idempotency.fingerprint,
        requestExpiresAt: idempotency.expiresAt,
      };
      for (let attempt = 0; attempt < MAX_KEY_ATTEMPTS; attempt++) {
        const before = await findLive(idempotency.key);
        if (before) return outcome(before, idempotency.fingerprint);
        try {
          await users.insertOne({ ...keyed });
          return { kind: "inserted", user: { ...user } };
        } catch (error) {
          if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
          // A concurrent insert with the same key won (it may break the email index first): answer as it did.
          const winner = await findLive(idempotency.key);
          if (winner) return outcome(winner, idempotency.fingerprint);
          if (!isRequestKeyDuplicate(error)) mapDuplicate(error);
          // The key was held by an expired entry, cleared just now: try again.
        }
      }
      throw new Error(`idempotency key kept changing during ${MAX_KEY_ATTEMPTS} attempts`);
    },
    findByIdempotencyKey: findLive,
    async update(id, expectedVersion, changes, updateTime, beforeWrite, actor) {
      // One read, one write conditional on the version read: the write carries the whole user after the change
      // (its event's snapshot), so the result is known without reading it back, and a write that got in between
      // makes it a conflict. Missing and a stale expected version are known from the read.
      const current = await users.findOne({ _id: longId(id), ...LIVE }, USER_FIELDS);
      if (!current) return { ok: false, reason: "missing" };
      if (expectedVersion !== undefined && current.version !== expectedVersion)
        return { ok: false, reason: "conflict" };
      const next = applyChanges(toUser(current), changes, updateTime);
      await beforeWrite?.(next.version);
      const done = await users
        .updateOne(
          { _id: longId(id), version: current.version, ...LIVE },
          {
            $set: {
              name: next.name,
              email: next.email,
              emailKey: emailKey(next.email),
              updateTime: next.updateTime,
              version: next.version,
              pending: true,
            },
            $push: { outbox: outboxEvent("UPDATED", next, updateTime, actor) },
          },
        )
        .catch(mapDuplicate);
      return done.matchedCount === 1 ? { ok: true, value: next } : { ok: false, reason: "conflict" };
    },
    async delete(id, expectedVersion, time = new Date(clock()).toISOString(), actor = "") {
      for (let attempt = 0; attempt < MAX_DELETE_ATTEMPTS; attempt++) {
        const current = await users.findOne({ _id: longId(id), ...LIVE }, USER_FIELDS);
        if (!current) return { ok: false, reason: "missing" };
        if (expectedVersion !== undefined && current.version !== expectedVersion)
          return { ok: false, reason: "conflict" };
        const user = toUser(current);
        const tombstone = { ...user, version: user.version + 1 };
        // The user becomes a tombstone: invisible, its email and idempotency key free, its DELETED event pending.
        const done = await users.updateOne(
          { _id: longId(id), version: user.version, ...LIVE },
          {
            $set: { deleted: true, version: tombstone.version, pending: true },
            $unset: { emailKey: "", requestKey: "", requestFingerprint: "", requestExpiresAt: "" },
            $push: { outbox: outboxEvent("DELETED", tombstone, time, actor) },
          },
        );
        if (done.modifiedCount === 1) return { ok: true, value: user };
        if (expectedVersion !== undefined) return missOrConflict(id);
      }
      throw new Error(`user ${id} kept changing during ${MAX_DELETE_ATTEMPTS} delete attempts`);
    },
    async claimOutbox(owner, limit, leaseMs, afterId) {
      // Three round trips whatever the batch (five when the search wraps round): find candidates, claim those still
      // claimable in the id range they span (not by a list of ids: see markAllSent), read back what this claim
      // (owner and round) holds. A user that became claimable inside the range meanwhile is claimed too and released
      // at once, so that the limit holds.
      const now = clock();
      const claimable: Filter<UserDocument> = {
        pending: true,
        $or: [{ claim: { $exists: false } }, { "claim.until": { $lt: now } }],
      };
      const find = (filter: Filter<UserDocument>, n: number) =>
        users
          .find(filter, { projection: { _id: 1 } })
          .sort({ _id: 1 })
          .limit(n)
          .toArray();
      const after = afterId === undefined ? undefined : longId(afterId);
      const runs = [await find(after === undefined ? claimable : { ...claimable, _id: { $gt: after } }, limit)];
      const searched = runs[0]?.length ?? 0;
      if (after !== undefined && searched < limit)
        runs.push(await find({ ...claimable, _id: { $lte: after } }, limit - searched));
      const candidates = runs.flat();
      if (candidates.length === 0) return [];
      const claim = { owner, until: now + leaseMs, round: randomUUID() };
      for (const run of runs) {
        const first = run[0]?._id;
        const last = run.at(-1)?._id;
        if (first === undefined || last === undefined) continue;
        await users.updateMany({ ...claimable, _id: { $gte: first, $lte: last } }, { $set: { claim } });
      }
      // Read back by the claim itself (not by the candidates' ids): that also finds the users that became claimable
      // inside the range after the search (mongo-java-server's modifiedCount cannot be trusted to tell).
      const token = { "claim.owner": owner, "claim.round": claim.round };
      const found = await users.find(token, { projection: { outbox: 1 } }).toArray();
      const byId = new Map(found.map((doc) => [String(doc._id), doc]));
      const held = candidates.flatMap((c) => byId.get(String(c._id)) ?? []); // in the order searched
      if (held.length < found.length) {
        // Claimed beyond the candidates: released at once, so that the limit holds.
        await users.updateMany({ ...token, _id: { $nin: held.map((doc) => doc._id) } }, { $unset: { claim: "" } });
      }
      return held.map(
        (doc): OutboxClaim => ({ userId: String(doc._id), events: (doc.outbox ?? []).map(fromStoredEvent) }),
      );
    },
    async markSent(userId, eventIds, owner) {
      await markAllSent([{ userId, eventIds }], owner);
    },
    markAllSent: (sent, owner) => markAllSent(sent, owner),
    async releaseClaim(userId, owner) {
      await users.updateOne({ _id: longId(userId), "claim.owner": owner }, { $unset: { claim: "" } });
    },
    async outboxSize() {
      // Counted by the server: only the total crosses the wire, however long the backlog.
      const [total] = await users
        .aggregate<{ events: number }>([
          { $match: { pending: true } },
          { $group: { _id: null, events: { $sum: { $size: { $ifNull: ["$outbox", []] } } } } },
        ])
        .toArray();
      return total?.events ?? 0;
    },
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
}
