import { type Collection, MongoBulkWriteError, MongoServerError } from "mongodb";
import { connectMongo, DUPLICATE_KEY } from "../../../platform/mongo.js";
import type { HistoryEntry, HistoryStore } from "../domain/history.js";

interface HistoryDocument {
  /** The event id: the primary key makes a redelivered event a no-op. */
  _id: string;
  userId: string;
  version: number;
  event: Record<string, unknown>;
  recordedAt: Date;
}

const HISTORY_INDEX = "user_version";
/** Documents per round trip of a scan. */
const SCAN_BATCH = 1000;

/**
 * MongoDB adapter: one document per event, `_id` = event id (so a duplicate is refused by the primary key, under
 * any concurrency), and an index on (userId, version, _id) for the history order. Append-only: nothing is
 * updated or deleted, so the history outlives the user.
 */
export async function createMongoHistoryStore(opts: {
  url: string;
  connectTimeoutMs: number;
  collection?: string;
}): Promise<HistoryStore> {
  const name = opts.collection ?? "user_history";
  const { client, db } = await connectMongo({
    url: opts.url,
    connectTimeoutMs: opts.connectTimeoutMs,
    appName: "charter-audit",
    prepare: async (database) => {
      await database.collection(name).createIndex({ userId: 1, version: 1, _id: 1 }, { name: HISTORY_INDEX });
    },
  });
  const history: Collection<HistoryDocument> = db.collection<HistoryDocument>(name);
  const toDocument = (entry: HistoryEntry, recordedAt: Date): HistoryDocument => ({
    _id: entry.eventId,
    userId: entry.userId,
    version: entry.version,
    event: { ...entry.event },
    recordedAt,
  });
  const toEntry = (doc: HistoryDocument): HistoryEntry => ({
    eventId: doc._id,
    userId: doc.userId,
    version: doc.version,
    event: doc.event,
  });
  return {
    async record(entry) {
      try {
        await history.insertOne(toDocument(entry, new Date()));
        return true;
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
        throw error;
      }
    },
    async recordMany(entries) {
      if (entries.length === 0) return [];
      // One unordered insertMany: every entry is tried, and those whose event id is already recorded (the primary
      // key refuses them) come back as write errors by index. Any other error fails the whole call.
      const recorded = entries.map(() => true);
      const recordedAt = new Date();
      try {
        await history.insertMany(
          entries.map((entry) => toDocument(entry, recordedAt)),
          { ordered: false },
        );
      } catch (error) {
        if (!(error instanceof MongoBulkWriteError)) throw error;
        const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
        if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
        for (const e of writeErrors) recorded[e.index] = false;
      }
      return recorded;
    },
    async list(userId, limit, after) {
      if (limit <= 0) return []; // the driver reads a limit of 0 as "no limit"
      const filter =
        after === undefined
          ? { userId }
          : {
              userId,
              $or: [{ version: { $gt: after.version } }, { version: after.version, _id: { $gt: after.eventId } }],
            };
      const docs = await history.find(filter).sort({ version: 1, _id: 1 }).limit(limit).toArray();
      return docs.map(toEntry);
    },
    async *scan() {
      // The history index's order, so the server walks the index instead of sorting the collection.
      const cursor = history.find({}).sort({ userId: 1, version: 1, _id: 1 }).batchSize(SCAN_BATCH);
      try {
        for await (const doc of cursor) yield toEntry(doc);
      } finally {
        await cursor.close();
      }
    },
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
}
