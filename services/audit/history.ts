/**
 * The audit domain: a user's history is the UserEvents recorded for it, once each (by event id), in version
 * order; pages are addressed by opaque tokens. No I/O: limits come from the contracts' generated field rules.
 */
import { fieldRules } from "../../generated/proto/field-rules.js";
import { type FieldViolation, invalidArgument } from "../../platform/errors.js";

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
  /** Up to `limit` entries of the user after `after`, in (version, eventId) order. */
  list(userId: string, limit: number, after?: HistoryPosition): Promise<HistoryEntry[]>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const rules = fieldRules["charter.audit.v1.ListUserHistoryRequest"];
export const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = Number(rules.pageSize.maximum);
const USER_ID = new RegExp(rules.userId.pattern);
const TOKEN_PREFIX = "h1:";

export const pageTokenAfter = (entry: HistoryPosition): string =>
  Buffer.from(`${TOKEN_PREFIX}${entry.version}:${entry.eventId}`).toString("base64url");

export interface HistoryPageRequest {
  readonly userId: string;
  readonly limit: number;
  readonly after: HistoryPosition | undefined;
}

/** Checks a ListUserHistory request; INVALID_ARGUMENT naming every bad field. */
export function checkHistoryRequest(userId: string, pageSize: number, pageToken: string): HistoryPageRequest {
  const violations: FieldViolation[] = [];
  if (!USER_ID.test(userId) || userId.length > rules.userId.maxLen) {
    violations.push({ field: "userId", description: "must be a user id (1 to 19 digits)" });
  }
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
    violations.push({ field: "pageSize", description: `must be between 0 and ${MAX_PAGE_SIZE}` });
  }
  let after: HistoryPosition | undefined;
  if (pageToken !== "") {
    const text = pageToken.length <= rules.pageToken.maxLen ? Buffer.from(pageToken, "base64url").toString() : "";
    const match = /^h1:([1-9]\d{0,15}):(.{1,64})$/s.exec(text);
    const position = match ? { version: Number(match[1]), eventId: match[2] as string } : undefined;
    if (position && pageTokenAfter(position) === pageToken) after = position;
    else violations.push({ field: "pageToken", description: "is not a token this service issued" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return { userId, limit: pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize, after };
}

/** Whether a entry comes after a position in history order. */
export const isAfter = (entry: HistoryPosition, position: HistoryPosition | undefined): boolean =>
  position === undefined ||
  entry.version > position.version ||
  (entry.version === position.version && entry.eventId > position.eventId);

export const compareEntries = (a: HistoryPosition, b: HistoryPosition): number =>
  a.version - b.version || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
