/**
 * Every other service's GraphQL schema (contracts/graphql/<name>.graphql, a service made by `npm run new:service`)
 * merged into the gateway's (platform/graphql/merge-schemas.ts), and its root fields resolved by the gRPC method
 * each names in `@rpc`, with no code of the service's own. A field is resolved by its method's verb: Get
 * (`<singular>(id)`, null when not found), List (a connection from `first`/`after`), Create (`input` as the entity),
 * Update (`input` as the entity, its other keys than id and etag as the update mask) and Delete (`id`, `etag`;
 * answers `{ id }`).
 */
import type { FieldDefinitionNode } from "graphql";
import { isAppError } from "../../../../platform/errors.js";
import { rootFieldsOf, rpcOfField, type ServiceSchema } from "../../../../platform/graphql/merge-schemas.js";
import { singularOf, verbOf } from "../../../../platform/service-names.js";
import type { ContractBackend } from "../../app/backends.js";

type Resolver = (
  root: unknown,
  args: Record<string, unknown>,
  ctx: { requestId: string; authorization?: string },
) => unknown;

export interface GraphqlService extends ServiceSchema {
  readonly backend: ContractBackend;
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
  const method = rpcOfField(field);
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
  switch (verbOf(method)) {
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
