import { type Collection, Long, MongoServerError } from "mongodb";
import { connectMongo, DUPLICATE_KEY } from "../../../platform/mongo.js";
import { emailKey, emailTaken, type User } from "../user.js";
import type { InsertResult, KeyedUser, UserStore, WriteResult } from "../user-store.js";

interface UserDocument {
  /** The snowflake as a 64-bit integer. Reads give a number when it fits in 53 bits (promoteLongs). */
  _id: Long;
  name: string;
  email: string;
  /** The lower-cased email: the unique index makes emails unique case-insensitively. */
  emailKey: string;
  version: number;
  createTime: string;
  updateTime: string;
  /** The idempotency key the user was created with, while it lives (a unique sparse index). */
  requestKey?: string;
  requestFingerprint?: string;
  /** When the key expires, ms since 1970; an expired key is unset when next looked up. */
  requestExpiresAt?: number;
}

const EMAIL_INDEX = "email_unique_ci";
const REQUEST_KEY_INDEX = "request_key_unique";
/** How often an insert with an idempotency key looks again after meeting an expired key being cleared. */
const MAX_KEY_ATTEMPTS = 5;

const longId = (id: string): Long => Long.fromString(id);
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
export async function createMongoUserStore(opts: {
  url: string;
  connectTimeoutMs: number;
  collection?: string;
}): Promise<UserStore> {
  const { client, db } = await connectMongo({
    url: opts.url,
    connectTimeoutMs: opts.connectTimeoutMs,
    appName: "charter-users",
    prepare: async (database) => {
      const collection = database.collection<UserDocument>(opts.collection ?? "users");
      await collection.createIndex({ emailKey: 1 }, { unique: true, name: EMAIL_INDEX });
      await collection.createIndex({ requestKey: 1 }, { unique: true, sparse: true, name: REQUEST_KEY_INDEX });
    },
  });
  const users: Collection<UserDocument> = db.collection<UserDocument>(opts.collection ?? "users");

  /** Why a write conditional on _id (and version) matched nothing. */
  const missOrConflict = async (id: string): Promise<WriteResult<User>> => {
    const exists = await users.findOne({ _id: longId(id) }, { projection: { _id: 1 } });
    return { ok: false, reason: exists ? "conflict" : "missing" };
  };

  /** The live key's user; an expired key is unset (only if it is still that expired key). */
  const findLive = async (key: string): Promise<KeyedUser | undefined> => {
    const doc = await users.findOne({ requestKey: key });
    if (!doc) return undefined;
    const now = Date.now();
    if ((doc.requestExpiresAt ?? 0) <= now) {
      await users.updateOne(
        { _id: doc._id, requestKey: key, requestExpiresAt: { $lte: now } },
        { $unset: { requestKey: "", requestFingerprint: "", requestExpiresAt: "" } },
      );
      return undefined;
    }
    return { user: toUser(doc), fingerprint: doc.requestFingerprint ?? "" };
  };
  const outcome = (found: KeyedUser, fingerprint: string): InsertResult =>
    found.fingerprint === fingerprint ? { kind: "replayed", user: found.user } : { kind: "key-reused" };

  return {
    async get(id) {
      const doc = await users.findOne({ _id: longId(id) });
      return doc ? toUser(doc) : undefined;
    },
    async getMany(ids) {
      if (ids.length === 0) return [];
      const docs = await users.find({ _id: { $in: [...new Set(ids)].map(longId) } }).toArray();
      const byId = new Map(docs.map((d) => [String(d._id), d]));
      return ids.flatMap((id) => {
        const doc = byId.get(id);
        return doc ? [toUser(doc)] : [];
      });
    },
    async list({ limit, afterId }) {
      const filter = afterId === undefined ? {} : { _id: { $gt: longId(afterId) } };
      return (await users.find(filter).sort({ _id: 1 }).limit(limit).toArray()).map(toUser);
    },
    async insert(user, idempotency) {
      const { id, ...rest } = user;
      const doc: UserDocument = { _id: longId(id), ...rest, emailKey: emailKey(rest.email) };
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
    async update(id, expectedVersion, changes, updateTime) {
      const set: Partial<UserDocument> = { updateTime };
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.email !== undefined) {
        set.email = changes.email;
        set.emailKey = emailKey(changes.email);
      }
      const doc = await users
        .findOneAndUpdate(
          { _id: longId(id), version: expectedVersion },
          { $set: set, $inc: { version: 1 } },
          { returnDocument: "after" },
        )
        .catch(mapDuplicate);
      return doc ? { ok: true, value: toUser(doc) } : missOrConflict(id);
    },
    async delete(id, expectedVersion) {
      const filter =
        expectedVersion === undefined ? { _id: longId(id) } : { _id: longId(id), version: expectedVersion };
      const doc = await users.findOneAndDelete(filter);
      return doc ? { ok: true, value: toUser(doc) } : missOrConflict(id);
    },
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
}
