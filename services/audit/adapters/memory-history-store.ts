import {
  compareEntries,
  entryFor,
  type HistoryEntry,
  type HistoryStore,
  isAfter,
  isRedacted,
  redactEvent,
} from "../domain/history.js";

/** A user's erasure: pending until `erasedAt` is set. */
interface Erasure {
  due?: number;
  erasedAt?: string;
}

/** In-memory adapter: what `npm start` uses without MONGO_URL. Nothing survives the process. */
export function createMemoryHistoryStore(): HistoryStore {
  const byUser = new Map<string, HistoryEntry[]>();
  const ids = new Set<string>();
  const erasures = new Map<string, Erasure>();
  const record = (entry: HistoryEntry): boolean => {
    if (ids.has(entry.eventId)) return false;
    // Before the id is taken: a copy that fails leaves nothing recorded. An erased user's entry is kept redacted.
    const copy = structuredClone(entryFor(entry, erasures.get(entry.userId)?.erasedAt));
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
    async erase(userId, at) {
      const erasure = erasures.get(userId) ?? {};
      const erasedAt = erasure.erasedAt ?? at;
      erasures.set(userId, { erasedAt });
      const entries = byUser.get(userId) ?? [];
      let redacted = 0;
      entries.forEach((entry, i) => {
        if (isRedacted(entry.event)) return;
        entries[i] = { ...entry, event: redactEvent(entry.event, erasedAt) };
        redacted++;
      });
      return redacted;
    },
    async scheduleErasure(userId, due) {
      const erasure = erasures.get(userId);
      if (erasure?.erasedAt !== undefined) return false;
      const time = Date.parse(due);
      erasures.set(userId, { due: erasure?.due === undefined ? time : Math.min(erasure.due, time) });
      return true;
    },
    async dueErasures(now, limit) {
      const time = Date.parse(now);
      return [...erasures]
        .filter(([, e]) => e.erasedAt === undefined && e.due !== undefined && e.due <= time)
        .slice(0, limit)
        .map(([userId]) => userId);
    },
    async list(userId, limit, after) {
      return (byUser.get(userId) ?? [])
        .filter((entry) => isAfter(entry, after))
        .slice(0, limit)
        .map((entry) => structuredClone(entry));
    },
    async ping() {},
    async close() {},
  };
}
