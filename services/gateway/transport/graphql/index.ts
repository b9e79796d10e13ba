/**
 * The gateway's GraphQL API as one self-contained Fastify plugin: POST and GET /graphql over
 * the schema in contracts/graphql/users.graphql (loaded at start, never copied), resolvers
 * typed by generated/graphql, the SDL's @constraint limits, depth and complexity limits,
 * errors in the one error model, and optionally the GraphiQL IDE served from this process.
 * Everything is registered in its own encapsulated scope: the host app's error handler,
 * decorators and other routes are not touched.
 */

import { readFile } from "node:fs/promises";
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { buildSchema, type GraphQLSchema, isObjectType, Kind } from "graphql";
import mercurius, { type IResolvers, type MercuriusContext } from "mercurius";
import { AppError } from "../../../../platform/errors.js";
import { formatGraphqlErrors } from "../../../../platform/graphql/error-formatter.js";
import { mergeSchemas } from "../../../../platform/graphql/merge-schemas.js";
import { enforceConstraints } from "../../../../platform/rules/graphql-constraints.js";
import type { AuditBackend, UsersBackend } from "../../app/backends.js";
import { permissionDeniedDetail, principalOf, scopeMissing, UNAUTHENTICATED_DETAIL } from "../auth.js";
import { type Budget, refuse } from "../rate-limit.js";
import { requestIdOf } from "../request-id.js";
import { createContractResolvers, type GraphqlService } from "./contract-resolvers.js";
import { GRAPHIQL_PATH, registerGraphiql } from "./graphiql.js";
import { queryCost } from "./query-cost.js";
import { queryLimitsRule } from "./query-limits.js";
import { createResolvers, createUserLoader, type GraphqlContext } from "./resolvers.js";

export const GRAPHQL_PATH = "/graphql";
const SCHEMA_FILE = new URL("../../../../contracts/graphql/users.graphql", import.meta.url);

export interface GraphqlOptions {
  readonly users: UsersBackend;
  /** The audit service, for userHistory. */
  readonly audit: AuditBackend;
  /** Serve GraphiQL at /graphiql (off in production). */
  readonly graphiql: boolean;
  /** Deepest selection nesting allowed, introspection aside; default 7 (`users { edges { node { id } } }` is 4). */
  readonly maxDepth?: number;
  /** Aliased fields allowed in one operation; default 100. */
  readonly maxAliases?: number;
  /** Field selections allowed in one operation, fragments expanded; default 1000. */
  readonly maxFields?: number;
  /** Lexical tokens allowed in one query document; default 10000. */
  readonly maxTokens?: number;
  /**
   * The gateway's request budget: a request has drawn one unit on arrival; the rest of its query's cost
   * (query-cost.ts) is drawn once the body is read. Absent: no limit.
   */
  readonly budget?: Budget;
  /** Every other service's schema and backend: merged in, its root fields resolved by their @rpc methods. */
  readonly services?: readonly GraphqlService[];
}

/**
 * The scopes of every root field (Query, Mutation, Subscription), from its @auth directive in the SDL: "Query.user" →
 * ["users:read"]. A root field without @auth is refused at start: nothing is served without a stated scope.
 */
export function rootFieldScopes(schema: GraphQLSchema): Map<string, readonly string[]> {
  const scopes = new Map<string, readonly string[]>();
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!root || !isObjectType(root)) continue;
    for (const field of Object.values(root.getFields())) {
      const auth = field.astNode?.directives?.find((d) => d.name.value === "auth");
      const list = auth?.arguments?.find((a) => a.name.value === "scopes")?.value;
      if (list?.kind !== Kind.LIST || !list.values.every((v) => v.kind === Kind.STRING)) {
        throw new Error(`the GraphQL schema's ${root.name}.${field.name} has no @auth(scopes: [...])`);
      }
      scopes.set(
        `${root.name}.${field.name}`,
        list.values.map((v) => (v.kind === Kind.STRING ? v.value : "")),
      );
    }
  }
  return scopes;
}

type Resolver = (root: unknown, args: unknown, ctx: GraphqlContext, info: unknown) => unknown;

/** Each root field's resolver, behind the check of its scopes: PERMISSION_DENIED at that field names the scope. */
function withScopes(resolvers: Record<string, Record<string, Resolver>>, scopes: Map<string, readonly string[]>) {
  const guarded: Record<string, Record<string, Resolver>> = { ...resolvers };
  for (const [key, needed] of scopes) {
    const [type = "", field = ""] = key.split(".");
    const resolve = resolvers[type]?.[field];
    if (!resolve) continue;
    guarded[type] = {
      ...guarded[type],
      [field]: (root, args, ctx, info) => {
        // The route refuses a request without a valid token (401) before any resolver runs; never trust that alone.
        if (!ctx.principal) throw new AppError("UNAUTHENTICATED", UNAUTHENTICATED_DETAIL);
        const missing = scopeMissing(ctx.principal, [needed]);
        if (missing !== undefined) throw new AppError("PERMISSION_DENIED", permissionDeniedDetail(missing));
        return resolve(root, args, ctx, info);
      },
    };
  }
  return guarded;
}

export async function registerGraphql(app: FastifyInstance, opts: GraphqlOptions): Promise<void> {
  const services = opts.services ?? [];
  const schema = buildSchema(mergeSchemas(await readFile(SCHEMA_FILE, "utf8"), services));
  const own = createResolvers() as unknown as Record<string, Record<string, Resolver>>;
  const others = createContractResolvers(services) as unknown as Record<string, Record<string, Resolver>>;
  const resolvers = withScopes(
    {
      ...own,
      Query: { ...own.Query, ...others.Query },
      Mutation: { ...own.Mutation, ...others.Mutation },
    },
    rootFieldScopes(schema),
  );
  const maxFields = opts.maxFields ?? 1000;
  const maxTokens = opts.maxTokens ?? 10_000;

  // A browser opening /graphql (a navigation asks for HTML) is sent to the IDE.
  const toIde: preHandlerAsyncHookHandler = async (request, reply) => {
    const query = request.query as { query?: unknown } | undefined;
    if (request.method === "GET" && query?.query === undefined && request.headers.accept?.includes("text/html")) {
      await reply.redirect(GRAPHIQL_PATH, 302);
    }
  };

  // The rest of the operation's cost, past the unit every request drew on arrival.
  const budget = opts.budget;
  const charge: preHandlerAsyncHookHandler = async (request, reply) => {
    if (!budget || reply.sent) return undefined;
    const sent = (request.method === "GET" ? request.query : request.body) as
      | { query?: unknown; operationName?: unknown }
      | undefined;
    const extra = queryCost(sent?.query, sent?.operationName, { maxFields, maxTokens }) - 1;
    if (extra <= 0) return undefined;
    const spent = await budget.charge(request, reply, extra);
    return spent?.exceeded ? refuse(request, reply, spent) : undefined;
  };

  await app.register(async (scope) => {
    await scope.register(mercurius, {
      schema,
      resolvers: resolvers as IResolvers,
      schemaTransforms: [enforceConstraints],
      path: GRAPHQL_PATH,
      graphiql: false,
      validationRules: [
        queryLimitsRule({
          maxDepth: opts.maxDepth ?? 7,
          maxAliases: opts.maxAliases ?? 100,
          maxFields,
        }),
      ],
      graphql: { parseOptions: { maxTokens } },
      errorFormatter: formatGraphqlErrors,
      context: (request, reply): Omit<GraphqlContext, keyof MercuriusContext> => {
        // The host app may already have settled the request id (and answered with it): keep it.
        const settled = reply.getHeader("x-request-id");
        const requestId = typeof settled === "string" ? settled : requestIdOf(request.headers["x-request-id"]);
        if (settled === undefined) reply.header("x-request-id", requestId);
        const principal = principalOf(request);
        const authorization = request.headers.authorization;
        const call = { requestId, ...(authorization === undefined ? {} : { authorization }) };
        return {
          ...call,
          ...(principal ? { principal } : {}),
          users: opts.users,
          audit: opts.audit,
          userById: createUserLoader(opts.users, call),
        };
      },
      additionalRouteOptions: {
        // A valid token for every operation (introspection too); each root field checks its @auth scopes.
        config: { budget: "graphql", auth: "graphql" },
        preHandler: opts.graphiql ? [toIde, charge] : [charge],
      },
    });
    if (opts.graphiql) await registerGraphiql(scope, GRAPHQL_PATH);
  });
}
