/**
 * The one set of named formats (`format` in the proto field rules, OpenAPI and the SDL's @constraint). Every
 * checker — the rule engine, the gateway's Ajv over the OpenAPI document, the GraphQL constraints, the mocks —
 * reads a format from this object at the time it checks, so there is one meaning of `email` everywhere.
 *
 * - email: ajv-formats' `full` email format, the one Prism (the REST mock) applies too: an ASCII dot-atom local
 *   part and a dotted host name. Quoted local parts, internationalised addresses, consecutive dots and
 *   underscores in the domain are refused, as is surrounding white space.
 * - date-time: RFC 3339 with every field in range and a time zone; no leap second (:60), which a proto3 JSON
 *   Timestamp cannot carry.
 * - int64: a decimal 64-bit signed integer as a string (the proto3 JSON carrier of int64).
 */
import { fullFormats } from "ajv-formats/dist/formats.js";

export type FormatName = "email" | "date-time" | "int64";

const email = fullFormats.email;
if (!(email instanceof RegExp)) throw new Error("ajv-formats' email format is expected to be a RegExp");

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

function isDateTime(value: string): boolean {
  const match = RFC3339.exec(value);
  if (!match) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offsetHour = 0, offsetMinute = 0] = match
    .slice(1)
    .map((group) => (group === undefined ? 0 : Number(group)));
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0); // day 0 of the next month: the last day of this one
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= lastDay.getUTCDate() &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

const isInt64 = (value: string): boolean =>
  /^-?[0-9]{1,19}$/.test(value) && BigInt(value) >= MIN_INT64 && BigInt(value) <= MAX_INT64;

/** Mutable on purpose: a checker looks a format up when it checks, never keeps its own copy. */
export const formats: Record<FormatName, (value: string) => boolean> = {
  email: (value) => email.test(value),
  "date-time": isDateTime,
  int64: isInt64,
};

/** What a client is told when a value is not of the format. */
export const formatMessages: Record<FormatName, string> = {
  email: "must be a valid email address",
  "date-time": "must be an RFC 3339 date-time",
  int64: "must be a decimal 64-bit integer",
};

export const isFormatName = (name: string): name is FormatName => Object.hasOwn(formats, name);

/** Registers the formats with an Ajv instance (the gateway's, the engine's), each looked up per check. */
export function addRuleFormats(ajv: { addFormat(name: string, format: (value: string) => boolean): unknown }): void {
  for (const name of Object.keys(formats) as FormatName[]) ajv.addFormat(name, (value) => formats[name](value));
}
