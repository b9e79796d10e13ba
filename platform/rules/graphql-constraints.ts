/**
 * The SDL's @constraint directive, enforced on arguments before a resolver runs by the rule engine
 * (./field-rules.ts: the same Ajv and formats as every other check; the contract agreement test holds each
 * statement equal to the proto field rule it restates). Limits are read from the loaded schema, never typed here: every field whose arguments (or the input
 * objects inside them) carry a constraint gets its resolver wrapped by a check that reports
 * every bad value at once as INVALID_ARGUMENT, with paths as the client wrote them
 * (`input.email`, `id`, `first`).
 */
import {
  defaultFieldResolver,
  type GraphQLArgument,
  type GraphQLDirective,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
  getDirectiveValues,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
} from "graphql";
import { type FieldViolation, invalidArgument } from "../errors.js";
import { type FieldRule, violationsOf } from "./field-rules.js";
import { isFormatName } from "./formats.js";

/** The SDL's `@constraint(minLength, maxLength, pattern, patternMessage, format, min, max)` arguments. */
interface Constraint {
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly patternMessage?: string;
  readonly format?: string;
  readonly min?: number;
  readonly max?: number;
}

/** The directive's statement in the engine's terms: the same keywords a proto field rule has. */
function ruleOf(c: Constraint): FieldRule {
  const rule: { -readonly [K in keyof FieldRule]: FieldRule[K] } = {};
  if (c.minLength !== undefined) rule.minLen = c.minLength;
  if (c.maxLength !== undefined) rule.maxLen = c.maxLength;
  if (c.pattern !== undefined) rule.pattern = c.pattern;
  if (c.patternMessage !== undefined) rule.patternMessage = c.patternMessage;
  if (c.format !== undefined) rule.format = c.format;
  if (c.min !== undefined) rule.minimum = String(c.min);
  if (c.max !== undefined) rule.maximum = String(c.max);
  return rule;
}

type ArgumentsCheck = (args: Record<string, unknown>) => FieldViolation[];

/** Builds the checks from the schema once; fails at start on a format it cannot check. */
function createConstraintReader(directive: GraphQLDirective) {
  const cache = new Map<GraphQLArgument | GraphQLInputField, FieldRule | undefined>();
  return (holder: GraphQLArgument | GraphQLInputField): FieldRule | undefined => {
    if (cache.has(holder)) return cache.get(holder);
    const values = holder.astNode ? getDirectiveValues(directive, holder.astNode) : undefined;
    const constraint = values as Constraint | undefined;
    if (constraint?.format !== undefined && !isFormatName(constraint.format)) {
      throw new Error(`@constraint format "${constraint.format}" on ${holder.name} is not a format of platform/rules`);
    }
    const rule = constraint === undefined ? undefined : ruleOf(constraint);
    cache.set(holder, rule);
    return rule;
  };
}

function hasConstraints(
  type: GraphQLInputType,
  constraintOf: (h: GraphQLArgument | GraphQLInputField) => FieldRule | undefined,
  seen = new Set<GraphQLInputType>(),
): boolean {
  if (isNonNullType(type) || isListType(type)) return hasConstraints(type.ofType, constraintOf, seen);
  if (!isInputObjectType(type) || seen.has(type)) return false;
  seen.add(type);
  return Object.values(type.getFields()).some(
    (field) => constraintOf(field) !== undefined || hasConstraints(field.type, constraintOf, seen),
  );
}

function checkValue(
  type: GraphQLInputType,
  constraint: FieldRule | undefined,
  value: unknown,
  path: string,
  constraintOf: (h: GraphQLArgument | GraphQLInputField) => FieldRule | undefined,
  out: FieldViolation[],
): void {
  if (value === null || value === undefined) return;
  if (isNonNullType(type)) {
    checkValue(type.ofType, constraint, value, path, constraintOf, out);
    return;
  }
  if (isListType(type)) {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        checkValue(type.ofType, constraint, item, `${path}[${i}]`, constraintOf, out);
      });
    }
    return;
  }
  if (isInputObjectType(type)) {
    const record = value as Record<string, unknown>;
    for (const field of Object.values(type.getFields())) {
      checkValue(field.type, constraintOf(field), record[field.name], `${path}.${field.name}`, constraintOf, out);
    }
    return;
  }
  if (constraint && (typeof value === "string" || typeof value === "number")) {
    for (const description of violationsOf(constraint, value)) out.push({ field: path, description });
  }
}

/**
 * Wraps, in place, the resolver of every field with constrained arguments. Meant for
 * mercurius's `schemaTransforms`, which run after the resolvers are attached.
 */
export function enforceConstraints(schema: GraphQLSchema): GraphQLSchema {
  const directive = schema.getDirective("constraint");
  if (!directive) return schema;
  const constraintOf = createConstraintReader(directive);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      const checked = field.args.filter((a) => constraintOf(a) !== undefined || hasConstraints(a.type, constraintOf));
      if (checked.length === 0) continue;
      const check: ArgumentsCheck = (args) => {
        const out: FieldViolation[] = [];
        for (const arg of checked) checkValue(arg.type, constraintOf(arg), args[arg.name], arg.name, constraintOf, out);
        return out;
      };
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args: Record<string, unknown>, context, info) => {
        const violations = check(args);
        if (violations.length > 0) throw invalidArgument(violations);
        return resolve(source, args, context, info);
      };
    }
  }
  return schema;
}
