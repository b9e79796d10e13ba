import type { CacheRead, CacheTimings, UserCache } from "../domain/user-cache.js";

interface Slot {
  readonly version: number;
  /** undefined for a fence. */
  readonly value: string | undefined;
  readonly expiresAt: number;
}

/** In-process cache with the port's semantics; bounded, evicting the oldest entries first. */
export function createMemoryCache(
  timings: CacheTimings,
  opts: { maxEntries?: number; now?: () => number } = {},
): UserCache {
  const maxEntries = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const slots = new Map<string, Slot>();

  const live = (key: string): Slot | undefined => {
    const slot = slots.get(key);
    if (slot && slot.expiresAt <= now()) {
      slots.delete(key);
      return undefined;
    }
    return slot;
  };
  const put = (key: string, slot: Slot): void => {
    slots.delete(key);
    slots.set(key, slot);
    if (slots.size > maxEntries) {
      const oldest = slots.keys().next();
      if (!oldest.done) slots.delete(oldest.value);
    }
  };

  return {
    backend: "memory",
    async get(key): Promise<CacheRead> {
      const slot = live(key);
      return slot?.value === undefined ? { kind: "miss" } : { kind: "hit", value: slot.value };
    },
    async fill(key, version, value) {
      const slot = live(key);
      if (slot && (slot.value === undefined ? slot.version > version : slot.version >= version)) return;
      put(key, { version, value, expiresAt: now() + timings.ttlMs });
    },
    async fence(key, minVersion) {
      const slot = live(key);
      if (slot && slot.version >= minVersion) return;
      put(key, { version: minVersion, value: undefined, expiresAt: now() + timings.fenceTtlMs });
    },
    health: () => ({ up: true }),
    async close() {
      slots.clear();
    },
  };
}
