/**
 * The users domain: the User, its rules, and the errors they produce. No I/O, no
 * framework, no transport: limits come from the contracts' generated field rules.
 */
import { fieldRules } from "../../generated/proto/field-rules.js";
import { AppError, type FieldViolation, invalidArgument } from "../../platform/errors.js";

export interface User {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  /** Starts at 1 and grows by one on every write; the etag is derived from it. */
  readonly version: number;
  readonly createTime: string;
  readonly updateTime: string;
}

export interface UserChanges {
  readonly name?: string;
  readonly email?: string;
}

const rules = fieldRules["charter.users.v1.User"];
const listRules = fieldRules["charter.users.v1.ListUsersRequest"];
const createRules = fieldRules["charter.users.v1.CreateUserRequest"];
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_BATCH_IDS = 100;
const ID_PATTERN = new RegExp(rules.id.pattern);
const MAX_ID = 2n ** 63n - 1n;
// Pragmatic address check: one @, no white space, a dot in the domain, no empty labels.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

const length = (s: string): number => [...s].length;

export const etagOf = (user: Pick<User, "version">): string => String(user.version);
export const emailKey = (email: string): string => email.toLowerCase();

/** The version an etag names, or undefined when it cannot be one of ours (and so never matches). */
export function versionOfEtag(etag: string): number | undefined {
  const bare = etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  if (!/^[1-9]\d{0,14}$/.test(bare)) return undefined;
  return Number(bare);
}

function checkName(value: string, out: FieldViolation[]): string {
  const name = value.trim();
  if (length(name) < rules.name.minLen) out.push({ field: "name", description: "must not be empty" });
  else if (length(name) > rules.name.maxLen) {
    out.push({ field: "name", description: `must be at most ${rules.name.maxLen} characters` });
  }
  return name;
}

function checkEmail(value: string, out: FieldViolation[]): string {
  const email = value.trim();
  if (length(email) > rules.email.maxLen) {
    out.push({ field: "email", description: `must be at most ${rules.email.maxLen} characters` });
  } else if (length(email) < rules.email.minLen || !EMAIL_PATTERN.test(email)) {
    out.push({ field: "email", description: "must be a valid email address" });
  }
  return email;
}

/**
 * Validates a new user's fields, and the idempotency key of its creation when there is one (empty: none);
 * every bad field is reported at once.
 */
export function validateNewUser(input: UserChanges, requestId = ""): Required<UserChanges> {
  const violations: FieldViolation[] = [];
  if (length(requestId) > createRules.requestId.maxLen) {
    violations.push({ field: "requestId", description: `must be at most ${createRules.requestId.maxLen} characters` });
  }
  const name = input.name === undefined ? "" : checkName(input.name, violations);
  if (input.name === undefined) violations.push({ field: "name", description: "is required" });
  const email = input.email === undefined ? "" : checkEmail(input.email, violations);
  if (input.email === undefined) violations.push({ field: "email", description: "is required" });
  if (violations.length > 0) throw invalidArgument(violations);
  return { name, email };
}

/** Validates the fields a change sets; at least one must be set. */
export function validateChanges(input: UserChanges): UserChanges {
  const violations: FieldViolation[] = [];
  const out: { name?: string; email?: string } = {};
  if (input.name !== undefined) out.name = checkName(input.name, violations);
  if (input.email !== undefined) out.email = checkEmail(input.email, violations);
  if (input.name === undefined && input.email === undefined) {
    violations.push({ field: "update_mask", description: "must name at least one of: name, email" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return out;
}

export function applyChanges(user: User, changes: UserChanges, now: string): User {
  return { ...user, ...changes, version: user.version + 1, updateTime: now };
}

export function checkId(id: string, field = "id"): string {
  if (!ID_PATTERN.test(id) || BigInt(id) > MAX_ID) {
    throw invalidArgument([{ field, description: "must be a user id (a decimal 64-bit integer)" }]);
  }
  return id;
}

export function checkIds(ids: readonly string[]): readonly string[] {
  if (ids.length > MAX_BATCH_IDS) {
    throw invalidArgument([{ field: "ids", description: `must hold at most ${MAX_BATCH_IDS} ids` }]);
  }
  return ids.map((id, i) => checkId(id, `ids[${i}]`));
}

const TOKEN_PREFIX = "v1:";

export const pageTokenAfter = (lastId: string): string => Buffer.from(TOKEN_PREFIX + lastId).toString("base64url");

export interface PageRequest {
  readonly limit: number;
  readonly afterId?: string;
}

export function checkPage(pageSize: number, pageToken: string): PageRequest {
  const violations: FieldViolation[] = [];
  const max = Number(listRules.pageSize.maximum);
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > max) {
    violations.push({ field: "pageSize", description: `must be from 1 to ${max}` });
  }
  let afterId: string | undefined;
  if (pageToken !== "") {
    const decoded =
      pageToken.length <= listRules.pageToken.maxLen ? Buffer.from(pageToken, "base64url").toString() : "";
    const id = decoded.startsWith(TOKEN_PREFIX) ? decoded.slice(TOKEN_PREFIX.length) : "";
    if (ID_PATTERN.test(id) && BigInt(id) <= MAX_ID && pageTokenAfter(id) === pageToken) afterId = id;
    else violations.push({ field: "pageToken", description: "is not a token this service issued" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  return afterId === undefined ? { limit } : { limit, afterId };
}

export const notFound = (id: string): AppError => new AppError("NOT_FOUND", `user ${id} not found`);
export const emailTaken = (): AppError =>
  new AppError("ALREADY_EXISTS", "email is already in use", {
    fieldViolations: [{ field: "email", description: "is already in use" }],
    reason: "EMAIL_TAKEN",
  });
export const idempotencyKeyReused = (): AppError =>
  new AppError("FAILED_PRECONDITION", "this request id was already used to create a different user", {
    reason: "IDEMPOTENCY_KEY_REUSED",
  });
export const staleEtag = (etag: string): AppError =>
  new AppError("ABORTED", `etag "${etag}" does not match the current version`, { reason: "ETAG_MISMATCH" });

/** Compares ids as the 64-bit numbers they are (ids of different lengths sort correctly). */
export const compareIds = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
