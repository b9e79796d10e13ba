/**
 * Checks messages in their proto3 JSON form against contracts/proto: every key is a field of
 * the message, every value has the field's type (an enum's value by its name), and the field rules of
 * generated/proto/field-rules.ts hold (required, lengths, pattern, format, range). Used on the
 * gRPC mock's example responses at start and on every request it receives. The field rules are executed by
 * the one rule engine (platform/rules), as in the users service itself. Violations name
 * fields by their proto paths (`user.email`, `ids[0]`).
 *
 * It also turns a REST body into that form: REST and GraphQL name an enum value without the
 * enum's prefix (`CREATED` for `USER_EVENT_TYPE_CREATED`, buf's ENUM_VALUE_PREFIX rule).
 */

import { loadSync } from "@grpc/proto-loader";
import type { FieldViolation } from "../platform/errors.js";
import { protoRoot } from "../platform/grpc-server.js";
import { type FieldRule, rulesOfMessage, violationsOf } from "../platform/rules/field-rules.js";
import { formatMessages, formats } from "../platform/rules/formats.js";

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  /** A proto3 `optional` field: set to its zero value is set. */
  readonly proto3Optional?: boolean;
  /** The oneof it is in; a proto3 `optional` field is in a synthetic oneof named `_<field>`. */
  readonly oneofIndex?: number;
}

/**
 * Paths a request must carry (`required`), messages that may be partial (`partial`, e.g. an update's user), and
 * the paths of a partial message that its request's update_mask names (`masked`): those are set, even when empty.
 */
type FieldNeeds = {
  readonly required: ReadonlySet<string>;
  readonly partial: ReadonlySet<string>;
  readonly masked: ReadonlySet<string>;
};

export interface ServiceMethod {
  /** As the proto spells it: GetUser. */
  readonly name: string;
  /** As grpc-js handlers are keyed: getUser. */
  readonly handlerName: string;
  readonly requestType: string;
  readonly responseType: string;
}

export interface Needs {
  readonly required?: readonly string[];
  readonly partial?: readonly string[];
}

/** Whether the message is an RPC's request (output-only fields are ignored) or a response (they must be set). */
export type Direction = "request" | "response";

/** A field of a message: its JSON name, whether it is repeated, and the full name of its type when a message. */
export interface MessageField {
  readonly name: string;
  readonly repeated: boolean;
  readonly messageType?: string;
}

export interface ProtoChecker {
  readonly methods: readonly ServiceMethod[];
  /** The fields of a message (short name in the service's package or full name). */
  fields(typeName: string): readonly MessageField[];
  /**
   * `value` (a `typeName` message as REST carries it) in proto3 JSON: enum values named without their prefix get
   * it (`CREATED` → `USER_EVENT_TYPE_CREATED`); everything else is left for check() to judge.
   */
  toProtoJson(typeName: string, value: unknown): unknown;
  /**
   * Everything wrong with `value` as a `typeName` message (short name in the service's package or full name).
   * `needs.required` are proto paths the caller needs set beyond the field rules; `needs.partial` are paths
   * of messages that may set only some of their fields (an update's user): their `required` rules do not apply.
   */
  check(typeName: string, value: unknown, direction: Direction, needs?: Needs): FieldViolation[];
}

const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const INTEGER_TYPES = new Set(["TYPE_INT32", "TYPE_SINT32", "TYPE_SFIXED32", "TYPE_UINT32", "TYPE_FIXED32"]);
const LONG_TYPES = new Set(["TYPE_INT64", "TYPE_SINT64", "TYPE_SFIXED64", "TYPE_UINT64", "TYPE_FIXED64"]);

/** Loads the service's messages from contracts/proto (no generated code: the proto files themselves). */
export function createProtoChecker(protoFile: string, serviceName: string): ProtoChecker {
  const definition = loadSync(protoFile, { includeDirs: [protoRoot], keepCase: true });
  const service = definition[serviceName] as
    | Record<
        string,
        { originalName: string; requestType: { type: { name: string } }; responseType: { type: { name: string } } }
      >
    | undefined;
  if (!service) throw new Error(`${protoFile} has no service ${serviceName}`);
  const pkg = serviceName.slice(0, serviceName.lastIndexOf("."));
  /** A type name as a field or method names it (relative to `scope`, or absolute), by protobuf's scoping rules. */
  const fullName = (name: string, scope = pkg): string => {
    if (name.startsWith(".")) return name.slice(1);
    const parts = scope.split(".");
    for (let n = parts.length; n >= 0; n--) {
      const candidate = [...parts.slice(0, n), name].join(".");
      if (candidate in definition) return candidate;
    }
    return `${scope}.${name}`;
  };
  type MessageDescriptor = { field?: FieldDescriptor[]; oneofDecl?: { name: string }[] };
  const messageOf = (typeName: string): MessageDescriptor => {
    const type = definition[fullName(typeName)] as { type?: MessageDescriptor } | undefined;
    if (!type?.type?.field) throw new Error(`no message ${typeName} in ${protoFile}`);
    return type.type;
  };
  const fieldsOf = (typeName: string): readonly FieldDescriptor[] => messageOf(typeName).field ?? [];
  /**
   * Whether a field tracks presence (proto3 `optional`): its zero value is a value. proto-loader leaves
   * proto3Optional false, so the synthetic oneof `_<field>` tells.
   */
  const hasPresence = (typeName: string, field: FieldDescriptor): boolean =>
    field.proto3Optional === true ||
    (field.oneofIndex !== undefined && messageOf(typeName).oneofDecl?.[field.oneofIndex]?.name === `_${field.name}`);
  /** An enum's values by name, and the prefix its value names share (USER_EVENT_TYPE_ for UserEventType). */
  const enumOf = (enumName: string): { values: ReadonlyMap<string, number>; prefix: string } => {
    const type = definition[enumName] as { type?: { value?: { name: string; number: number }[] } } | undefined;
    if (!type?.type?.value) throw new Error(`no enum ${enumName} in ${protoFile}`);
    const short = enumName.slice(enumName.lastIndexOf(".") + 1);
    const prefix = `${short.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_`;
    return { values: new Map(type.type.value.map((v) => [v.name, v.number])), prefix };
  };
  const methods = Object.entries(service).map(([name, m]) => ({
    name,
    handlerName: m.originalName,
    requestType: fullName(m.requestType.type.name),
    responseType: fullName(m.responseType.type.name),
  }));

  const isEmpty = (value: unknown): boolean =>
    value === undefined ||
    value === null ||
    value === "" ||
    value === 0 ||
    value === false ||
    (Array.isArray(value) && value.length === 0);

  function checkMessage(
    typeName: string,
    value: unknown,
    direction: Direction,
    path: string,
    needs: FieldNeeds,
    out: FieldViolation[],
  ): void {
    const name = fullName(typeName);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      out.push({ field: path || "(message)", description: `must be a ${name} message (an object)` });
      return;
    }
    const record = value as Record<string, unknown>;
    const fields = fieldsOf(name);
    const known = new Set(fields.flatMap((f) => [f.name, camel(f.name)]));
    for (const key of Object.keys(record)) {
      if (!known.has(key)) out.push({ field: `${path}${key}`, description: `is not a field of ${name}` });
    }
    for (const field of fields) {
      const fieldPath = `${path}${field.name}`;
      const rules = rulesOfMessage(name)?.[camel(field.name)] ?? {};
      const needed = needs.required.has(fieldPath);
      const partial = needs.partial.has(path.slice(0, -1));
      if (direction === "request" && rules.outputOnly && !needed) continue;
      const sent = record[camel(field.name)] ?? record[field.name];
      const masked = needs.masked.has(fieldPath);
      // proto3 JSON leaves out an empty string: a field the mask names is then set to it.
      const fieldValue = masked && sent === undefined && field.type === "TYPE_STRING" ? "" : sent;
      const unspecified =
        field.type === "TYPE_ENUM" && enumOf(fullName(field.typeName, name)).values.get(String(fieldValue)) === 0;
      const absent = fieldValue === undefined || fieldValue === null;
      const unset = hasPresence(name, field) || masked ? absent : isEmpty(fieldValue);
      if (unset || unspecified) {
        if (needed || (rules.required && !partial) || (direction === "response" && rules.outputOnly)) {
          out.push({ field: fieldPath, description: "is required" });
        }
        continue;
      }
      if (field.label === "LABEL_REPEATED") {
        if (!Array.isArray(fieldValue)) {
          out.push({ field: fieldPath, description: "must be a list" });
          continue;
        }
        for (const description of violationsOf(rules, fieldValue)) out.push({ field: fieldPath, description });
        fieldValue.forEach((item, i) => {
          checkValue(field, name, rules, item, direction, `${fieldPath}[${i}]`, needs, out);
        });
      } else {
        checkValue(field, name, rules, fieldValue, direction, fieldPath, needs, out);
      }
    }
  }

  function checkValue(
    field: FieldDescriptor,
    scope: string,
    rules: FieldRule,
    value: unknown,
    direction: Direction,
    path: string,
    needs: FieldNeeds,
    out: FieldViolation[],
  ): void {
    const push = (description: string): void => {
      out.push({ field: path, description });
    };
    const typeName = field.typeName === "" ? "" : fullName(field.typeName, scope);
    if (field.type === "TYPE_MESSAGE" && typeName === "google.protobuf.Timestamp") {
      if (typeof value !== "string" || !formats["date-time"](value)) push(formatMessages["date-time"]);
      return;
    }
    if (field.type === "TYPE_MESSAGE" && typeName === "google.protobuf.FieldMask") {
      if (typeof value !== "string" && !Array.isArray(value)) push("must be a field mask");
      return;
    }
    if (field.type === "TYPE_MESSAGE") {
      checkMessage(typeName, value, direction, `${path}.`, needs, out);
      return;
    }
    if (field.type === "TYPE_STRING") {
      if (typeof value !== "string") {
        push("must be a string");
        return;
      }
      for (const description of violationsOf(rules, value)) push(description);
      return;
    }
    if (INTEGER_TYPES.has(field.type)) {
      if (typeof value !== "number" || !Number.isInteger(value)) {
        push("must be an integer");
        return;
      }
      for (const description of violationsOf(rules, value)) push(description);
      return;
    }
    if (LONG_TYPES.has(field.type)) {
      if (typeof value !== "string" || !/^-?[0-9]{1,20}$/.test(value)) push("must be a 64-bit integer as a string");
      return;
    }
    if (field.type === "TYPE_BOOL") {
      if (typeof value !== "boolean") push("must be true or false");
      return;
    }
    if (field.type === "TYPE_ENUM") {
      const { values } = enumOf(typeName);
      if (typeof value !== "string" || !values.has(value)) push(`must be one of ${[...values.keys()].join(", ")}`);
      return;
    }
    // Other scalar types (bytes, floats) are not in this contract yet: accepted as they are.
  }

  function toProtoJson(typeName: string, value: unknown): unknown {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
    const name = fullName(typeName);
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const field of fieldsOf(name)) {
      const key = [camel(field.name), field.name].find((k) => k in out);
      if (key === undefined || !["TYPE_ENUM", "TYPE_MESSAGE"].includes(field.type)) continue;
      const type = fullName(field.typeName, name);
      const one = (item: unknown): unknown => {
        if (field.type === "TYPE_MESSAGE") return type.startsWith("google.protobuf.") ? item : toProtoJson(type, item);
        const { values, prefix } = enumOf(type);
        return typeof item === "string" && !values.has(item) && values.has(`${prefix}${item}`)
          ? `${prefix}${item}`
          : item;
      };
      const current = out[key];
      out[key] = Array.isArray(current) ? current.map(one) : one(current);
    }
    return out;
  }

  return {
    methods,
    fields: (typeName) => {
      const name = fullName(typeName);
      return fieldsOf(name).map((field) => ({
        name: camel(field.name),
        repeated: field.label === "LABEL_REPEATED",
        ...(field.type === "TYPE_MESSAGE" ? { messageType: fullName(field.typeName, name) } : {}),
      }));
    },
    toProtoJson,
    check(typeName, value, direction, needs = {}) {
      const out: FieldViolation[] = [];
      // The paths an update_mask names in each partial message: set even when empty ("" is a value then).
      const mask = (value as { updateMask?: unknown } | null)?.updateMask;
      const maskPaths =
        typeof mask === "string"
          ? mask.split(",").filter(Boolean)
          : Array.isArray(mask)
            ? mask.filter((m): m is string => typeof m === "string")
            : [];
      const masked = new Set(
        (needs.partial ?? []).flatMap((p) =>
          maskPaths.map((m) => `${p}.${m.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`),
        ),
      );
      const sets = { required: new Set(needs.required), partial: new Set(needs.partial), masked };
      checkMessage(typeName, value, direction, "", sets, out);
      // A required message that is absent hides its own required fields: report the message once.
      return out.filter((v, i) => out.findIndex((o) => o.field === v.field) === i);
    },
  };
}
