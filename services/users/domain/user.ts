/**
 * The users domain: the User, its rules, and the errors they produce. No I/O, no
 * framework, no transport: limits come from the contracts' generated field rules.
 *
 * Errors name fields as the contract does, by their proto path in the request (`user.name`, `update_mask`,
 * `page_size`, `ids[2]`): the gRPC transport sends them as they are, and only the gateway restates them for its
 * clients (`/name` in a problem document, `input.name` in GraphQL).
 */
import { AppError, type FieldViolation, invalidArgument } from "../../../platform/errors.js";
import {
  checkMessage,
  rulesOf,
  settableFields,
  violationsOf,
  withDefault,
} from "../../../platform/rules/field-rules.js";

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

/** The fields an update may change: the User's fields that are not output-only, from the contract. */
export const UPDATABLE_FIELDS = settableFields("charter.users.v1.User") as readonly (keyof UserChanges)[];

/** A violation of a message's rules (named by JSON name) under its proto path in the request. */
const inRequest =
  (prefix: string) =>
  (violation: FieldViolation): FieldViolation => ({
    ...violation,
    field: prefix + violation.field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  });

const idRule = rulesOf("charter.users.v1.User").id;
const idsRule = rulesOf("charter.users.v1.BatchGetUsersRequest").ids;
const listRules = rulesOf("charter.users.v1.ListUsersRequest");

export const etagOf = (user: Pick<User, "version">): string => String(user.version);
export const emailKey = (email: string): string => email.toLowerCase();

/** The version an etag names, or undefined when it cannot be one of ours (and so never matches). */
export function versionOfEtag(etag: string): number | undefined {
  const bare = etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  if (!/^[1-9]\d{0,14}$/.test(bare)) return undefined;
  return Number(bare);
}

/**
 * Validates a new user's fields, and the idempotency key of its creation when there is one (empty: none), by
 * the contract's rules; every bad field is reported at once. Values are kept as sent.
 */
export function validateNewUser(input: UserChanges, requestId = ""): Required<UserChanges> {
  const violations = [
    ...checkMessage("charter.users.v1.CreateUserRequest", { requestId }).map(inRequest("")),
    ...checkMessage("charter.users.v1.User", input).map(inRequest("user.")),
  ];
  if (violations.length > 0) throw invalidArgument(violations);
  return { name: input.name ?? "", email: input.email ?? "" };
}

/** Validates the fields a change sets (UpdateUserRequest's user and mask); at least one must be set. */
export function validateChanges(input: UserChanges): UserChanges {
  const violations = checkMessage("charter.users.v1.User", input, { partial: true }).map(inRequest("user."));
  const changes = Object.fromEntries(UPDATABLE_FIELDS.flatMap((f) => (input[f] === undefined ? [] : [[f, input[f]]])));
  if (Object.keys(changes).length === 0) {
    violations.push({ field: "update_mask", description: `must name at least one of: ${UPDATABLE_FIELDS.join(", ")}` });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return changes as UserChanges;
}

export function applyChanges(user: User, changes: UserChanges, now: string): User {
  return { ...user, ...changes, version: user.version + 1, updateTime: now };
}

/** The form of an id (the rule's length and pattern), apart from its range. */
const idFormRule = { maxLen: idRule.maxLen, pattern: idRule.pattern };

/**
 * Checks an id's form: INVALID_ARGUMENT when it is not one. Returns whether a user can have it: a well-formed id
 * past the largest 64-bit id (the rule's int64 format) names no user, so it is not found rather than invalid.
 */
export function checkId(id: string, field = "id"): boolean {
  if (violationsOf(idFormRule, id).length > 0) {
    throw invalidArgument([{ field, description: "must be a user id (a decimal 64-bit integer)" }]);
  }
  return violationsOf(idRule, id).length === 0;
}

/** Checks a batch of ids; returns the ones a user can have. */
export function checkIds(ids: readonly string[]): readonly string[] {
  const tooMany = violationsOf(idsRule, ids);
  if (tooMany.length > 0) throw invalidArgument(tooMany.map((description) => ({ field: "ids", description })));
  return ids.filter((id, i) => checkId(id, `ids[${i}]`));
}

const TOKEN_PREFIX = "v1:";

export const pageTokenAfter = (lastId: string): string => Buffer.from(TOKEN_PREFIX + lastId).toString("base64url");

export interface PageRequest {
  readonly limit: number;
  readonly afterId?: string;
}

/** A page request by the contract's rules: page_size in range (unset: the contract's default), a token we issued. */
export function checkPage(pageSize: number | undefined, pageToken: string): PageRequest {
  const violations = checkMessage("charter.users.v1.ListUsersRequest", { pageSize }).map(inRequest(""));
  let afterId: string | undefined;
  if (pageToken !== "") {
    const fits = violationsOf(listRules.pageToken, pageToken).length === 0;
    const decoded = fits ? Buffer.from(pageToken, "base64url").toString() : "";
    const id = decoded.startsWith(TOKEN_PREFIX) ? decoded.slice(TOKEN_PREFIX.length) : "";
    if (violationsOf(idRule, id).length === 0 && pageTokenAfter(id) === pageToken) afterId = id;
    else violations.push({ field: "page_token", description: "is not a token this service issued" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  const limit = withDefault(listRules.pageSize, pageSize) ?? 0;
  return afterId === undefined ? { limit } : { limit, afterId };
}

/**
 * Checks the email of a lookup by the contract's rules (LookupUserRequest.email, the rules of User.email): every
 * problem is INVALID_ARGUMENT. Returns it as sent; the store compares it case-insensitively (emailKey).
 */
export function checkLookupEmail(email: string): string {
  const violations = checkMessage("charter.users.v1.LookupUserRequest", { email });
  if (violations.length > 0) throw invalidArgument(violations);
  return email;
}

export const notFound = (id: string): AppError => new AppError("NOT_FOUND", `user ${id} not found`);
/** No live user has the email looked up. The message never repeats the address (it would reach logs). */
export const noUserWithEmail = (): AppError => new AppError("NOT_FOUND", "no user has this email");
export const emailTaken = (): AppError =>
  new AppError("ALREADY_EXISTS", "email is already in use", {
    fieldViolations: [{ field: "user.email", description: "is already in use" }],
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
