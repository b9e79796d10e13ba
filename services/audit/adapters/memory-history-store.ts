import { compareEntries, type HistoryEntry, type HistoryStore, isAfter } from "../domain/history.js";

/** In-memory adapter: what `npm start` uses without MONGO_URL. Nothing survives the process. */
export function createMemoryHistoryStore(): HistoryStore {
  const byUser = new Map<string, HistoryEntry[]>();
  const ids = new Set<string>();
  const record = (entry: HistoryEntry): boolean => {
    if (ids.has(entry.eventId)) return false;
    const copy = structuredClone(entry); // before the id is taken: a copy that fails leaves nothing recorded
    ids.add(entry.eventId);
    const entries = byUser.get(entry.userId) ?? [];
    entries.push(copy);
    entries.sort(compareEntries);
    byUser.set(entry.userId, entries);
    return true;
  };
  return {
    async record(entry) {
      return record(entry);
    },
    async recordMany(entries) {
      return entries.map(record);
    },
    async list(userId, limit, after) {
      return (byUser.get(userId) ?? [])
        .filter((entry) => isAfter(entry, after))
        .slice(0, limit)
        .map((entry) => structuredClone(entry));
    },
    async *scan() {
      for (const userId of [...byUser.keys()].sort()) {
        for (const entry of byUser.get(userId) ?? []) yield structuredClone(entry);
      }
    },
    async ping() {},
    async close() {},
  };
}
