/**
 * The rule engine: every field rule of the contracts (generated/proto/field-rules.ts, from the proto's
 * `(charter.contract.v1.field)` annotations) is executed here, by Ajv with the one format set of ./formats.ts,
 * wherever the field is checked: the users domain, the audit service's event decoding, the GraphQL
 * constraints, the gRPC and GraphQL mocks. The gateway's REST validation runs the same Ajv and formats over the
 * OpenAPI document, whose statements of these limits the contract agreement test holds equal to these rules.
 *
 * A rule becomes a JSON Schema keyword for keyword (min_len → minLength, …); lengths count Unicode code points
 * and patterns run in Unicode mode, as Ajv does by default. Nothing is trimmed: a value is judged as sent.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { fieldRules } from "../../generated/proto/field-rules.js";
import type { FieldViolation } from "../errors.js";
import { escapePointerSegment } from "../json-pointer.js";
import { addRuleFormats, formatMessages, isFormatName } from "./formats.js";

export interface FieldRule {
  readonly required?: boolean;
  readonly outputOnly?: boolean;
  readonly minLen?: number;
  readonly maxLen?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: string;
  readonly maximum?: string;
  readonly maxItems?: number;
  readonly defaultValue?: string;
  readonly patternMessage?: string;
}

type MessageName = keyof typeof fieldRules;
type RulesOf<M extends MessageName> = (typeof fieldRules)[M];

/** The rules of a message's fields by JSON name, as generated. */
export const rulesOf = <M extends MessageName>(message: M): RulesOf<M> => fieldRules[message];

/**
 * The rules of a message named at run time (a service found by its contract, whose messages no code here names):
 * its fields' rules by JSON name, or undefined when the message has none.
 */
export const rulesOfMessage = (message: string): Readonly<Record<string, FieldRule>> | undefined =>
  (fieldRules as unknown as Record<string, Record<string, FieldRule> | undefined>)[message];

/** A JSON Schema of the rule, for one value (the item of a repeated field). */
export function schemaOfRule(rule: FieldRule): Record<string, unknown> {
  const schema: Record<string, unknown> = {};
  const isText = [rule.minLen, rule.maxLen, rule.pattern, rule.format].some((k) => k !== undefined);
  const isNumber = rule.minimum !== undefined || rule.maximum !== undefined;
  if (isText || isNumber) schema.type = isText ? "string" : "integer";
  if (rule.minLen !== undefined) schema.minLength = rule.minLen;
  if (rule.maxLen !== undefined) schema.maxLength = rule.maxLen;
  if (rule.pattern !== undefined) schema.pattern = rule.pattern;
  if (rule.format !== undefined) schema.format = rule.format;
  if (rule.minimum !== undefined) schema.minimum = Number(rule.minimum);
  if (rule.maximum !== undefined) schema.maximum = Number(rule.maximum);
  return schema;
}

const ajv = new Ajv2020({ allErrors: true, strict: true });
addRuleFormats(ajv);
const compiled = new WeakMap<FieldRule, ValidateFunction>();

function validatorOf(rule: FieldRule): ValidateFunction {
  let validate = compiled.get(rule);
  if (!validate) {
    if (rule.format !== undefined && !isFormatName(rule.format)) throw new Error(`unknown format "${rule.format}"`);
    const item = schemaOfRule(rule);
    const list =
      rule.maxItems === undefined
        ? { type: "array", items: item }
        : { type: "array", maxItems: rule.maxItems, items: item };
    validate = ajv.compile({ anyOf: [list, item] });
    compiled.set(rule, validate);
  }
  return validate;
}

/**
 * Text is Unicode text: a lone surrogate (which JSON can escape, "\ud800") is no character, and a proto string,
 * being UTF-8, cannot carry it: it would be stored as U+FFFD. No JSON Schema pattern states this portably (Rust's
 * and Python's regular expressions, which Schemathesis uses, cannot name surrogates), so the engine checks it on
 * every string, and the gateway on every string of a REST body (`firstNonUnicodeText`).
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
export const NOT_UNICODE = "must be Unicode text (it holds a lone surrogate)";

/** The JSON pointer of the first string (or key) in `value` that is not Unicode text, if any. */
export function firstNonUnicodeText(value: unknown, pointer = ""): string | undefined {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? pointer || "/" : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = `${pointer}/${escapePointerSegment(key)}`;
    if (LONE_SURROGATE.test(key)) return at;
    const found = firstNonUnicodeText(item, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What a client is told about one failed keyword of `rule`. */
function messageOf(rule: FieldRule, error: ErrorObject): string {
  const limit = (error.params as { limit?: number }).limit;
  switch (error.keyword) {
    case "minLength":
      return limit === 1 ? "must not be empty" : `must be at least ${limit} characters`;
    case "maxLength":
      return `must be at most ${limit} characters`;
    case "pattern":
      return rule.patternMessage ?? `must match ${rule.pattern}`;
    case "format":
      return isFormatName(rule.format ?? "") ? formatMessages[rule.format as keyof typeof formatMessages] : "";
    case "minimum":
    case "maximum":
      return `must be from ${rule.minimum ?? "any"} to ${rule.maximum ?? "any"}`;
    case "type":
      return `must be ${(error.params as { type?: string }).type === "integer" ? "an integer" : "a string"}`;
    case "maxItems":
      return `must hold at most ${limit} items`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

/**
 * What is wrong with `value` under `rule`: the first rule it breaks, or nothing. For an array only max_items is
 * judged: check each item on its own, so that its violation names it.
 */
export function violationsOf(rule: FieldRule, value: unknown): [] | [string] {
  if (typeof value === "string" && LONE_SURROGATE.test(value)) return [NOT_UNICODE];
  const validate = validatorOf(rule);
  if (validate(value)) return [];
  const isArray = Array.isArray(value);
  const relevant = (validate.errors ?? []).filter((e) =>
    isArray ? e.schemaPath === "#/anyOf/0/maxItems" : e.schemaPath.startsWith("#/anyOf/1/"),
  );
  // One violation a value: the first keyword that fails (an empty name is "must not be empty", not also blank).
  const first = relevant[0];
  return first === undefined ? [] : [messageOf(rule, first)];
}

export interface CheckOptions {
  /** Prefixed to each violation's field, e.g. "user." for the user inside a request. */
  readonly prefix?: string;
  /** A partial message (an update's fields): `required` does not apply. */
  readonly partial?: boolean;
  /** A message a server sends (a response, an event): output-only fields are set, so they are required too. */
  readonly sent?: boolean;
}

/**
 * Every violation of `values` (a message in its JSON field names) against its message's rules, named
 * `<prefix><field>`: a required field that is unset (undefined, or proto3's empty string) is "is required";
 * output-only fields are checked only in what a server sends (`sent`), where they are required.
 */
export function checkMessage(message: MessageName, values: object, options: CheckOptions = {}): FieldViolation[] {
  const out: FieldViolation[] = [];
  const rules = fieldRules[message] as Readonly<Record<string, FieldRule>>;
  for (const [field, rule] of Object.entries(rules)) {
    if (rule.outputOnly && !options.sent) continue;
    const required = (rule.required || (rule.outputOnly && options.sent)) && !options.partial;
    const value = (values as Readonly<Record<string, unknown>>)[field];
    const name = `${options.prefix ?? ""}${field}`;
    if (value === undefined || value === null || (required && value === "")) {
      if (required) out.push({ field: name, description: "is required" });
      continue;
    }
    for (const description of violationsOf(rule, value)) out.push({ field: name, description });
  }
  return out;
}

/** An optional integer rule's value: the field's own, or the rule's default when it is unset. */
export function withDefault(rule: FieldRule, value: number | undefined): number | undefined {
  return value ?? (rule.defaultValue === undefined ? undefined : Number(rule.defaultValue));
}

/**
 * The fields of a message a client sets (every annotated field but the output-only ones, which the server
 * assigns), by JSON name in the contract's order: what an update may change.
 */
export function settableFields(message: MessageName): string[] {
  const rules = fieldRules[message] as Readonly<Record<string, FieldRule>>;
  return Object.entries(rules).flatMap(([field, rule]) => (rule.outputOnly ? [] : [field]));
}
