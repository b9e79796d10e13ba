import { type Collection, Long, MongoClient, MongoServerError, MongoServerSelectionError } from "mongodb";
import { emailKey, emailTaken, type User } from "../user.js";
import type { UserStore, WriteResult } from "../user-store.js";

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
}

const DEFAULT_DATABASE = "charter";
const EMAIL_INDEX = "email_unique_ci";
const DUPLICATE_KEY = 11000;

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};
const longId = (id: string): Long => Long.fromString(id);
const toUser = (doc: UserDocument): User => ({
  id: String(doc._id),
  name: doc.name,
  email: doc.email,
  version: doc.version,
  createTime: doc.createTime,
  updateTime: doc.updateTime,
});

/** The database named by the URL's path (the driver itself would default to "test"). */
function databaseOf(url: string): string {
  // Valid URLs escape "@" and "/" in credentials, so the path starts at the first "/" after the hosts.
  const path = /^[^:]+:\/\/(?:[^@/]*@)?[^/?]*\/([^?]*)/.exec(url)?.[1] ?? "";
  return decode(path) || DEFAULT_DATABASE;
}

/** The first line of a driver message, with any password from the URL blanked out. */
function safeMessage(error: unknown, url: string): string {
  const line = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  const password = /^[^:]+:\/\/[^:@/]*:([^@/]+)@/.exec(url)?.[1];
  if (!password) return line;
  return line.replaceAll(password, "***").replaceAll(decode(password), "***");
}

/**
 * True when a write broke the email index (a duplicate _id is a different, internal, fault).
 * MongoDB names the index in keyPattern; mongo-java-server only in the message.
 */
const isEmailDuplicate = (error: unknown): boolean =>
  error instanceof MongoServerError &&
  error.code === DUPLICATE_KEY &&
  (error.keyPattern?.emailKey !== undefined || error.message.includes(`index: ${EMAIL_INDEX} `));

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
  let client: MongoClient;
  try {
    client = new MongoClient(opts.url, {
      serverSelectionTimeoutMS: opts.connectTimeoutMs,
      connectTimeoutMS: opts.connectTimeoutMs,
      appName: "charter-users",
    });
  } catch (error) {
    throw new Error(`MONGO_URL is not a valid MongoDB URL: ${safeMessage(error, opts.url)}`);
  }
  const where = client.options.hosts.map(String).join(",");
  const db = client.db(databaseOf(opts.url));
  const users: Collection<UserDocument> = db.collection<UserDocument>(opts.collection ?? "users");
  try {
    await client.connect();
    await db.command({ ping: 1 });
    await users.createIndex({ emailKey: 1 }, { unique: true, name: EMAIL_INDEX });
  } catch (error) {
    await client.close().catch(() => {});
    throw new Error(
      error instanceof MongoServerSelectionError
        ? `MongoDB at ${where} did not answer within ${opts.connectTimeoutMs} ms`
        : `MongoDB at ${where} failed the start-up check: ${safeMessage(error, opts.url)}`,
    );
  }

  /** Why a write conditional on _id (and version) matched nothing. */
  const missOrConflict = async (id: string): Promise<WriteResult<User>> => {
    const exists = await users.findOne({ _id: longId(id) }, { projection: { _id: 1 } });
    return { ok: false, reason: exists ? "conflict" : "missing" };
  };

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
    async insert({ id, ...rest }) {
      await users.insertOne({ _id: longId(id), ...rest, emailKey: emailKey(rest.email) }).catch(mapDuplicate);
    },
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
