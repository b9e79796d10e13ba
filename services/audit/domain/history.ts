/**
 * The audit domain: a user's history is the UserEvents recorded for it, once each (by event id), in version
 * order; pages are addressed by opaque tokens. No I/O: limits come from the contracts' generated field rules.
 */
import { type FieldViolation, invalidArgument } from "../../../platform/errors.js";
import { rulesOf, violationsOf, withDefault } from "../../../platform/rules/field-rules.js";

/** One recorded event: the proto3 JSON of the UserEvent as received, and what it is filed under. */
export interface HistoryEntry {
  readonly eventId: string;
  readonly userId: string;
  readonly version: number;
  /** The event's proto3 JSON object (contracts/asyncapi/users-events.yaml). */
  readonly event: Readonly<Record<string, unknown>>;
}

/** Where a page starts: after this (version, eventId). */
export interface HistoryPosition {
  readonly version: number;
  readonly eventId: string;
}

/** The store port. Adapters keep one entry per event id and list a user's entries by (version, eventId). */
export interface HistoryStore {
  /** Records the entry; false (and nothing changed) when an entry with its event id is already recorded. */
  record(entry: HistoryEntry): Promise<boolean>;
  /**
   * Records the entries in one write where the store can (one round trip), each as record() would: the result
   * says, entry by entry, whether it was recorded now (false: its event id was already recorded, earlier or
   * earlier in this very call). A failure may leave some of them recorded; recording them all again is safe.
   */
  recordMany(entries: readonly HistoryEntry[]): Promise<boolean[]>;
  /**
   * Erases the user's personal data: marks the user erased (at `at`, or when it first was) and redacts every entry
   * of the user not redacted yet (redactEvent); from then on an entry of the user is recorded redacted. A pending
   * erasure of the user is done with. Resolves to how many entries this call redacted (0 when none was left).
   */
  erase(userId: string, at: string): Promise<number>;
  /**
   * Keeps a pending erasure of the user, due at `due`, until erase() is called for it; when one is kept already,
   * the earlier time stays. False (and nothing kept) when the user is already erased.
   */
  scheduleErasure(userId: string, due: string): Promise<boolean>;
  /** Up to `limit` users whose pending erasure is due at `now` (not yet erased). */
  dueErasures(now: string, limit: number): Promise<string[]>;
  /** Up to `limit` entries of the user after `after`, in (version, eventId) order. */
  list(userId: string, limit: number, after?: HistoryPosition): Promise<HistoryEntry[]>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const rules = rulesOf("charter.audit.v1.ListUserHistoryRequest");
const eraseRules = rulesOf("charter.audit.v1.EraseUserHistoryRequest");
const TOKEN_PREFIX = "h1:";

export const pageTokenAfter = (entry: HistoryPosition): string =>
  Buffer.from(`${TOKEN_PREFIX}${entry.version}:${entry.eventId}`).toString("base64url");

export interface HistoryPageRequest {
  readonly userId: string;
  readonly limit: number;
  readonly after: HistoryPosition | undefined;
}

/** Checks a ListUserHistory request; INVALID_ARGUMENT naming every bad field. */
export function checkHistoryRequest(
  userId: string,
  pageSize: number | undefined,
  pageToken: string,
): HistoryPageRequest {
  const violations: FieldViolation[] = violationsOf(rules.pageSize, pageSize ?? 1).map((description) => ({
    field: "pageSize",
    description,
  }));
  if (violationsOf(rules.userId, userId).length > 0) {
    violations.push({ field: "userId", description: "must be a user id (1 to 19 digits)" });
  }
  let after: HistoryPosition | undefined;
  if (pageToken !== "") {
    const text =
      violationsOf(rules.pageToken, pageToken).length === 0 ? Buffer.from(pageToken, "base64url").toString() : "";
    const match = /^h1:([1-9]\d{0,15}):(.{1,64})$/s.exec(text);
    const position = match ? { version: Number(match[1]), eventId: match[2] as string } : undefined;
    if (position && pageTokenAfter(position) === pageToken) after = position;
    else violations.push({ field: "pageToken", description: "is not a token this service issued" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return { userId, limit: withDefault(rules.pageSize, pageSize) ?? 0, after };
}

/** Whether a entry comes after a position in history order. */
export const isAfter = (entry: HistoryPosition, position: HistoryPosition | undefined): boolean =>
  position === undefined ||
  entry.version > position.version ||
  (entry.version === position.version && entry.eventId > position.eventId);

export const compareEntries = (a: HistoryPosition, b: HistoryPosition): number =>
  a.version - b.version || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/**
 * An event without the user's personal data: the skeleton (eventId, type, userId, version, occurredAt, actor) and
 * the time of the erasure; the user snapshot, which holds the name and the e-mail, is dropped whole — so a personal
 * field added to User later is erased too. An event redacted already is left as it is.
 */
export function redactEvent(event: Readonly<Record<string, unknown>>, at: string): Record<string, unknown> {
  if (isRedacted(event)) return { ...event };
  const { user: _user, ...skeleton } = event;
  return { ...skeleton, redactedAt: at };
}

/** Redacted: a redactedAt and no user snapshot (an event that came with both is not taken for redacted). */
export const isRedacted = (event: Readonly<Record<string, unknown>>): boolean =>
  typeof event.redactedAt === "string" && event.user === undefined;

/** An entry as recorded for a user erased at `erasedAt` (undefined: not erased, the entry as it is). */
export const entryFor = (entry: HistoryEntry, erasedAt: string | undefined): HistoryEntry =>
  erasedAt === undefined ? entry : { ...entry, event: redactEvent(entry.event, erasedAt) };

export interface ErasureRequest {
  readonly userId: string;
  /** When the erasure is due; undefined: now. */
  readonly due: Date | undefined;
}

/** Checks an EraseUserHistory request; INVALID_ARGUMENT naming every bad field. A time not after `now` is now. */
export function checkEraseRequest(userId: string, eraseAfter: string | undefined, now: Date): ErasureRequest {
  if (violationsOf(eraseRules.userId, userId).length > 0) {
    throw invalidArgument([{ field: "userId", description: "must be a user id (1 to 19 digits)" }]);
  }
  const due = eraseAfter === undefined ? undefined : new Date(eraseAfter);
  if (due !== undefined && Number.isNaN(due.getTime())) {
    throw invalidArgument([{ field: "eraseAfter", description: "must be a timestamp" }]);
  }
  return { userId, due: due !== undefined && due.getTime() > now.getTime() ? due : undefined };
}
