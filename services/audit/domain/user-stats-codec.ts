/**
 * Reads a record of `charter.users.v1.stats` strictly against the contract (contracts/asyncapi/users-events.yaml, the
 * proto3 JSON of charter.users.v1.UserStats with every field present): the field rules generated from the proto
 * (each field present, RFC 3339 times), each count an int32 of at least 0, then the generated proto JSON decoding,
 * and what the proto states in words: a minute-aligned window of 60 s, keyed by its start. A record that is not one is refused with
 * the reason, never guessed at; unknown fields are ignored.
 */
import { UserStats } from "../../../generated/proto/charter/users/v1/stats.js";
import type { IncomingMessage } from "../../../platform/events/bus.js";
import { checkMessage } from "../../../platform/rules/field-rules.js";
import type { UserStatsRecord } from "./user-stats.js";

export type DecodedStats =
  | { readonly ok: true; readonly record: UserStatsRecord }
  | { readonly ok: false; readonly reason: string };

const WINDOW_MS = 60_000;
const INT32_MAX = 2 ** 31 - 1;
const COUNTS = ["created", "updated", "deleted", "liveUsers", "lateEvents"] as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function decodeUserStats(message: IncomingMessage): DecodedStats {
  const fail = (reason: string): DecodedStats => ({ ok: false, reason });
  if (message.value === undefined) return fail("the record has no value");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(message.value));
  } catch {
    return fail("the value is not UTF-8 JSON");
  }
  if (!isObject(json)) return fail("the value is not a JSON object");
  // Every field is set in what the job sends (output-only fields are required of a sender).
  const [first] = checkMessage("charter.users.v1.UserStats", json, { sent: true });
  if (first) return fail(`${first.field} ${first.description}`);
  // Each count is a proto int32 that the contract bounds below by 0. The generated rules carry neither: proto3's
  // FieldRules.minimum has implicit presence, so stats.proto's `minimum: 0` is indistinguishable from no minimum
  // there, and proto3 JSON decoding would turn "12" or 1.5 into a number. So the int32 range is checked here.
  for (const count of COUNTS) {
    const value = json[count];
    if (typeof value !== "number" || !Number.isInteger(value)) return fail(`${count} is not an integer`);
    if (value < 0 || value > INT32_MAX) return fail(`${count} must be from 0 to ${INT32_MAX}`);
  }
  const stats = UserStats.fromJSON(json);
  const { created, updated, deleted, liveUsers, lateEvents } = stats;
  // Checked present above; the decoding must agree.
  if (
    created === undefined ||
    updated === undefined ||
    deleted === undefined ||
    liveUsers === undefined ||
    lateEvents === undefined
  ) {
    return fail("a count is missing");
  }
  const start = Date.parse(String(stats.windowStart));
  const end = Date.parse(String(stats.windowEnd));
  if (start % WINDOW_MS !== 0) return fail("windowStart is not on a minute");
  if (end - start !== WINDOW_MS) return fail("windowEnd is not windowStart plus 60 s");
  if (message.key !== undefined && Date.parse(message.key) !== start) return fail("the record key is not windowStart");
  return {
    ok: true,
    record: {
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(end).toISOString(),
      created,
      updated,
      deleted,
      liveUsers,
      lateEvents,
    },
  };
}
