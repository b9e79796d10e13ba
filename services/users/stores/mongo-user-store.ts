import { type Collection, Long, MongoClient, MongoServerError } from "mongodb";
import { compareIds, emailKey, emailTaken, type User } from "../user.js";
import type { UserStore, WriteResult } from "../user-store.js";

interface UserDocument {
  _id: Long;
  name: string;
  email: string;
  emailKey: string;
  version: number;
  createTime: string;
  updateTime: string;
}

const toUser = (doc: UserDocument): User => ({
  id: doc._id.toString(),
  name: doc.name,
  email: doc.email,
  version: doc.version,
  createTime: doc.createTime,
  updateTime: doc.updateTime,
});
const longId = (id: string): Long => Long.fromString(id);
const DUPLICATE_KEY = 11000;

/** Where the URL points, without credentials, for messages. */
function hostsOf(url: string): string {
  const afterScheme = url.replace(/^[a-z+]+:\/\//, "");
  return afterScheme.replace(/^[^@/]*@/, "").split(/[/?]/)[0] ?? "";
}

/**
 * MongoDB adapter: `_id` is the snowflake as a 64-bit integer (so sorting by `_id` is id
 * order), a unique index on the lower-cased email, and every write conditional on the
 * version it read. Single-document writes only: the test server has no transactions.
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
    throw new Error(`MONGO_URL is not a valid MongoDB URL: ${(error as Error).message.split("\n")[0]}`);
  }
  try {
    await client.connect();
    await client.db().command({ ping: 1 });
  } catch {
    await client.close().catch(() => {});
    throw new Error(`MongoDB at ${hostsOf(opts.url)} did not answer within ${opts.connectTimeoutMs} ms`);
  }
  const users: Collection<UserDocument> = client.db().collection<UserDocument>(opts.collection ?? "users");
  await users.createIndex({ emailKey: 1 }, { unique: true, name: "email_unique_ci" });

  const mapDuplicate = (error: unknown): never => {
    if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) throw emailTaken();
    throw error;
  };
  /** Why a conditional write matched nothing. */
  const missOrConflict = async (id: string): Promise<WriteResult<User>> =>
    (await users.countDocuments({ _id: longId(id) }, { limit: 1 })) === 0
      ? { ok: false, reason: "missing" }
      : { ok: false, reason: "conflict" };

  return {
    async get(id) {
      const doc = await users.findOne({ _id: longId(id) });
      return doc ? toUser(doc) : undefined;
    },
    async getMany(ids) {
      const docs = await users.find({ _id: { $in: [...new Set(ids)].map(longId) } }).toArray();
      const byId = new Map(docs.map((d) => [d._id.toString(), toUser(d)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
    async list({ limit, afterId }) {
      const filter = afterId === undefined ? {} : { _id: { $gt: longId(afterId) } };
      const docs = await users.find(filter).sort({ _id: 1 }).limit(limit).toArray();
      return docs.map(toUser).sort((a, b) => compareIds(a.id, b.id));
    },
    async insert(user) {
      const { id, ...rest } = user;
      await users.insertOne({ _id: longId(id), ...rest, emailKey: emailKey(user.email) }).catch(mapDuplicate);
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
      await client.db().command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
}
