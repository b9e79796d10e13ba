/**
 * Reads a message of `charter.users.v1.events` strictly against the contract (contracts/asyncapi/users-events.yaml,
 * the proto3 JSON of charter.users.v1.UserEvent): a message that is not one is set aside with the reason, never
 * guessed at. Unknown fields are ignored (a newer producer may add some) and not kept: what is recorded is the
 * checked fields alone, so no field this contract does not know (of any size or depth) reaches the history store.
 */
import type { IncomingMessage } from "../../../platform/events/bus.js";
import { checkMessage, type FieldRule, rulesOf, violationsOf } from "../../../platform/rules/field-rules.js";
import type { HistoryEntry } from "./history.js";

export type Decoded =
  | { readonly ok: true; readonly entry: HistoryEntry }
  | { readonly ok: false; readonly reason: string };

const rules = rulesOf("charter.users.v1.UserEvent");
const TYPES = ["USER_EVENT_TYPE_CREATED", "USER_EVENT_TYPE_UPDATED", "USER_EVENT_TYPE_DELETED"] as const;
const MAX_VERSION = 2 ** 53 - 1;
const USER_FIELDS = ["id", "name", "email", "etag", "createTime", "updateTime"] as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const fits = (rule: FieldRule, value: unknown): boolean => violationsOf(rule, value).length === 0;

/** int64 in proto3 JSON: a decimal string (or a number); here ≥ 1 and exact in a double. */
function versionOf(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !/^[1-9]\d{0,15}$/.test(text)) return undefined;
  const version = Number(text);
  return version <= MAX_VERSION ? version : undefined;
}

/** The user of the event by the contract's User rules (every field set, as the users service sends it). */
function userProblem(user: Record<string, unknown>, userId: string): string | undefined {
  if (user.id !== userId) return "user.id differs from userId";
  const [first] = checkMessage("charter.users.v1.User", user, { prefix: "user.", sent: true });
  return first === undefined ? undefined : `${first.field} ${first.description}`;
}

export function decodeUserEvent(message: IncomingMessage): Decoded {
  const fail = (reason: string): Decoded => ({ ok: false, reason });
  if (message.value === undefined) return fail("the message has no value");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(message.value));
  } catch {
    return fail("the value is not UTF-8 JSON");
  }
  if (!isObject(json)) return fail("the value is not a JSON object");
  const { eventId, type, userId, user, version, occurredAt, actor } = json;
  if (typeof eventId !== "string" || eventId === "" || !fits(rules.eventId, eventId)) {
    return fail(`eventId must be a string of 1 to ${rules.eventId.maxLen} characters`);
  }
  if (typeof type !== "string" || !(TYPES as readonly string[]).includes(type)) {
    return fail(`type must be one of ${TYPES.join(", ")}`);
  }
  if (typeof userId !== "string" || !fits(rules.userId, userId)) return fail("userId must be 1 to 19 digits");
  const parsedVersion = versionOf(version);
  if (parsedVersion === undefined) return fail("version must be a whole number ≥ 1");
  if (!fits(rules.occurredAt, occurredAt)) return fail("occurredAt must be an RFC 3339 time");
  if (type === "USER_EVENT_TYPE_DELETED") {
    if (user !== undefined && user !== null) return fail("a DELETED event carries no user");
  } else {
    if (!isObject(user)) return fail(`a ${type.replace("USER_EVENT_TYPE_", "")} event carries the user`);
    const problem = userProblem(user, userId);
    if (problem) return fail(problem);
  }
  // Who made the change (the subject of the caller's token); absent on events from before it was recorded.
  if (actor !== undefined && (typeof actor !== "string" || !fits(rules.actor, actor))) {
    return fail(`actor must be a string of at most ${rules.actor.maxLen} characters`);
  }
  if (message.key !== undefined && message.key !== userId) return fail("the message key is not the userId");
  const ceId = message.headers.ce_id;
  if (ceId !== undefined && ceId !== eventId) return fail("the ce_id header is not the eventId");
  const kept: Record<string, unknown> = { eventId, type, userId, version, occurredAt };
  if (isObject(user)) kept.user = Object.fromEntries(USER_FIELDS.map((field) => [field, user[field]]));
  if (typeof actor === "string" && actor !== "") kept.actor = actor;
  return { ok: true, entry: { eventId, userId, version: parsedVersion, event: kept } };
}
