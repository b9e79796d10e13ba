/**
 * Every other service's GraphQL schema (contracts/graphql/<name>.graphql, a service made by `npm run new:service`)
 * merged into the gateway's, and its root fields resolved by the gRPC method each names in `@rpc`, with no code of
 * the service's own: the definitions the users schema has already (directives, scalars, ErrorCode, PageInfo) must be
 * the same (descriptions aside) and are taken once; its Query and Mutation fields extend the users schema's, and a field name both have
 * stops start-up. A field is resolved by its method's verb: Get (`<singular>(id)`, null when not found), List (a
 * connection from `first`/`after`), Create (`input` as the entity), Update (`input` as the entity, its other keys
 * than id and etag as the update mask) and Delete (`id`, `etag`; answers `{ id }`).
 */
import { type DefinitionNode, type FieldDefinitionNode, Kind, parse, print, valueFromASTUntyped } from "graphql";
import { isAppError } from "../../../../platform/errors.js";
import { singularOf } from "../../../../platform/service-names.js";
import type { ContractBackend } from "../../app/backends.js";

type Resolver = (
  root: unknown,
  args: Record<string, unknown>,
  ctx: { requestId: string; authorization?: string },
) => unknown;

export interface GraphqlService {
  readonly name: string;
  readonly sdl: string;
  readonly backend: ContractBackend;
}

/** A definition as SDL without its own description: what two schemas must agree on to share it. */
const shapeOf = (definition: DefinitionNode): string =>
  print({ ...definition, description: undefined } as unknown as DefinitionNode);

const nameOf = (definition: DefinitionNode): string | undefined =>
  "name" in definition && definition.name ? definition.name.value : undefined;

/** The users schema with every other service's merged in, as one SDL document. */
export function mergeSchemas(base: string, services: readonly GraphqlService[]): string {
  if (services.length === 0) return base;
  const merged = [...parse(base).definitions];
  const byName = new Map(merged.flatMap((d) => (nameOf(d) ? [[nameOf(d) as string, shapeOf(d)]] : [])));
  const rootFields = new Set<string>();
  for (const d of merged) {
    if (d.kind === Kind.OBJECT_TYPE_DEFINITION && (d.name.value === "Query" || d.name.value === "Mutation")) {
      for (const f of d.fields ?? []) rootFields.add(`${d.name.value}.${f.name.value}`);
    }
  }
  for (const { name, sdl } of services) {
    const where = `contracts/graphql/${name}.graphql`;
    for (const d of parse(sdl).definitions) {
      const named = nameOf(d);
      if (d.kind === Kind.OBJECT_TYPE_DEFINITION && (named === "Query" || named === "Mutation")) {
        for (const f of d.fields ?? []) {
          const key = `${named}.${f.name.value}`;
          if (rootFields.has(key)) throw new Error(`${where}: ${key} is defined already`);
          rootFields.add(key);
        }
        merged.push({ ...d, kind: Kind.OBJECT_TYPE_EXTENSION } as DefinitionNode);
        continue;
      }
      if (named === undefined) continue;
      const known = byName.get(named);
      if (known === undefined) {
        byName.set(named, shapeOf(d));
        merged.push(d);
      } else if (known !== shapeOf(d)) {
        throw new Error(`${where}: ${named} differs from the definition of that name already in the schema`);
      }
    }
  }
  return print({ kind: Kind.DOCUMENT, definitions: merged });
}

/** The resolvers of every other service's root fields, by the method each one's @rpc names. */
export function createContractResolvers(services: readonly GraphqlService[]): Record<string, Record<string, Resolver>> {
  const resolvers: Record<string, Record<string, Resolver>> = {};
  for (const service of services) {
    for (const { type, field } of rootFieldsOf(service.sdl)) {
      resolvers[type] = { ...resolvers[type], [field.name.value]: contractResolver(service, type, field) };
    }
  }
  return resolvers;
}

/** The Query and Mutation fields of a schema. */
function rootFieldsOf(sdl: string): { type: string; field: FieldDefinitionNode }[] {
  return parse(sdl).definitions.flatMap((d) =>
    d.kind === Kind.OBJECT_TYPE_DEFINITION && (d.name.value === "Query" || d.name.value === "Mutation")
      ? (d.fields ?? []).map((field) => ({ type: d.name.value, field }))
      : [],
  );
}

/**
 * The resolver of one root field, by the method its @rpc names. Throws, naming the field, when the gateway cannot
 * resolve it: no @rpc, a method the backend does not have, a verb it does not know. The RPC completeness check
 * asks it too.
 */
export function contractResolver(
  { name, backend }: GraphqlService,
  type: string,
  field: FieldDefinitionNode,
): Resolver {
  const rpc = field.directives?.find((x) => x.name.value === "rpc")?.arguments?.[0]?.value;
  const method = rpc ? String(valueFromASTUntyped(rpc)) : "";
  const [service, verbed] = method.split("/");
  const where = `contracts/graphql/${name}.graphql ${type}.${field.name.value}`;
  if (service !== backend.service || !verbed || !backend.methods.includes(verbed))
    throw new Error(`${where}: @rpc names no method of ${backend.service}`);
  return resolverOf(verbed, singularOf(name), backend, where);
}

function resolverOf(method: string, singular: string, backend: ContractBackend, where: string): Resolver {
  const call = (request: unknown, ctx: { requestId: string; authorization?: string }) =>
    backend.call(method, request, {
      requestId: ctx.requestId,
      ...(ctx.authorization === undefined ? {} : { authorization: ctx.authorization }),
    }) as Promise<Record<string, unknown>>;
  const verb = /^(Get|List|Create|Update|Delete)[A-Z]/.exec(method)?.[1];
  switch (verb) {
    case "Get":
      return async (_root, args, ctx) => {
        try {
          return (await call(args, ctx))[singular];
        } catch (error) {
          if (isAppError(error) && error.code === "NOT_FOUND") return null;
          throw error;
        }
      };
    case "List":
      return async (_root, { first, after }, ctx) => {
        const answer = await call({ pageSize: first, pageToken: after ?? "" }, ctx);
        const nodes = (Object.values(answer).find(Array.isArray) ?? []) as unknown[];
        const next = typeof answer.nextPageToken === "string" ? answer.nextPageToken : "";
        // The service's page token is the cursor: every edge carries the one that pages on after this page.
        return {
          nodes,
          edges: nodes.map((node) => ({ cursor: next, node })),
          pageInfo: { hasNextPage: next !== "", endCursor: next === "" ? null : next },
        };
      };
    case "Create":
      return async (_root, { input }, ctx) => (await call({ [singular]: input }, ctx))[singular];
    case "Update":
      return async (_root, { input }, ctx) => {
        const changes = Object.keys(input as object).filter((key) => key !== "id" && key !== "etag");
        return (await call({ [singular]: input, updateMask: changes.join(",") }, ctx))[singular];
      };
    case "Delete":
      return async (_root, args, ctx) => {
        await call(args, ctx);
        return { id: args.id };
      };
    default:
      throw new Error(`${where}: the gateway resolves Get, List, Create, Update and Delete methods, not ${method}`);
  }
}
