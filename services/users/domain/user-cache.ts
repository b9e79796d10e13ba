/**
 * The cache port: a versioned, fenced cache of serialized entities.
 *
 * The guarantee: once a write is acknowledged, no read returns an older version.
 * - Every entry carries its version; `fill` never replaces a newer entry, so a
 *   reader that loaded an old version cannot overwrite a writer's newer one.
 * - Before a write, the writer `fence`s the key at the version it will produce: the
 *   old entry is dropped and no fill below that version is taken until the fence
 *   expires. A writer that crashes after its store write leaves the fence, not an
 *   old entry; readers then load the new version from the store.
 * - After the write, the writer fills the new version.
 * - An adapter that cannot reach its backend answers `bypass` and takes no writes;
 *   before it uses the backend again it invalidates everything the backend held
 *   (entries written while it was away, or restored from old data, can be stale).
 * Failures never surface as errors: the service serves from the store.
 */
export type CacheRead = { readonly kind: "hit"; readonly value: string } | { readonly kind: "miss" | "bypass" };

export interface CacheHealth {
  readonly up: boolean;
  /** Why the cache is bypassed, when it is. */
  readonly reason?: string;
}

export interface UserCache {
  readonly backend: "memory" | "redis";
  get(key: string): Promise<CacheRead>;
  /** Stores value at version unless the key holds this or a newer version, or a higher fence. */
  fill(key: string, version: number, value: string): Promise<void>;
  /** Drops entries below minVersion and refuses fills below it until the fence expires. */
  fence(key: string, minVersion: number): Promise<void>;
  health(): CacheHealth;
  close(): Promise<void>;
}

export interface CacheTimings {
  /** How long an entry lives: the bound on staleness if a writer and the backend fail together. */
  readonly ttlMs: number;
  /** How long a fence lives: longer than any store write takes. */
  readonly fenceTtlMs: number;
}
