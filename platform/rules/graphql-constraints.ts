/**
 * The SDL's @constraint directive, enforced on arguments before a resolver runs. Limits are
 * read from the loaded schema, never typed here: every field whose arguments (or the input
 * objects inside them) carry a constraint gets its resolver wrapped by a check that reports
 * every bad value at once as INVALID_ARGUMENT, with paths as the client wrote them
 * (`input.email`, `id`, `first`).
 */
import { fullFormats } from "ajv-formats/dist/formats.js";
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
import type { ConstraintDirectiveArgs } from "../../../generated/graphql/users.js";
import { type FieldViolation, invalidArgument } from "../../../platform/errors.js";

type Constraint = { readonly [K in keyof ConstraintDirectiveArgs]?: NonNullable<ConstraintDirectiveArgs[K]> };

/**
 * Formats the contract names. `email` is the check Ajv's format plugin applies to OpenAPI's
 * `format: email`, so the REST and GraphQL edges accept the same addresses.
 */
const emailFormat = fullFormats.email;
if (!(emailFormat instanceof RegExp)) throw new Error("ajv-formats' email format is expected to be a RegExp");
const formats: Record<string, (value: string) => boolean> = {
  email: (value) => emailFormat.test(value),
};

/** Lengths count Unicode code points, as the contract says. */
const codePoints = (s: string): number => [...s].length;

function violationsOf(c: Constraint, value: unknown): string[] {
  const out: string[] = [];
  if (typeof value === "string") {
    const length = codePoints(value);
    if (c.minLength !== undefined && length < c.minLength) {
      out.push(c.minLength === 1 ? "must not be empty" : `must be at least ${c.minLength} characters`);
    }
    if (c.maxLength !== undefined && length > c.maxLength) out.push(`must be at most ${c.maxLength} characters`);
    if (c.pattern !== undefined && !new RegExp(c.pattern, "u").test(value)) out.push(`must match ${c.pattern}`);
    const format = c.format === undefined ? undefined : formats[c.format];
    if (format && !format(value)) out.push(`must be a valid ${c.format}`);
  }
  if (typeof value === "number") {
    if (c.min !== undefined && value < c.min) out.push(`must be at least ${c.min}`);
    if (c.max !== undefined && value > c.max) out.push(`must be at most ${c.max}`);
  }
  return out;
}

type ArgumentsCheck = (args: Record<string, unknown>) => FieldViolation[];

/** Builds the checks from the schema once; fails at start on a format it cannot check. */
function createConstraintReader(directive: GraphQLDirective) {
  const cache = new Map<GraphQLArgument | GraphQLInputField, Constraint | undefined>();
  return (holder: GraphQLArgument | GraphQLInputField): Constraint | undefined => {
    if (cache.has(holder)) return cache.get(holder);
    const values = holder.astNode ? getDirectiveValues(directive, holder.astNode) : undefined;
    const constraint = values as Constraint | undefined;
    if (constraint?.format !== undefined && !formats[constraint.format]) {
      throw new Error(`@constraint format "${constraint.format}" on ${holder.name} is not supported by the gateway`);
    }
    cache.set(holder, constraint);
    return constraint;
  };
}

function hasConstraints(
  type: GraphQLInputType,
  constraintOf: (h: GraphQLArgument | GraphQLInputField) => Constraint | undefined,
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
  constraint: Constraint | undefined,
  value: unknown,
  path: string,
  constraintOf: (h: GraphQLArgument | GraphQLInputField) => Constraint | undefined,
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
  if (constraint) for (const description of violationsOf(constraint, value)) out.push({ field: path, description });
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
