/**
 * The GraphQL mock: contracts/graphql/users.graphql served over HTTP (Fastify + mercurius) with
 * @graphql-tools/mock. The root fields answer with the OpenAPI document's examples of the REST
 * operation each mirrors, so `user(id)` is the same example user as REST and gRPC, and
 * `userHistory` the same events as GET /v1/users/{id}/history, `userStats` the stats of GET /v1/stats/users; anything the
 * examples do not cover is filled in by the mock store. A `Prefer` request header picks the answer
 * like Prism's (`code=NOT_FOUND` makes `user` null, another documented code is an error with that
 * `extensions.code`, `example=empty` picks an example). Queries that break the schema, and
 * arguments that break its @constraint limits, are refused with the gateway's errors. A field the schema marks
 * @auth needs an `Authorization: Bearer <token>` header with a JWT-shaped token, else it is the error
 * UNAUTHENTICATED; the mock verifies no signature and no scope, so any well-formed token will do (no issuer).
 * Every other service's schema (contracts/graphql/<name>.graphql) is merged in as the gateway merges it, its root
 * fields answering from its own OpenAPI document's examples (createServiceResolvers).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { addMocksToSchema } from "@graphql-tools/mock";
import { makeExecutableSchema } from "@graphql-tools/schema";
import Fastify from "fastify";
import { defaultFieldResolver, type FieldDefinitionNode, type GraphQLSchema, isObjectType } from "graphql";
import mercurius, { type IResolvers, type MercuriusContext } from "mercurius";
import { AuthError, bearerToken } from "../platform/auth/token-verifier.js";
import { AppError, type Code, invalidArgument } from "../platform/errors.js";
import { decodeCursor, encodeCursor } from "../platform/graphql/cursor.js";
import { formatGraphqlErrors } from "../platform/graphql/error-formatter.js";
import { mergeSchemas, rootFieldsOf, rpcOfField, type ServiceSchema } from "../platform/graphql/merge-schemas.js";
import { type FieldRule, rulesOf, withDefault } from "../platform/rules/field-rules.js";
import { enforceConstraints } from "../platform/rules/graphql-constraints.js";
import { verbOf } from "../platform/service-names.js";
import type { ContractExamples, OperationExamples } from "./contract-examples.js";
import { defaultPageSize, inputOf, pageSizeRuleOf } from "./entity-service.js";
import { delay, type FaultInjector, faultError } from "./faults.js";
import { actorOf, type Entity, type EntityStore, type MockStore, type Page, pageTokenAt } from "./mock-store.js";
import { PreferError, type Preference, parsePrefer, pickExample } from "./prefer.js";
import type { RecordedResponse, Replay } from "./recording.js";
import { createReplayResolvers, type ReplayContext } from "./replay-graphql.js";

export const GRAPHQL_SCHEMA_FILE = fileURLToPath(new URL("../contracts/graphql/users.graphql", import.meta.url));
export const GRAPHQL_PATH = "/graphql";
const pageSizeRule = rulesOf("charter.users.v1.ListUsersRequest").pageSize;

interface MockContext extends MercuriusContext, ReplayContext {
  readonly prefer: Preference | PreferError;
  /** The Authorization header as sent (undefined when there is none, or more than one). */
  readonly authorization: string | undefined;
}

/**
 * Every field the schema marks @auth refuses a request without a well-formed bearer token before it resolves,
 * with the error the gateway gives (UNAUTHENTICATED, the same message whatever was wrong). Which fields need a
 * token is read from the schema's own directives.
 */
export function requireTokensOnAuthFields(schema: GraphQLSchema): string[] {
  const guarded: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.astNode?.directives?.some((directive) => directive.name.value === "auth")) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context: Pick<MockContext, "authorization">, info) => {
        try {
          bearerToken(context.authorization);
        } catch (error) {
          if (error instanceof AuthError) throw new AppError("UNAUTHENTICATED", error.message);
          throw error;
        }
        return resolve(source, args, context, info);
      };
      guarded.push(`${type.name}.${field.name}`);
    }
  }
  return guarded;
}

interface ExampleUser {
  readonly id: string;
  readonly createTime: string;
}

interface ExamplePage {
  readonly users: readonly ExampleUser[];
  readonly nextPageToken?: string;
}

interface ExampleHistory {
  readonly events: readonly { readonly user?: ExampleUser }[];
  readonly nextPageToken?: string;
}

type ConnectionArgs = { first?: number | null; after?: string | null };

/**
 * One example page as a connection: its first `first` items, with cursors that go on from `after`; `rule` is the
 * page size's field rule of the List RPC's request (its default and maximum).
 */
function connectionOf<T>(
  items: readonly T[],
  nextPageToken: string | undefined,
  args: ConnectionArgs,
  rule: FieldRule = pageSizeRule,
) {
  const start = args.after ? decodeCursor(args.after, "after", Number(rule.maximum)) : { token: "", skip: 0 };
  const nodes = items.slice(0, withDefault(rule, args.first ?? undefined));
  const edges = nodes.map((node, i) => ({
    cursor: encodeCursor({ token: start.token, skip: start.skip + i + 1 }),
    node,
  }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage: nextPageToken !== undefined || nodes.length < items.length,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** Another service's schema (contracts/graphql/<name>.graphql) and the examples of its OpenAPI document. */
export interface ServiceGraphql extends ServiceSchema {
  readonly examples: ContractExamples;
  /** The stateful mode: the service's store, which its root fields read and write instead. */
  readonly store?: EntityStore<Entity>;
}

export interface GraphqlMockOptions {
  readonly host: string;
  readonly port: number;
  readonly examples: ContractExamples;
  /** Other services' schemas, merged into the users schema; their root fields answer from their own examples. */
  readonly services?: readonly ServiceGraphql[];
  /** The stateful mode: users, their changes and their history come from this store. */
  readonly store?: MockStore;
  readonly faults?: FaultInjector;
  /** The replay mode: every root field answers from this recording (replay-graphql.ts). */
  readonly replay?: Replay;
}

export interface GraphqlMock {
  readonly port: number;
  stop(): Promise<void>;
}

/** The preferred example of an operation, or the documented problem of the preferred code as an AppError. */
function choose(op: OperationExamples, context: Pick<MockContext, "prefer">, inputPrefix = ""): unknown {
  const { prefer } = context;
  if (prefer instanceof PreferError) throw invalidArgument([{ field: "Prefer", description: prefer.message }]);
  if (prefer.code !== undefined && prefer.code !== "OK") {
    const problem = op.problems.get(prefer.code as Code);
    if (!problem) {
      throw invalidArgument([
        {
          field: "Prefer",
          description: `${op.operationId} documents no ${prefer.code} error; it answers OK, ${[...op.problems.keys()].join(", ")}`,
        },
      ]);
    }
    const fieldViolations = (problem.errors ?? []).map((e) => ({
      field: `${inputPrefix}${e.field.replace(/^\//, "").replace(/\//g, ".")}`,
      description: e.message,
    }));
    throw new AppError(
      problem.code,
      problem.detail ?? problem.title,
      fieldViolations.length ? { fieldViolations } : {},
    );
  }
  try {
    return pickExample(op.examples, prefer, op.operationId);
  } catch (error) {
    if (error instanceof PreferError) throw invalidArgument([{ field: "Prefer", description: error.message }]);
    throw error;
  }
}

/** The resolvers of the mock's root fields (Query and Mutation), answering from the contract's examples. */
export function createGraphqlMockResolvers(examples: ContractExamples) {
  const ops = {
    user: examples.operation("getUser"),
    userByEmail: examples.operation("lookupUser"),
    users: examples.operation("listUsers"),
    createUser: examples.operation("createUser"),
    updateUser: examples.operation("updateUser"),
    deleteUser: examples.operation("deleteUser"),
    userHistory: examples.operation("listUserHistory"),
    userStats: examples.operation("getUserStats"),
  };
  /** A user by id or by email: null for a preferred NOT_FOUND, as the gateway answers it. */
  const userOrNull = (op: OperationExamples, context: MockContext) => {
    const { prefer } = context;
    if (!(prefer instanceof PreferError) && prefer.code === "NOT_FOUND") return null;
    return choose(op, context);
  };
  return {
    Query: {
      user: (_: unknown, _args: unknown, context: MockContext) => userOrNull(ops.user, context),
      userByEmail: (_: unknown, _args: unknown, context: MockContext) => userOrNull(ops.userByEmail, context),
      users: (_: unknown, args: ConnectionArgs, context: MockContext) => {
        const page = choose(ops.users, context) as ExamplePage;
        return connectionOf(page.users, page.nextPageToken, args);
      },
      userHistory: (_: unknown, args: ConnectionArgs, context: MockContext) => {
        const page = choose(ops.userHistory, context) as ExampleHistory;
        // A DELETED event has no user: null, not one the mock store would make up.
        const events = page.events.map((event) => ({ ...event, user: event.user ?? null }));
        return connectionOf(events, page.nextPageToken, args);
      },
      // The latest stats example; `Prefer: code=UNAVAILABLE` is the stats pipeline not running, as the gateway says it.
      userStats: (_: unknown, _args: unknown, context: MockContext) => choose(ops.userStats, context),
    },
    Mutation: {
      createUser: (_: unknown, _args: unknown, context: MockContext) => choose(ops.createUser, context, "input."),
      updateUser: (_: unknown, _args: unknown, context: MockContext) => choose(ops.updateUser, context, "input."),
      deleteUser: (_: unknown, args: { id: string }, context: MockContext) => {
        choose(ops.deleteUser, context);
        return { id: args.id };
      },
    },
  };
}

type Resolver = (root: unknown, args: Record<string, unknown>, context: MockContext) => unknown;

/**
 * The root fields of other services' schemas, each answering from the examples of the OpenAPI operation whose
 * `x-charter-rpc` names the RPC its `@rpc` names (serviceFieldResolver). A field the mock cannot answer stops
 * start-up, naming it.
 */
export function createServiceResolvers(
  services: readonly ServiceGraphql[],
  faults?: FaultInjector,
): Record<string, Record<string, Resolver>> {
  const resolvers: Record<string, Record<string, Resolver>> = {};
  for (const service of services) {
    for (const { type, field } of rootFieldsOf(service.sdl)) {
      resolvers[type] = { ...resolvers[type], [field.name.value]: serviceFieldResolver(service, type, field, faults) };
    }
  }
  return resolvers;
}

/**
 * The resolver of one root field of another service's schema, by the verb of the RPC its `@rpc` names, as the
 * gateway resolves it: Get (null for a preferred NOT_FOUND), List (a connection of the example page's items, paged by
 * the page size rule of the RPC's request), Create and Update (the entity; a preferred problem names the fields
 * under `input.`), Delete (`{ id }`); each fails first as the configured faults of its operation say. Throws, naming
 * the field, when no operation names the RPC or the verb is another. The RPC completeness check asks it too.
 */
export function serviceFieldResolver(
  { name, examples, store }: ServiceGraphql,
  type: string,
  field: FieldDefinitionNode,
  faults?: FaultInjector,
): Resolver {
  const resolve = answerOf({ name, examples, ...(store ? { store } : {}) }, type, field);
  if (!faults) return resolve;
  const operationId = examples.routes.find((r) => r.rpc === rpcOfField(field))?.operationId ?? "";
  return (root, args, context) => {
    const fault = faults.draw(operationId);
    if (fault) throw faultError(fault);
    return resolve(root, args, context);
  };
}

/**
 * A root field's answer from its operation's examples, or from the service's store in the stateful mode, by its
 * RPC's verb (see serviceFieldResolver).
 */
function answerOf(
  { name, examples, store }: Pick<ServiceGraphql, "name" | "examples" | "store">,
  type: string,
  field: FieldDefinitionNode,
): Resolver {
  const where = `contracts/graphql/${name}.graphql ${type}.${field.name.value}`;
  const rpc = rpcOfField(field);
  const route = examples.routes.find((r) => r.rpc !== undefined && r.rpc === rpc);
  if (!route) throw new Error(`${where}: no operation of contracts/openapi/${name}.v1.yaml names @rpc ${rpc}`);
  const op = examples.operation(route.operationId);
  const method = rpc.slice(rpc.lastIndexOf("/") + 1);
  if (store) return storeAnswerOf(store, op, rpc, where);
  switch (verbOf(rpc)) {
    case "Get":
      return (_, _args, context) => {
        const { prefer } = context;
        if (!(prefer instanceof PreferError) && prefer.code === "NOT_FOUND") return null;
        return choose(op, context);
      };
    case "List": {
      const rule = pageSizeRuleOf(rpc);
      if (!rule) throw new Error(`${where}: generated/proto/field-rules.ts has no pageSize rule of ${method}Request`);
      return (_, args, context) => {
        const page = choose(op, context) as Record<string, unknown>;
        const items = (Object.values(page).find(Array.isArray) ?? []) as unknown[];
        const next = typeof page.nextPageToken === "string" ? page.nextPageToken : undefined;
        return connectionOf(items, next, args as ConnectionArgs, rule);
      };
    }
    case "Create":
    case "Update":
      return (_, _args, context) => choose(op, context, "input.");
    case "Delete":
      return (_, args, context) => {
        choose(op, context);
        return { id: args.id };
      };
    default:
      throw new Error(`${where}: the mock answers Get, List, Create, Update and Delete methods, not ${method}`);
  }
}

/** A root field's answer from the service's store, by its RPC's verb, as the stateful users fields answer. */
function storeAnswerOf(store: EntityStore<Entity>, op: OperationExamples, rpc: string, where: string): Resolver {
  switch (verbOf(rpc)) {
    case "Get":
      return (_, args, context) => {
        const { prefer } = context;
        if (!(prefer instanceof PreferError) && prefer.code === "NOT_FOUND") return null;
        preferred(op, context);
        return nullIfNotFound(() => store.get(String(args.id)));
      };
    case "List": {
      const byDefault = defaultPageSize(rpc);
      return (_, args, context) => {
        preferred(op, context);
        const { first, after } = args as ConnectionArgs;
        return storeConnection(store.list(first ?? byDefault, after ?? undefined));
      };
    }
    case "Create":
      return (_, args, context) => {
        preferred(op, context);
        return store.create(inputOf(args.input as object), actorOf(context.authorization));
      };
    case "Update":
      return (_, args, context) => {
        preferred(op, context);
        const input = args.input as Record<string, unknown> & { id: string; etag?: string | null };
        return store.update(input.id, inputOf(input), input.etag ?? undefined, actorOf(context.authorization));
      };
    case "Delete":
      return (_, args, context) => {
        preferred(op, context);
        store.delete(
          String(args.id),
          (args.etag as string | null | undefined) ?? undefined,
          actorOf(context.authorization),
        );
        return { id: args.id };
      };
    default:
      throw new Error(`${where}: the mock answers Get, List, Create, Update and Delete methods, not ${rpc}`);
  }
}

/** One page of the store as a connection; each cursor is the store's page token after its item. */
function storeConnection<T>(page: Page<T>) {
  const edges = page.items.map((node, i) => ({ cursor: pageTokenAt(page.start + i + 1), node }));
  return {
    edges,
    nodes: page.items,
    pageInfo: { hasNextPage: page.nextPageToken !== undefined, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

const nullIfNotFound = <T>(read: () => T): T | null => {
  try {
    return read();
  } catch (error) {
    if (error instanceof AppError && error.code === "NOT_FOUND") return null;
    throw error;
  }
};

/** A preferred code or a bad Prefer header still answers as without the store. */
const preferred = (op: OperationExamples, context: MockContext): void => {
  const { prefer } = context;
  if (prefer instanceof PreferError || (prefer.code !== undefined && prefer.code !== "OK")) choose(op, context);
};

/** The root fields of the stateful mode, on the shared store (userStats keeps its examples). */
export function createStatefulResolvers(examples: ContractExamples, store: MockStore) {
  const base = createGraphqlMockResolvers(examples);
  const op = (id: string) => examples.operation(id);
  const size = (first: number | null | undefined) => first ?? Number(pageSizeRule.defaultValue);
  type UserInput = { id: string; etag?: string | null; name?: string | null; email?: string | null };
  return {
    Query: {
      ...base.Query,
      user: (_: unknown, args: { id: string }, context: MockContext) => {
        const { prefer } = context;
        if (!(prefer instanceof PreferError) && prefer.code === "NOT_FOUND") return null;
        preferred(op("getUser"), context);
        return nullIfNotFound(() => store.get(args.id));
      },
      userByEmail: (_: unknown, args: { email: string }, context: MockContext) => {
        const { prefer } = context;
        if (!(prefer instanceof PreferError) && prefer.code === "NOT_FOUND") return null;
        preferred(op("lookupUser"), context);
        return nullIfNotFound(() => store.lookup(args.email));
      },
      users: (_: unknown, args: ConnectionArgs, context: MockContext) => {
        preferred(op("listUsers"), context);
        return storeConnection(store.list(size(args.first), args.after ?? undefined));
      },
      userHistory: (_: unknown, args: ConnectionArgs & { id: string }, context: MockContext) => {
        preferred(op("listUserHistory"), context);
        const page = store.history(args.id, size(args.first), args.after ?? undefined);
        return storeConnection({ ...page, items: page.items.map((event) => ({ ...event, user: event.user ?? null })) });
      },
    },
    Mutation: {
      createUser: (_: unknown, args: { input: { name: string; email: string } }, context: MockContext) => {
        preferred(op("createUser"), context);
        return store.create(args.input, actorOf(context.authorization));
      },
      updateUser: (_: unknown, { input }: { input: UserInput }, context: MockContext) => {
        preferred(op("updateUser"), context);
        const change = {
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.email != null ? { email: input.email } : {}),
        };
        return store.update(input.id, change, input.etag ?? undefined, actorOf(context.authorization));
      },
      deleteUser: (_: unknown, args: { id: string; etag?: string | null }, context: MockContext) => {
        preferred(op("deleteUser"), context);
        store.delete(args.id, args.etag ?? undefined, actorOf(context.authorization));
        return { id: args.id };
      },
    },
  };
}

/** The REST operation each root field mirrors: the key of its configured faults. */
const OPERATION_OF_FIELD: Readonly<Record<string, string>> = {
  user: "getUser",
  userByEmail: "lookupUser",
  users: "listUsers",
  userHistory: "listUserHistory",
  userStats: "getUserStats",
  createUser: "createUser",
  updateUser: "updateUser",
  deleteUser: "deleteUser",
};

type RootResolvers = Record<string, Record<string, (...args: never[]) => unknown>>;

/** Every root field fails first as the faults of its operation say. */
function withFaults<T extends RootResolvers>(resolvers: T, faults: FaultInjector | undefined): T {
  if (!faults) return resolvers;
  const wrapped: RootResolvers = {};
  for (const [type, fields] of Object.entries(resolvers)) {
    wrapped[type] = Object.fromEntries(
      Object.entries(fields).map(([name, resolve]) => [
        name,
        (...args: never[]) => {
          const fault = OPERATION_OF_FIELD[name] ? faults.draw(OPERATION_OF_FIELD[name]) : undefined;
          if (fault) throw faultError(fault);
          return resolve(...args);
        },
      ]),
    );
  }
  return wrapped as T;
}

export async function startGraphqlMock(opts: GraphqlMockOptions): Promise<GraphqlMock> {
  const exampleUser = pickExample(opts.examples.operation("getUser").examples, {}, "getUser") as ExampleUser;

  const usersTypeDefs = await readFile(GRAPHQL_SCHEMA_FILE, "utf8");
  const services = opts.services ?? [];
  // Other services' schemas join the users schema as the gateway merges them; their fields answer from their own
  // examples, or their own stores in the stateful mode (no replay for them).
  const typeDefs = mergeSchemas(usersTypeDefs, services);
  const base = makeExecutableSchema({ typeDefs: usersTypeDefs });
  const others = createServiceResolvers(services, opts.faults);
  const withOthers = <T extends RootResolvers>(resolvers: T): T =>
    ({
      ...resolvers,
      Query: { ...resolvers.Query, ...others.Query },
      Mutation: { ...resolvers.Mutation, ...others.Mutation },
    }) as T;
  // A replay or the store fills in nothing: a field its answer lacks is missing, as the schema then says (the mocks
  // of addMocksToSchema would make one up and hide it).
  const answering = opts.replay
    ? createReplayResolvers(base, opts.replay.dir)
    : opts.store
      ? createStatefulResolvers(opts.examples, opts.store)
      : undefined;
  const schema = answering
    ? makeExecutableSchema({ typeDefs, resolvers: withOthers(withFaults(answering, opts.faults)) })
    : addMocksToSchema<IResolvers>({
        schema: makeExecutableSchema({ typeDefs }),
        // Values for whatever a resolver below leaves unset: the example user's.
        mocks: { DateTime: () => exampleUser.createTime, ID: () => exampleUser.id },
        resolvers: withOthers(
          withFaults(createGraphqlMockResolvers(opts.examples), opts.faults) as RootResolvers,
        ) as unknown as IResolvers,
      });
  requireTokensOnAuthFields(schema);

  const app = Fastify({ logger: false });
  await app.register(mercurius, {
    schema,
    schemaTransforms: [enforceConstraints],
    path: GRAPHQL_PATH,
    graphiql: false,
    errorFormatter: formatGraphqlErrors,
    // A preferred delay is waited once per request, before any field resolves.
    context: async (request): Promise<Pick<MockContext, "prefer" | "authorization" | "replayed">> => {
      const header = request.headers.prefer;
      const { authorization } = request.headers;
      // Asked for by the first root field that resolves (after its token and fault checks), then kept.
      const { replay } = opts;
      let found: [RecordedResponse | undefined] | undefined;
      const replayed = () => {
        found ??= [replay?.answer("POST", GRAPHQL_PATH, request.headers, JSON.stringify(request.body))];
        return found[0];
      };
      let prefer: Preference | PreferError;
      try {
        prefer = parsePrefer(header === undefined ? [] : [header].flat());
      } catch (error) {
        return { prefer: error as PreferError, authorization, replayed };
      }
      await delay(prefer.delay);
      return { prefer, authorization, replayed };
    },
  });
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return { port, stop: () => app.close() };
}
