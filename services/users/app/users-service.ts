/**
 * The users use cases: domain rules over the store, with the cache in front.
 * Reads go through the cache; every write fences the cache before the store write
 * and fills it after (see user-cache.ts for why that keeps reads fresh).
 */
import { createHash } from "node:crypto";
import { AppError, storeCall } from "../../../platform/errors.js";
import type { Logger } from "../../../platform/logging.js";
import type { SnowflakeGenerator } from "../../../platform/snowflake.js";
import {
  checkId,
  checkIds,
  checkLookupEmail,
  checkPage,
  idempotencyKeyReused,
  notFound,
  noUserWithEmail,
  pageTokenAfter,
  staleEtag,
  type User,
  type UserChanges,
  validateChanges,
  validateNewUser,
  versionOfEtag,
} from "../domain/user.js";
import type { CacheRead, UserCache } from "../domain/user-cache.js";
import type { IdempotencyKey, UserStore } from "../domain/user-store.js";

export interface UsersService {
  get(id: string): Promise<User>;
  batchGet(ids: readonly string[]): Promise<User[]>;
  list(pageSize: number | undefined, pageToken: string): Promise<{ users: User[]; nextPageToken: string }>;
  /** The live user with this email, compared case-insensitively; NOT_FOUND when there is none. */
  lookup(email: string): Promise<User>;
  // The writes take the actor: who makes the change (the verified subject of the caller's token), recorded in
  // the change's event. The transport knows how the caller is verified; the use cases only pass the name on.
  /**
   * With a request id (non-empty), a retry of the same user (name and email after normalisation) returns the
   * user the first call created, for idempotencyTtlMs; the same id with another user is FAILED_PRECONDITION.
   */
  create(input: UserChanges, actor: string, requestId?: string): Promise<User>;
  /** With an etag the change applies only to that version; without, to the latest. */
  update(id: string, input: UserChanges, actor: string, etag?: string): Promise<User>;
  delete(id: string, actor: string, etag?: string): Promise<void>;
}

export interface UsersServiceDeps {
  readonly store: UserStore;
  readonly cache: UserCache;
  /** Mints user ids; may throw an AppError (UNAVAILABLE) when this instance may not mint ids now. */
  readonly ids: Pick<SnowflakeGenerator, "next">;
  /** How long a request id is remembered (default 24 h). */
  readonly idempotencyTtlMs?: number;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Called with the outcome of every cache read (for metrics). */
  readonly onCacheRead?: (kind: CacheRead["kind"]) => void;
  /** Called after every write the store made (and so every event it recorded): the outbox relay wakes up. */
  readonly onWrite?: () => void;
}

const DAY_MS = 86_400_000;

/** What makes two creations "the same request": the normalised fields, never the id or times. */
const fingerprintOf = (fields: Required<UserChanges>): string =>
  createHash("sha256")
    .update(JSON.stringify([fields.name, fields.email]))
    .digest("base64url");

/** How often an update without etag tries again (one read and one write each) when another write got in first. */
const MAX_UPDATE_ATTEMPTS = 20;
/** A fence no fill can pass: used before deletes, after which nothing is filled again. */
const DELETED = Number.MAX_SAFE_INTEGER;

export function createUsersService(deps: UsersServiceDeps): UsersService {
  const { store, cache, ids, logger } = deps;
  const clock = deps.now ?? (() => new Date());
  const now = (): string => clock().toISOString();
  const idempotencyTtlMs = deps.idempotencyTtlMs ?? DAY_MS;

  /** Store failures become UNAVAILABLE for the client; the cause is logged, never sent. */
  const stored = <T>(operation: string, run: () => Promise<T>): Promise<T> =>
    storeCall(run, "the user store is unavailable", (error) =>
      logger.error({ err: error, operation }, "user store call failed"),
    );
  const fill = (user: User): Promise<void> => cache.fill(user.id, user.version, JSON.stringify(user));
  const cached = async (id: string): Promise<User | undefined> => {
    const read = await cache.get(id);
    deps.onCacheRead?.(read.kind);
    return read.kind === "hit" ? (JSON.parse(read.value) as User) : undefined;
  };

  return {
    async get(id) {
      if (!checkId(id)) throw notFound(id);
      const hit = await cached(id);
      if (hit) return hit;
      const user = await stored("get", () => store.get(id));
      if (!user) throw notFound(id);
      await fill(user);
      return user;
    },

    async batchGet(asked) {
      const requested = checkIds(asked);
      const found = new Map<string, User>();
      for (const id of new Set(requested)) {
        const hit = await cached(id);
        if (hit) found.set(id, hit);
      }
      const missing = [...new Set(requested)].filter((id) => !found.has(id));
      if (missing.length > 0) {
        for (const user of await stored("getMany", () => store.getMany(missing))) {
          found.set(user.id, user);
          await fill(user);
        }
      }
      return requested.flatMap((id) => found.get(id) ?? []);
    },

    async list(pageSize, pageToken) {
      const page = checkPage(pageSize, pageToken);
      const rows = await stored("list", () => store.list({ ...page, limit: page.limit + 1 }));
      const users = rows.slice(0, page.limit);
      const last = users.at(-1);
      return { users, nextPageToken: rows.length > page.limit && last ? pageTokenAfter(last.id) : "" };
    },

    async lookup(email) {
      // Straight to the store: the cache is keyed by id, and the store's email index answers in one read.
      const checked = checkLookupEmail(email);
      const user = await stored("findByEmail", () => store.findByEmail(checked));
      if (!user) throw noUserWithEmail();
      return user;
    },

    async create(input, actor, requestId = "") {
      const fields = validateNewUser(input, requestId);
      let idempotency: IdempotencyKey | undefined;
      if (requestId !== "") {
        idempotency = {
          key: requestId,
          fingerprint: fingerprintOf(fields),
          expiresAt: clock().getTime() + idempotencyTtlMs,
        };
        // A retry is answered without minting an id (so it works even while this instance cannot mint).
        const prior = await stored("findByIdempotencyKey", () => store.findByIdempotencyKey(requestId));
        if (prior) {
          if (prior.fingerprint !== idempotency.fingerprint) throw idempotencyKeyReused();
          return prior.user;
        }
      }
      const time = now();
      const user: User = { id: ids.next(), ...fields, version: 1, createTime: time, updateTime: time };
      const result = await stored("insert", () => store.insert(user, idempotency, actor));
      if (result.kind === "key-reused") throw idempotencyKeyReused();
      if (result.kind === "inserted") {
        deps.onWrite?.();
        await fill(result.user);
      }
      return result.user;
    },

    async update(id, input, actor, etag) {
      const reachable = checkId(id, "user.id");
      const changes = validateChanges(input);
      if (!reachable) throw notFound(id);
      // An etag that is not one of ours names no version: it can only be stale.
      const pinned = etag === undefined ? undefined : (versionOfEtag(etag) ?? 0);
      // The store reads the user once, checks the version there (the pinned one, or the one it read) and calls
      // back with the version it is about to write: the cache is fenced at it before the write, as every write is.
      const fence = (version: number): Promise<void> => cache.fence(id, version);
      for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
        const result = await stored("update", () => store.update(id, pinned, changes, now(), fence, actor));
        if (result.ok) {
          deps.onWrite?.();
          await fill(result.value);
          return result.value;
        }
        if (result.reason === "missing") throw notFound(id);
        if (etag !== undefined) throw staleEtag(etag);
      }
      throw new AppError("ABORTED", "the user is changing too often; retry the update");
    },

    async delete(id, actor, etag) {
      if (!checkId(id)) throw notFound(id);
      const pinned = etag === undefined ? undefined : (versionOfEtag(etag) ?? 0);
      await cache.fence(id, DELETED);
      const result = await stored("delete", () => store.delete(id, pinned, now(), actor));
      if (result.ok) {
        deps.onWrite?.();
        await cache.fence(id, DELETED);
        return;
      }
      if (result.reason === "missing") throw notFound(id);
      throw staleEtag(etag ?? "");
    },
  };
}
