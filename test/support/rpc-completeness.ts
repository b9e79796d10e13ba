/**
 * Is every RPC of contracts/proto served everywhere it should be? The checker takes what the tree holds as a
 * value (RpcPieces) and names, for each RPC, every piece it lacks; loadRpcPieces() reads that value from the
 * real tree without starting a server: the generated service definitions (every service of every charter proto),
 * the keys of the real gRPC handler and gateway backend objects, the contracts' markings, the mocks' answers, the
 * SDK and the pact files.
 *
 * A service the gateway serves from its contracts alone (each other document of contracts/openapi, e.g. one made by
 * `npm run new:service`) is held to the pieces such a service has, found by convention: its gRPC handlers and
 * metrics label list (services/<name>/transport/<name>-grpc.ts: `create…GrpcHandlers`, `…_RPCS`), the methods of
 * its contract backend, a REST operation the gateway's transcoder accepts (or a declared exception) with an
 * example for its Prism, and a GraphQL root field the gateway's resolvers accept (or an @rpcException). The pieces
 * made by hand for users and audit only (the gRPC and GraphQL mocks, the SDK, the pacts) are not asked of it.
 *
 * How an RPC is found in the public contracts (see docs/adding-an-rpc.md):
 * - REST: the operation whose `x-charter-rpc` is the RPC's full name (`charter.users.v1.UsersService/LookupUser`),
 *   or an entry of `info.x-charter-rpc-exceptions` (RPC → why it has no operation);
 * - GraphQL: the root field whose `@rpc(method:)` names it, or an `@rpcException(method:, reason:)` on Query or
 *   Mutation.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  type ConstDirectiveNode,
  Kind,
  type ObjectTypeDefinitionNode,
  type OperationDefinitionNode,
  parse,
  type StringValueNode,
} from "graphql";
import { type ContractExamples, loadContractExamples } from "../../mocks/contract-examples.js";
import {
  createGraphqlMockResolvers,
  GRAPHQL_SCHEMA_FILE,
  type ServiceGraphql,
  serviceFieldResolver,
} from "../../mocks/graphql-mock.js";
import { buildGrpcAnswers, contractMock, MOCKED_SERVICES } from "../../mocks/grpc-mock.js";
import { authConfig } from "../../platform/auth/auth-config.js";
import { createGrpcAuthorizer, type GrpcAuthorizer } from "../../platform/auth/grpc-auth.js";
import { createTokenVerifier } from "../../platform/auth/token-verifier.js";
import { envReader } from "../../platform/config.js";
import { rootFieldsOf as schemaRootFields } from "../../platform/graphql/merge-schemas.js";
import { createLogger, type Logger } from "../../platform/logging.js";
import { createUsersClient, SDK_METHODS } from "../../sdk/index.js";
import { createMemoryHistoryStore } from "../../services/audit/adapters/memory-history-store.js";
import { createMemoryLatestStats } from "../../services/audit/adapters/memory-latest-stats.js";
import { AUDIT_RPCS, createAuditGrpcHandlers } from "../../services/audit/transport/audit-grpc.js";
import { createAuditBackend } from "../../services/gateway/adapters/audit-backend.js";
import { createContractBackend } from "../../services/gateway/adapters/contract-backend.js";
import { createUsersBackend } from "../../services/gateway/adapters/users-backend.js";
import type { ContractBackend } from "../../services/gateway/app/backends.js";
import { contractResolver } from "../../services/gateway/transport/graphql/contract-resolvers.js";
import {
  loadOpenApiDocument,
  loadOtherOpenApiDocuments,
  type OpenApiDocument,
  operationsOf,
} from "../../services/gateway/transport/rest/openapi-document.js";
import { transcoder } from "../../services/gateway/transport/rest/transcoded-rest.js";
import { createMemoryCache } from "../../services/users/adapters/memory-cache.js";
import { createMemoryUserStore } from "../../services/users/adapters/memory-user-store.js";
import { createUsersService } from "../../services/users/app/users-service.js";
import { createUsersGrpcHandlers, USERS_RPCS } from "../../services/users/transport/users-grpc.js";
import { PACTS_DIR } from "./pact-files.js";

const root = new URL("../../", import.meta.url);

/** One RPC of the proto. */
export interface RpcRef {
  /** The full service name, e.g. charter.users.v1.UsersService. */
  readonly service: string;
  /** As the proto spells it: LookupUser. */
  readonly name: string;
  /** As grpc-js handlers and generated clients key it: lookupUser. */
  readonly handlerName: string;
}

export interface RestOperationPiece {
  readonly id: string;
  readonly method: string;
  /** The contract's path template, e.g. /v1/users/{id}. */
  readonly path: string;
  /** Its `x-charter-rpc`, when it has one. */
  readonly rpc: string | undefined;
  /** Whether its success response has an example Prism can answer with. */
  readonly example: boolean;
  /** For an operation of a transcoded service: why the gateway's transcoder cannot serve it, if it cannot. */
  readonly unservable?: string | undefined;
}

export interface GraphqlFieldPiece {
  /** `Query.userByEmail`. */
  readonly field: string;
  /** Its `@rpc(method:)`, when it has one. */
  readonly rpc: string | undefined;
  /** For a field of a transcoded service: why the gateway's resolvers cannot resolve it, if they cannot. */
  readonly unservable?: string | undefined;
}

export interface PactInteractionPiece {
  readonly pact: string;
  readonly description: string;
  readonly method: string;
  readonly path: string;
  /** For a GraphQL request: the root fields its query selects (`Query.user`). */
  readonly graphqlFields: readonly string[];
}

/** Everything the checker looks at, by piece. Service-keyed records are keyed by full service name. */
export interface RpcPieces {
  readonly rpcs: readonly RpcRef[];
  /** The services the gateway serves by transcoding their contracts (no hand-written gateway, mock, SDK or pact). */
  readonly transcoded: readonly string[];
  /** The keys of each service's gRPC handler object. */
  readonly grpcHandlers: Readonly<Record<string, readonly string[]>>;
  /** The RPC names each service counts in its metrics (the `method` label list). */
  readonly rpcLabels: Readonly<Record<string, readonly string[]>>;
  /** The methods of the gateway's backend of each service. */
  readonly backends: Readonly<Record<string, readonly string[]>>;
  readonly restOperations: readonly RestOperationPiece[];
  /** RPC full name → why it has no REST operation. */
  readonly restExceptions: Readonly<Record<string, string>>;
  readonly graphqlFields: readonly GraphqlFieldPiece[];
  /** RPC full name → why it has no GraphQL field. */
  readonly graphqlExceptions: Readonly<Record<string, string>>;
  /** The RPC names the gRPC mock answers, by service; a message when its answers cannot be built. */
  readonly grpcMock: Readonly<Record<string, readonly string[] | string>>;
  /** The root fields the GraphQL mock resolves from the contract's examples (`Query.user`). */
  readonly graphqlMock: readonly string[];
  /** operationId → the SDK method that calls it (SDK_METHODS). */
  readonly sdkMethods: Readonly<Record<string, string>>;
  /** The functions a UsersClient has. */
  readonly sdkClient: readonly string[];
  readonly pactInteractions: readonly PactInteractionPiece[];
}

export type Piece =
  | "grpc-handler"
  | "rpc-metrics-label"
  | "gateway-backend"
  | "gateway-transcoding"
  | "rest-operation"
  | "prism-example"
  | "sdk-method"
  | "graphql-field"
  | "graphql-mock"
  | "grpc-mock"
  | "pact";

export interface MissingPiece {
  /** The RPC's full name, or the marking that names no RPC. */
  readonly rpc: string;
  readonly piece: Piece;
  readonly detail: string;
}

export const fullName = (rpc: Pick<RpcRef, "service" | "name">): string => `${rpc.service}/${rpc.name}`;
export const formatMissing = (m: MissingPiece): string => `${m.rpc}: ${m.piece}: ${m.detail}`;

/** A path template as a pattern for concrete paths (`{id}` is one segment). */
const pathPattern = (template: string): RegExp =>
  new RegExp(
    `^${template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]+")}$`,
  );

/** Every piece each RPC lacks; empty when the tree is complete. */
export function checkRpcCompleteness(pieces: RpcPieces): MissingPiece[] {
  const missing: MissingPiece[] = [];
  const known = new Set(pieces.rpcs.map(fullName));
  const miss = (rpc: string, piece: Piece, detail: string) => missing.push({ rpc, piece, detail });

  // Markings that name no RPC of the proto (a typo, or an RPC removed): the contract says something untrue.
  for (const op of pieces.restOperations) {
    if (op.rpc !== undefined && !known.has(op.rpc)) {
      miss(op.rpc, "rest-operation", `operation ${op.id} has x-charter-rpc naming no RPC of contracts/proto`);
    }
  }
  for (const rpc of Object.keys(pieces.restExceptions)) {
    if (!known.has(rpc)) miss(rpc, "rest-operation", "info.x-charter-rpc-exceptions names no RPC of contracts/proto");
  }
  for (const field of pieces.graphqlFields) {
    if (field.rpc !== undefined && !known.has(field.rpc)) {
      miss(field.rpc, "graphql-field", `${field.field} has @rpc naming no RPC of contracts/proto`);
    }
  }
  for (const rpc of Object.keys(pieces.graphqlExceptions)) {
    if (!known.has(rpc)) miss(rpc, "graphql-field", "@rpcException names no RPC of contracts/proto");
  }

  for (const rpc of pieces.rpcs) {
    const name = fullName(rpc);
    const handWritten = !pieces.transcoded.includes(rpc.service);
    if (!pieces.grpcHandlers[rpc.service]?.includes(rpc.handlerName)) {
      miss(name, "grpc-handler", `the gRPC handler object of ${rpc.service} has no ${rpc.handlerName}`);
    }
    if (!pieces.rpcLabels[rpc.service]?.includes(rpc.name)) {
      miss(name, "rpc-metrics-label", `${rpc.name} is not in the RPC list of ${rpc.service}'s metrics`);
    }
    // An RPC with no public door (an exception on REST and GraphQL alike) needs no gateway backend method.
    const internal = pieces.restExceptions[name] !== undefined && pieces.graphqlExceptions[name] !== undefined;
    if (!internal && !pieces.backends[rpc.service]?.includes(rpc.handlerName)) {
      miss(name, "gateway-backend", `the gateway's backend of ${rpc.service} has no ${rpc.handlerName}`);
    }
    const mocked = pieces.grpcMock[rpc.service];
    if (typeof mocked === "string") miss(name, "grpc-mock", `the gRPC mock cannot build its answers: ${mocked}`);
    else if (!mocked?.includes(rpc.name)) miss(name, "grpc-mock", `the gRPC mock has no answers for ${rpc.name}`);

    const operations = pieces.restOperations.filter((op) => op.rpc === name);
    const restException = pieces.restExceptions[name];
    if (operations.length === 0 && restException === undefined) {
      miss(name, "rest-operation", "no REST operation has x-charter-rpc naming it, and it is no listed exception");
    }
    if (operations.length > 0 && restException !== undefined) {
      miss(name, "rest-operation", `listed as an exception, yet operation ${operations[0]?.id} names it`);
    }
    for (const op of operations) {
      if (!op.example) miss(name, "prism-example", `operation ${op.id} has no success example for Prism to answer`);
      if (op.unservable !== undefined) miss(name, "gateway-transcoding", op.unservable);
      if (!handWritten) continue; // the SDK is the users document's
      const method = pieces.sdkMethods[op.id];
      if (method === undefined) miss(name, "sdk-method", `no SDK method is listed for operation ${op.id}`);
      else if (!pieces.sdkClient.includes(method)) miss(name, "sdk-method", `the SDK client has no ${method}()`);
    }

    const fields = pieces.graphqlFields.filter((f) => f.rpc === name);
    const graphqlException = pieces.graphqlExceptions[name];
    if (fields.length === 0 && graphqlException === undefined) {
      miss(name, "graphql-field", "no GraphQL root field has @rpc naming it, and it is no @rpcException");
    }
    if (fields.length > 0 && graphqlException !== undefined) {
      miss(name, "graphql-field", `an @rpcException, yet ${fields[0]?.field} names it`);
    }
    for (const field of fields) {
      if (field.unservable !== undefined) miss(name, "gateway-transcoding", field.unservable);
      if (!pieces.graphqlMock.includes(field.field)) {
        miss(name, "graphql-mock", `the GraphQL mock does not resolve ${field.field}`);
      }
    }

    // A pact interaction over any public door of the RPC; an RPC with no public door has nothing to pact, and a
    // transcoded service's pact (its scaffolded test's) is in pacts/ only once its team puts it there.
    if (handWritten && (operations.length > 0 || fields.length > 0)) {
      const patterns = operations.map((op) => ({ method: op.method, pattern: pathPattern(op.path) }));
      const pacted = pieces.pactInteractions.some(
        (i) =>
          patterns.some((p) => p.method === i.method && p.pattern.test(i.path)) ||
          fields.some((f) => i.graphqlFields.includes(f.field)),
      );
      if (!pacted) {
        const doors = [...operations.map((op) => op.id), ...fields.map((f) => f.field)].join(", ");
        miss(name, "pact", `no interaction in pacts/ exercises ${doors}`);
      }
    }
  }
  return missing;
}

/** Every RPC of every generated service definition under generated/proto/charter (grpc-js `…Service` objects). */
async function rpcsOfGeneratedServices(): Promise<RpcRef[]> {
  const dir = new URL("generated/proto/charter/", root);
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  const rpcs: RpcRef[] = [];
  for (const file of files.sort()) {
    const module = (await import(pathToFileURL(join(dir.pathname, file)).href)) as Record<string, unknown>;
    for (const [exported, value] of Object.entries(module)) {
      if (!exported.endsWith("Service") || typeof value !== "object" || value === null) continue;
      for (const [handlerName, method] of Object.entries(value)) {
        const path = (method as { path?: unknown }).path;
        const match = typeof path === "string" ? /^\/([^/]+)\/([^/]+)$/.exec(path) : null;
        if (match?.[1] && match[2]) rpcs.push({ service: match[1], name: match[2], handlerName });
      }
    }
  }
  return rpcs;
}

const stringArgument = (directive: ConstDirectiveNode, name: string): string | undefined => {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  return arg?.value.kind === Kind.STRING ? (arg.value as StringValueNode).value : undefined;
};

/** The root fields of a GraphQL query document (`Query.user`), aliases seen through. */
function rootFieldsOf(query: string): string[] {
  const document = parse(query);
  return document.definitions
    .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
    .flatMap((op) => {
      const type = op.operation === "mutation" ? "Mutation" : op.operation === "query" ? "Query" : "Subscription";
      return op.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [`${type}.${s.name.value}`] : []));
    });
}

/** What a function throws, or undefined when it returns. */
function problemOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

interface TranscodedService {
  readonly name: string;
  /** Its full proto name: charter.<name>.v1.<Name>Service. */
  readonly service: string;
  readonly document: OpenApiDocument;
  readonly examples: ContractExamples;
  readonly backend: ContractBackend;
  /** Its backend's methods as handler names (getBook). */
  readonly backendMethods: readonly string[];
  /** The keys of its gRPC handler object; none when its transport module has no `create…GrpcHandlers`. */
  readonly handlers: readonly string[];
  /** Its transport module's `…_RPCS` list; none when it has none. */
  readonly labels: readonly string[];
}

/**
 * Every service the gateway serves from its contracts (each other document of contracts/openapi), with its contract
 * backend (never dialled) and the pieces of its transport module, services/<name>/transport/<name>-grpc.ts.
 */
async function loadTranscodedServices(
  rpcs: readonly RpcRef[],
  logger: Logger,
  authorize: GrpcAuthorizer,
): Promise<TranscodedService[]> {
  const handlerNames = new Map(rpcs.map((r) => [fullName(r), r.handlerName]));
  const services: TranscodedService[] = [];
  for (const { name, document } of loadOtherOpenApiDocuments()) {
    const backend = await createContractBackend({ name, target: "127.0.0.1:9", deadlineMs: 100 });
    const transport = new URL(`services/${name}/transport/${name}-grpc.ts`, root);
    const module = existsSync(transport) ? ((await import(transport.href)) as Record<string, unknown>) : {};
    const create = Object.entries(module).find(
      ([key, value]) => /^create\w+GrpcHandlers$/.test(key) && typeof value === "function",
    )?.[1] as ((service: unknown, logger: Logger, authorize: GrpcAuthorizer) => object) | undefined;
    const labels = Object.entries(module).find(([key, value]) => key.endsWith("_RPCS") && Array.isArray(value))?.[1];
    services.push({
      name,
      service: backend.service,
      document,
      examples: loadContractExamples(fileURLToPath(new URL(`contracts/openapi/${name}.v1.yaml`, root))),
      backend,
      backendMethods: backend.methods.map((m) => handlerNames.get(`${backend.service}/${m}`) ?? m),
      // The handlers are listed, never called: no use cases behind them.
      handlers: create ? Object.keys(create({}, logger, authorize)) : [],
      labels: Array.isArray(labels) ? labels.map(String) : [],
    });
  }
  return services;
}

/** The pieces of the real tree. No server is started; the gateway's backends are built and closed at once. */
export async function loadRpcPieces(): Promise<RpcPieces> {
  const logger = createLogger("rpc-completeness", "silent");
  const usersService = createUsersService({
    store: createMemoryUserStore(),
    cache: createMemoryCache({ ttlMs: 1_000, fenceTtlMs: 1_000 }),
    ids: { next: () => "1" },
    logger,
  });
  // The handlers are listed, never called: an authorizer that trusts no key.
  const authorize = createGrpcAuthorizer(createTokenVerifier({ ...authConfig(envReader({})), keys: { keys: [] } }));
  const grpcHandlers = {
    "charter.users.v1.UsersService": Object.keys(createUsersGrpcHandlers(usersService, logger, authorize)),
    "charter.audit.v1.AuditService": Object.keys(
      createAuditGrpcHandlers(
        createMemoryHistoryStore(),
        { erase: async () => ({ erasedEvents: 0, pending: false }) },
        createMemoryLatestStats(),
        logger,
        authorize,
      ),
    ),
  };
  // Nothing listens at port 9: the clients are built for their method names and closed before any call.
  const usersBackend = createUsersBackend({ target: "127.0.0.1:9", deadlineMs: 100 });
  const auditBackend = createAuditBackend({ target: "127.0.0.1:9", deadlineMs: 100 });
  const backends = {
    "charter.users.v1.UsersService": Object.keys(usersBackend),
    "charter.audit.v1.AuditService": Object.keys(auditBackend),
  };
  usersBackend.close();
  auditBackend.close();

  const examples = loadContractExamples();
  // The users document (served by hand-written handlers), then every other service's, served transcoded.
  const rpcs = await rpcsOfGeneratedServices();
  const transcoded = await loadTranscodedServices(rpcs, logger, authorize);
  const restOperations: RestOperationPiece[] = [];
  const restExceptions: Record<string, string> = {};
  for (const { document, examples: documentExamples, service } of [
    { document: loadOpenApiDocument(), examples, service: undefined },
    ...transcoded.map((t) => ({ document: t.document, examples: t.examples, service: t })),
  ]) {
    for (const op of operationsOf(document)) {
      const node = (document.paths[op.path] as Record<string, { "x-charter-rpc"?: unknown }>)[op.method.toLowerCase()];
      const rpc = node?.["x-charter-rpc"];
      let example = false;
      try {
        example = documentExamples.operation(op.id).examples.size > 0;
      } catch {
        example = false;
      }
      const unservable = service ? problemOf(() => transcoder(service.name, document, op, service.backend)) : undefined;
      const marked = typeof rpc === "string" ? rpc : undefined;
      restOperations.push({ id: op.id, method: op.method, path: op.path, rpc: marked, example, unservable });
    }
    const info = document.info as { "x-charter-rpc-exceptions"?: Record<string, string> } | undefined;
    Object.assign(restExceptions, info?.["x-charter-rpc-exceptions"] ?? {});
  }

  const graphqlFields: GraphqlFieldPiece[] = [];
  const graphqlExceptions: Record<string, string> = {};
  const graphqlDir = dirname(GRAPHQL_SCHEMA_FILE);
  const serviceSchemas: ServiceGraphql[] = [];
  for (const file of readdirSync(graphqlDir).filter((f) => f.endsWith(".graphql"))) {
    const sdl = readFileSync(join(graphqlDir, file), "utf8");
    const service = transcoded.find((t) => `${t.name}.graphql` === file);
    if (service) serviceSchemas.push({ name: service.name, sdl, examples: service.examples });
    for (const definition of parse(sdl).definitions) {
      if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
      const type = definition as ObjectTypeDefinitionNode;
      if (type.name.value !== "Query" && type.name.value !== "Mutation") continue;
      for (const directive of type.directives ?? []) {
        if (directive.name.value !== "rpcException") continue;
        const method = stringArgument(directive, "method");
        if (method) graphqlExceptions[method] = stringArgument(directive, "reason") ?? "";
      }
      for (const field of type.fields ?? []) {
        const rpc = field.directives?.find((d) => d.name.value === "rpc");
        const unservable = service
          ? problemOf(() => contractResolver({ ...service, sdl }, type.name.value, field))
          : undefined;
        graphqlFields.push({
          field: `${type.name.value}.${field.name.value}`,
          rpc: rpc ? stringArgument(rpc, "method") : undefined,
          unservable,
        });
      }
    }
  }
  for (const t of transcoded) t.backend.close();

  const grpcMock: Record<string, readonly string[] | string> = {};
  for (const service of MOCKED_SERVICES) {
    try {
      grpcMock[service.name] = [...buildGrpcAnswers(examples, service).keys()];
    } catch (error) {
      grpcMock[service.name] = error instanceof Error ? error.message : String(error);
    }
  }
  // Every other service's gRPC mock, built from its contracts as npm run mock builds it.
  for (const t of transcoded) {
    try {
      const mocked = await contractMock(t.name, fileURLToPath(new URL(`contracts/openapi/${t.name}.v1.yaml`, root)));
      grpcMock[t.service] = [...buildGrpcAnswers(t.examples, mocked).keys()];
    } catch (error) {
      grpcMock[t.service] = error instanceof Error ? error.message : String(error);
    }
  }
  const mockResolvers = createGraphqlMockResolvers(examples) as Record<string, Record<string, unknown>>;
  const graphqlMock = Object.entries(mockResolvers).flatMap(([type, fields]) =>
    Object.keys(fields).map((field) => `${type}.${field}`),
  );
  // Each other service's root fields the GraphQL mock resolves (the check names each it does not).
  for (const schema of serviceSchemas) {
    for (const { type, field } of schemaRootFields(schema.sdl)) {
      if (problemOf(() => serviceFieldResolver(schema, type, field)) === undefined) {
        graphqlMock.push(`${type}.${field.name.value}`);
      }
    }
  }

  const client = createUsersClient({ baseUrl: "http://127.0.0.1:9" }) as unknown as Record<string, unknown>;
  const sdkClient = Object.keys(client).filter((key) => typeof client[key] === "function");

  const pactInteractions: PactInteractionPiece[] = [];
  for (const pact of readdirSync(PACTS_DIR).filter((f) => f.endsWith(".json"))) {
    const content = JSON.parse(readFileSync(join(PACTS_DIR, pact), "utf8")) as {
      interactions?: { description: string; request?: { method: string; path: string; body?: unknown } }[];
    };
    for (const interaction of content.interactions ?? []) {
      const request = interaction.request;
      if (!request) continue; // a message interaction: no HTTP door
      const body = request.body as { content?: { query?: unknown } } | undefined;
      const query = body?.content?.query;
      pactInteractions.push({
        pact,
        description: interaction.description,
        method: request.method.toUpperCase(),
        path: request.path,
        graphqlFields: typeof query === "string" ? rootFieldsOf(query) : [],
      });
    }
  }

  const of = <T>(pick: (t: TranscodedService) => T) => Object.fromEntries(transcoded.map((t) => [t.service, pick(t)]));
  return {
    rpcs,
    transcoded: transcoded.map((t) => t.service),
    grpcHandlers: { ...grpcHandlers, ...of((t) => t.handlers) },
    rpcLabels: {
      "charter.users.v1.UsersService": [...USERS_RPCS],
      "charter.audit.v1.AuditService": [...AUDIT_RPCS],
      ...of((t) => t.labels),
    },
    backends: { ...backends, ...of((t) => t.backendMethods) },
    restOperations,
    restExceptions,
    graphqlFields,
    graphqlExceptions,
    grpcMock,
    graphqlMock,
    sdkMethods: { ...SDK_METHODS },
    sdkClient,
    pactInteractions,
  };
}
