import { type Collection, MongoBulkWriteError, MongoServerError } from "mongodb";
import { connectMongo, DUPLICATE_KEY } from "../../../platform/mongo.js";
import { entryFor, type HistoryEntry, type HistoryStore } from "../domain/history.js";

interface HistoryDocument {
  /** The event id: the primary key makes a redelivered event a no-op. */
  _id: string;
  userId: string;
  version: number;
  event: Record<string, unknown>;
  recordedAt: Date;
}

/** A user's erasure, `_id` the user id: pending (due) until erasedAt is set; kept, so later entries come redacted. */
interface ErasureDocument {
  _id: string;
  due?: Date;
  erasedAt?: Date;
}

const HISTORY_INDEX = "user_version";
const DUE_INDEX = "due";
/** Documents per round trip of a scan. */
const DOCS_PER_SCAN_ROUND = 1000;

const isDuplicate = (error: unknown): boolean => error instanceof MongoServerError && error.code === DUPLICATE_KEY;

/**
 * MongoDB adapter: one document per event, `_id` = event id (so a duplicate is refused by the primary key, under
 * any concurrency), and an index on (userId, version, _id) for the history order. Append-only but for erasure:
 * nothing is deleted, so the history outlives the user, and the one update is a deleted user's erasure — one
 * updateMany that unsets every entry's user snapshot and sets its redactedAt. Erasures (pending and done) are kept in
 * `<collection>_erasures`, one document per user, so a pending one survives a restart and an entry of an erased user
 * recorded later is stored redacted: checked before the insert (the data never reaches the disk), and once more after
 * it, for an erasure that came in between.
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
      await database.collection(`${name}_erasures`).createIndex({ due: 1 }, { name: DUE_INDEX });
    },
  });
  const history: Collection<HistoryDocument> = db.collection<HistoryDocument>(name);
  const erasures: Collection<ErasureDocument> = db.collection<ErasureDocument>(`${name}_erasures`);
  /** When each of these users was erased; users not erased are absent. */
  const erasedAtOf = async (userIds: readonly string[]): Promise<Map<string, string>> => {
    const docs = await erasures.find({ _id: { $in: [...new Set(userIds)] }, erasedAt: { $exists: true } }).toArray();
    return new Map(docs.flatMap((d) => (d.erasedAt ? [[d._id, d.erasedAt.toISOString()] as const] : [])));
  };
  /** Unsets the user snapshot of every entry of the user not redacted yet; how many it changed. */
  const redactAll = async (userId: string, erasedAt: string): Promise<number> => {
    const result = await history.updateMany(
      // Not redacted (isRedacted): no redactedAt, or a user snapshot beside one.
      { userId, $or: [{ "event.redactedAt": { $exists: false } }, { "event.user": { $exists: true } }] },
      { $unset: { "event.user": "" }, $set: { "event.redactedAt": erasedAt } },
    );
    return result.modifiedCount;
  };
  /** After an insert: entries of users erased since the check before it are redacted now. */
  const redactLate = async (userIds: readonly string[], before: Map<string, string>): Promise<void> => {
    const unchecked = userIds.filter((id) => !before.has(id));
    if (unchecked.length === 0) return;
    for (const [userId, erasedAt] of await erasedAtOf(unchecked)) await redactAll(userId, erasedAt);
  };
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
      const erased = await erasedAtOf([entry.userId]);
      try {
        await history.insertOne(toDocument(entryFor(entry, erased.get(entry.userId)), new Date()));
      } catch (error) {
        if (isDuplicate(error)) return false;
        throw error;
      }
      await redactLate([entry.userId], erased);
      return true;
    },
    async recordMany(entries) {
      if (entries.length === 0) return [];
      // One unordered insertMany: every entry is tried, and those whose event id is already recorded (the primary
      // key refuses them) come back as write errors by index. Any other error fails the whole call.
      const recorded = entries.map(() => true);
      const recordedAt = new Date();
      const userIds = entries.map((entry) => entry.userId);
      const erased = await erasedAtOf(userIds);
      try {
        await history.insertMany(
          entries.map((entry) => toDocument(entryFor(entry, erased.get(entry.userId)), recordedAt)),
          { ordered: false },
        );
      } catch (error) {
        if (!(error instanceof MongoBulkWriteError)) throw error;
        const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
        if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
        for (const e of writeErrors) recorded[e.index] = false;
      }
      await redactLate(userIds, erased);
      return recorded;
    },
    async erase(userId, at) {
      // The mark first, then the entries: an entry recorded meanwhile is redacted by its own check after the insert.
      try {
        await erasures.updateOne(
          { _id: userId, erasedAt: { $exists: false } },
          { $set: { erasedAt: new Date(at) }, $unset: { due: "" } },
          { upsert: true },
        );
      } catch (error) {
        if (!isDuplicate(error)) throw error; // erased already: the upsert found no unerased one and could not insert
      }
      const erasedAt = (await erasedAtOf([userId])).get(userId) ?? at;
      return redactAll(userId, erasedAt);
    },
    async scheduleErasure(userId, due) {
      try {
        await erasures.updateOne(
          { _id: userId, erasedAt: { $exists: false } },
          { $min: { due: new Date(due) } },
          { upsert: true },
        );
        return true;
      } catch (error) {
        if (isDuplicate(error)) return false; // erased already
        throw error;
      }
    },
    async dueErasures(now, limit) {
      if (limit <= 0) return [];
      const docs = await erasures
        .find({ erasedAt: { $exists: false }, due: { $lte: new Date(now) } })
        .sort({ due: 1 })
        .limit(limit)
        .toArray();
      return docs.map((d) => d._id);
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
      const cursor = history.find({}).sort({ userId: 1, version: 1, _id: 1 }).batchSize(DOCS_PER_SCAN_ROUND);
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
