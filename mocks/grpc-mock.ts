/**
 * The gRPC mock of charter.users.v1.UsersService and charter.audit.v1.AuditService on one port: every
 * RPC answers from example messages built from the OpenAPI document's examples (see mocks/grpc/*.yaml),
 * with health and reflection on the same port. Every other service (contractMock) joins them there, answering from
 * its own document's examples, its RPC definitions read from the operations' `x-charter-rpc`. Per call, metadata
 * `prefer: code=NOT_FOUND` or `prefer: example=<name>` picks the answer, like Prism's Prefer header. A request that
 * breaks the proto's field rules is INVALID_ARGUMENT with a google.rpc.BadRequest listing each field, whatever it
 * prefers. An RPC that needs scopes (generated/proto/method-rules.ts) needs `authorization: Bearer
 * <token>` metadata with a JWT-shaped token, else it is UNAUTHENTICATED as the services answer it; the mock
 * verifies no signature and no scope, so any well-formed token will do (no issuer needed). In the stateful mode the
 * RPCs answer from the shared store; in the replay mode from the recorded gRPC calls (recording.ts), each answer
 * still checked against the proto.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type {
  Metadata,
  ServerUnaryCall,
  ServiceDefinition,
  ServiceError,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { parse } from "yaml";
import * as auditMessages from "../generated/proto/charter/audit/v1/audit.js";
import * as usersMessages from "../generated/proto/charter/users/v1/users.js";
import { serviceModules } from "../generated/proto/service-modules.js";
import { scopesOfMethod } from "../platform/auth/scopes.js";
import { AuthError, bearerToken } from "../platform/auth/token-verifier.js";
import { AppError, type Code, type FieldViolation, grpcStatusOf, invalidArgument } from "../platform/errors.js";
import { errorDomainOf, toServiceError } from "../platform/grpc-handlers.js";
import { startGrpcServer } from "../platform/grpc-server.js";
import type { Logger } from "../platform/logging.js";
import { rulesOf } from "../platform/rules/field-rules.js";
import { capitalized, verbOf } from "../platform/service-names.js";
import {
  type ContractExamples,
  isCode,
  loadContractExamples,
  type Problem,
  protoPathOfPointer,
} from "./contract-examples.js";
import { defaultPageSize, inputOf } from "./entity-service.js";
import { delay, type FaultInjector, faultError } from "./faults.js";
import { serviceErrorOf } from "./grpc-status.js";
import { type Actor, actorOf, type Entity, type EntityStore, type MockStore, type User } from "./mock-store.js";
import { PreferError, type Preference, parsePrefer, pickExample } from "./prefer.js";
import { createProtoChecker, type ProtoChecker, type ServiceMethod } from "./proto-checker.js";
import type { Replay } from "./recording.js";

type MessageCodec = usersMessages.MessageFns<unknown>;
type Json = { [key: string]: unknown };

/** A service the mock serves: its proto, its generated definition and codecs, and what its RPCs answer. */
export interface MockedService {
  /** The proto file, relative to contracts/proto. */
  readonly proto: string;
  /** The full service name, e.g. charter.users.v1.UsersService. */
  readonly name: string;
  readonly definition: ServiceDefinition;
  /** The generated module of the proto file: a codec per message, by short name. */
  readonly codecs: Readonly<Record<string, unknown>>;
  /** Where its RPC definitions are: a YAML file (see mocks/grpc/users-service.yaml), or the OpenAPI document. */
  readonly definitionsFile: string;
  /** Its RPC definitions when they are read from its own contract (definitionsOfContract), not from a YAML file. */
  readonly definitions?: Readonly<Record<string, RpcDefinition>>;
  /**
   * The examples of a service with a contract of its own (contracts/openapi/<name>.v1.yaml): it answers from them
   * and the configured faults of its operations, without the users mock's store or replay.
   */
  readonly examples?: ContractExamples;
}

/** A service of contracts/proto with its generated module, answering as mocks/grpc/<file> says. */
const mocked = (proto: string, name: string, definition: object, codecs: object, file: string): MockedService => ({
  proto,
  name,
  definition: definition as ServiceDefinition,
  codecs: codecs as Record<string, unknown>,
  definitionsFile: fileURLToPath(new URL(`./grpc/${file}`, import.meta.url)),
});

export const USERS_MOCK = mocked(
  "charter/users/v1/users.proto",
  "charter.users.v1.UsersService",
  usersMessages.UsersServiceService,
  usersMessages,
  "users-service.yaml",
);

export const AUDIT_MOCK = mocked(
  "charter/audit/v1/audit.proto",
  "charter.audit.v1.AuditService",
  auditMessages.AuditServiceService,
  auditMessages,
  "audit-service.yaml",
);

/** Every service the mock serves. */
export const MOCKED_SERVICES: readonly MockedService[] = [USERS_MOCK, AUDIT_MOCK];

interface RpcDefinition {
  readonly operation?: string;
  readonly body?: string;
  readonly examples?: Record<string, unknown>;
  readonly errors?: readonly string[];
  /** The problems of an RPC with no REST operation, when read from the contract rather than named in `errors`. */
  readonly problems?: ReadonlyMap<Code, Problem>;
  readonly prefix?: string;
  readonly reasons?: Record<string, string>;
  readonly required?: readonly string[];
  readonly partial?: readonly string[];
}

/** One RPC's answers, built and checked at start. */
interface RpcAnswers {
  readonly method: ServiceMethod;
  /** The REST operation it mirrors (faults are configured by it), if any. */
  readonly operation?: string;
  /** A response in its REST form as the RPC's response message, checked against the proto (INTERNAL if it breaks it). */
  readonly toMessage: (body: unknown) => unknown;
  /** A response message in protobuf JSON as the RPC's response message, checked the same way. */
  readonly responseOf: (json: unknown) => unknown;
  /** The request in its proto3 JSON form. */
  readonly requestJson: (request: unknown) => Json;
  /** Response messages by example name, in their generated TypeScript form. */
  readonly examples: ReadonlyMap<string, unknown>;
  readonly errors: ReadonlyMap<Code, AppError>;
  /** Everything wrong with a request (in its generated TypeScript form) under the proto's field rules. */
  readonly checkRequest: (request: unknown) => FieldViolation[];
}

/** The generated codec of one of the service's messages, by its full name (protobuf JSON ↔ message). */
export function messageCodecOf(service: MockedService, fullName: string): MessageCodec {
  const codec = (service.codecs as Record<string, MessageCodec | undefined>)[
    fullName.slice(fullName.lastIndexOf(".") + 1)
  ];
  if (!codec) throw new Error(`generated/proto has no codec for ${fullName}: run npm run generate`);
  return codec;
}

/**
 * Reads a service's RPC definitions, builds every example message and error, and checks each
 * against the proto. Throws one error naming every example or definition that does not fit.
 */
export function buildGrpcAnswers(
  examples: ContractExamples,
  service: MockedService = USERS_MOCK,
  file: string = service.definitionsFile,
): Map<string, RpcAnswers> {
  const codecOf = (fullName: string) => messageCodecOf(service, fullName);
  const checker = createProtoChecker(service.proto, service.name);
  const definitions =
    service.definitions && file === service.definitionsFile
      ? service.definitions
      : (parse(readFileSync(file, "utf8")) as Record<string, RpcDefinition> | null);
  const problems: string[] = [];
  const answers = new Map<string, RpcAnswers>();
  const rpcNames = new Set(checker.methods.map((m) => m.name));
  for (const name of Object.keys(definitions ?? {})) {
    if (!rpcNames.has(name)) problems.push(`${name}: ${service.name} has no such RPC`);
  }

  for (const method of checker.methods) {
    const where = `${file} ${method.name}`;
    const definition = definitions?.[method.name];
    if (!definition) {
      problems.push(`${where}: missing (every RPC of ${service.proto} needs its examples)`);
      continue;
    }
    try {
      const response = codecOf(method.responseType);
      const bodies = new Map<string, unknown>();
      const problemsByCode = new Map<Code, Problem>();
      if (definition.operation !== undefined) {
        const operation = examples.operation(definition.operation);
        const body = definition.body ?? ".";
        for (const [exampleName, value] of operation.examples) {
          bodies.set(exampleName, body === "." ? (value ?? {}) : { [body]: value });
        }
        for (const [code, problem] of operation.problems) problemsByCode.set(code, problem);
      } else {
        for (const [exampleName, value] of Object.entries(definition.examples ?? {})) {
          bodies.set(exampleName, examples.resolve(value));
        }
        for (const responseName of definition.errors ?? []) {
          const problem = examples.problem(responseName);
          if (!problemsByCode.has(problem.code)) problemsByCode.set(problem.code, problem);
        }
        for (const [code, problem] of definition.problems ?? []) problemsByCode.set(code, problem);
      }
      if (bodies.size === 0) problems.push(`${where}: no examples (set operation or examples)`);

      const messages = new Map<string, unknown>();
      for (const [exampleName, body] of bodies) {
        const json = checker.toProtoJson(method.responseType, body);
        const violations = checker.check(method.responseType, json, "response");
        if (violations.length > 0) {
          problems.push(
            `${where} example "${exampleName}" is not a valid ${method.responseType}: ${violations
              .map((v) => `${v.field} ${v.description}`)
              .join("; ")}`,
          );
          continue;
        }
        messages.set(exampleName, response.fromJSON(json));
      }

      for (const code of Object.keys(definition.reasons ?? {})) {
        if (!isCode(code) || !problemsByCode.has(code)) {
          problems.push(`${where}: reason for ${code}, which is not one of its errors (${[...problemsByCode.keys()]})`);
        }
      }
      const errors = new Map<Code, AppError>();
      for (const [code, problem] of problemsByCode) {
        const fieldViolations: FieldViolation[] = (problem.errors ?? []).map((e) => ({
          field: protoPathOfPointer(e.field, definition.prefix ?? ""),
          description: e.message,
        }));
        const reason = definition.reasons?.[code];
        errors.set(
          code,
          new AppError(code, problem.detail ?? problem.title, {
            ...(fieldViolations.length > 0 ? { fieldViolations } : {}),
            ...(reason ? { reason } : {}),
          }),
        );
      }
      const request = codecOf(method.requestType);
      const needs = { required: definition.required ?? [], partial: definition.partial ?? [] };
      const body = definition.body ?? ".";
      const responseOf = (json: unknown) => {
        const violations = checker.check(method.responseType, json, "response");
        if (violations.length > 0) {
          throw new AppError(
            "INTERNAL",
            `the mock's answer breaks the proto: ${violations.map((v) => `${v.field} ${v.description}`).join("; ")}`,
          );
        }
        return response.fromJSON(json);
      };
      answers.set(method.name, {
        method,
        ...(definition.operation !== undefined ? { operation: definition.operation } : {}),
        toMessage: (value) =>
          responseOf(checker.toProtoJson(method.responseType, body === "." ? value : { [body]: value })),
        responseOf,
        requestJson: (value) => request.toJSON(value) as Json,
        examples: messages,
        errors,
        checkRequest: (value) => checker.check(method.requestType, request.toJSON(value), "request", needs),
      });
    } catch (error) {
      problems.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) throw new Error(`bad gRPC mock examples: ${problems.join("; ")}`);
  return answers;
}

/**
 * The RPC definitions of a service with a contract of its own, read from it as mocks/grpc/users-service.yaml writes
 * them by hand: each RPC answers with the examples and problems of the operation whose `x-charter-rpc` names it. The
 * REST body is the response message's one message field when it has only that (GetBookResponse.book), else the
 * message itself; a request field of that field's type holds the REST body's fields (`book.name`) and is required,
 * and with a FieldMask beside it (an update) it may be partial and needs its id. An RPC no operation names (an
 * `x-charter-rpc-exceptions` entry) answers a list of the first example of its items' type (`found`) or none
 * (`none`), with the problems every operation documents.
 */
export function definitionsOfContract(
  service: string,
  examples: ContractExamples,
  checker: ProtoChecker,
): Record<string, RpcDefinition> {
  const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const definitions: Record<string, RpcDefinition> = {};
  /** The first example of each message type an RPC answers as its body. */
  const firstOfType = new Map<string, unknown>();
  for (const method of checker.methods) {
    const route = examples.routes.find((r) => r.rpc === `${service}/${method.name}`);
    if (!route) continue;
    const fields = checker.fields(method.responseType);
    const only = fields.length === 1 ? fields[0] : undefined;
    const body = only?.messageType && !only.repeated ? only : undefined;
    const requestFields = checker.fields(method.requestType);
    const entity = body && requestFields.find((f) => !f.repeated && f.messageType === body.messageType);
    const partial = requestFields.some((f) => f.messageType === "google.protobuf.FieldMask");
    const hasId = body?.messageType !== undefined && checker.fields(body.messageType).some((f) => f.name === "id");
    const prefix = entity ? snake(entity.name) : undefined;
    definitions[method.name] = {
      operation: route.operationId,
      body: body?.name ?? ".",
      ...(prefix
        ? {
            prefix,
            required: partial && hasId ? [prefix, `${prefix}.id`] : [prefix],
            ...(partial ? { partial: [prefix] } : {}),
          }
        : {}),
    };
    if (body?.messageType && !firstOfType.has(body.messageType)) {
      firstOfType.set(body.messageType, examples.operation(route.operationId).examples.values().next().value);
    }
  }
  const perOperation = examples.routes.map((r) => examples.operation(r.operationId).problems);
  const common = new Map(
    [...(perOperation[0] ?? [])].filter(([code]) => perOperation.every((problems) => problems.has(code))),
  );
  for (const method of checker.methods) {
    if (definitions[method.name]) continue;
    const list = checker
      .fields(method.responseType)
      .find((f) => f.repeated && f.messageType !== undefined && firstOfType.has(f.messageType));
    definitions[method.name] = {
      examples: {
        ...(list?.messageType ? { found: { [list.name]: [firstOfType.get(list.messageType)] } } : {}),
        none: {},
      },
      problems: common,
    };
  }
  return definitions;
}

/**
 * The gRPC mock of another service (contracts/openapi/<name>.v1.yaml, contracts/proto/charter/<name>/v1), with no
 * code of its own: its generated module loaded by name (generated/proto/service-modules.ts, as the gateway's
 * contract backend loads it), its RPCs answering from its OpenAPI document's examples.
 */
export async function contractMock(
  name: string,
  openapiFile: string,
  examples: ContractExamples = loadContractExamples(openapiFile),
): Promise<MockedService> {
  const load = Object.hasOwn(serviceModules, name) ? serviceModules[name] : undefined;
  if (!load) throw new Error(`generated/proto/charter/${name}/v1/${name}.ts does not exist: run npm run generate`);
  const module = await load();
  const short = `${capitalized(name)}Service`;
  const definition = module[`${short}Service`];
  if (!definition) throw new Error(`generated/proto/charter/${name}/v1 has no ${short}`);
  const proto = `charter/${name}/v1/${name}.proto`;
  const serviceName = `charter.${name}.v1.${short}`;
  return {
    proto,
    name: serviceName,
    definition: definition as ServiceDefinition,
    codecs: module,
    definitionsFile: openapiFile,
    definitions: definitionsOfContract(serviceName, examples, createProtoChecker(proto, serviceName)),
    examples,
  };
}

const preferenceOf = (metadata: Metadata): Preference =>
  parsePrefer(metadata.get("prefer").filter((v): v is string => typeof v === "string"));

/**
 * Refuses a call without a well-formed bearer token in its `authorization` metadata, as the services do: the
 * same code and message, whatever was wrong with it (the reason is for the log only).
 */
function requireToken(metadata: Metadata): void {
  const values = metadata.get("authorization");
  const header = values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
  try {
    bearerToken(values.length > 1 ? "several" : header);
  } catch (error) {
    if (error instanceof AuthError) throw new AppError("UNAUTHENTICATED", error.message);
    throw error;
  }
}

/** An RPC of the stateful mode: the request (proto3 JSON) and the caller → the response body in its REST form. */
type StatefulRpc = (request: Json, actor: Actor) => unknown;

const pageSizeRule = rulesOf("charter.users.v1.ListUsersRequest").pageSize;
const pageOf = <T>(page: { items: readonly T[]; nextPageToken?: string }, key: string) => ({
  [key]: page.items,
  ...(page.nextPageToken !== undefined ? { nextPageToken: page.nextPageToken } : {}),
});
const DEFAULT_PAGE_SIZE = Number(pageSizeRule.defaultValue);
const pageSize = (request: Json) => (request.pageSize as number | undefined) ?? DEFAULT_PAGE_SIZE;
const pageToken = (request: Json) => (request.pageToken as string | undefined) || undefined;
/** A create's request_id (REST: Idempotency-Key), when it has one. */
const createKeyOf = (request: Json) =>
  typeof request.requestId === "string" && request.requestId !== "" ? request.requestId : undefined;

/** The RPCs that read and write the shared store, by name; the others answer from their examples. */
export function statefulRpcs(store: MockStore): Readonly<Record<string, StatefulRpc>> {
  return {
    GetUser: (r) => store.get(String(r.id)),
    LookupUser: (r) => store.lookup(String(r.email)),
    BatchGetUsers: (r) => ({ users: store.batchGet((r.ids as string[] | undefined) ?? []) }),
    ListUsers: (r) => pageOf(store.list(pageSize(r), pageToken(r)), "users"),
    CreateUser: (r, actor) => {
      const user = r.user as User;
      return store.create({ name: user.name, email: user.email }, actor, createKeyOf(r));
    },
    UpdateUser: (r, actor) => {
      const user = r.user as Partial<User> & { id: string };
      const mask = typeof r.updateMask === "string" && r.updateMask !== "" ? r.updateMask.split(",") : undefined;
      const wanted = (field: "name" | "email") => (mask ? mask.includes(field) : user[field] !== undefined);
      const change = {
        ...(wanted("name") ? { name: user.name ?? "" } : {}),
        ...(wanted("email") ? { email: user.email ?? "" } : {}),
      };
      return store.update(user.id, change, user.etag || undefined, actor);
    },
    DeleteUser: (r, actor) => {
      store.delete(String(r.id), (r.etag as string | undefined) || undefined, actor);
      return {};
    },
    ListUserHistory: (r) => pageOf(store.history(String(r.userId), pageSize(r), pageToken(r)), "events"),
  };
}

/**
 * The RPCs of an entity service over its store (the stateful mode of a service with a contract of its own), by
 * verb: Get, List (`collection` is the response's list), Create (the request's entity; request_id), Update (the
 * entity's fields the update_mask names, or all it sets; its etag), Delete (etag), BatchGet.
 */
export function entityRpcs(
  service: MockedService,
  store: EntityStore<Entity>,
  collection: string,
): Readonly<Record<string, StatefulRpc>> {
  const entityOf = (request: Json) =>
    (Object.values(request).find((v) => typeof v === "object" && v !== null && !Array.isArray(v)) ?? {}) as Json;
  const rpcs: Record<string, StatefulRpc> = {};
  for (const { path } of Object.values(service.definition)) {
    const rpc = path.slice(1);
    const method = rpc.slice(rpc.indexOf("/") + 1);
    switch (verbOf(rpc)) {
      case "Get":
        rpcs[method] = (r) => store.get(String(r.id));
        break;
      case "BatchGet":
        rpcs[method] = (r) => ({ [collection]: store.batchGet((r.ids as string[] | undefined) ?? []) });
        break;
      case "List": {
        const byDefault = defaultPageSize(rpc);
        rpcs[method] = (r) =>
          pageOf(store.list((r.pageSize as number | undefined) ?? byDefault, pageToken(r)), collection);
        break;
      }
      case "Create":
        rpcs[method] = (r, actor) => store.create(inputOf(entityOf(r)), actor, createKeyOf(r));
        break;
      case "Update":
        rpcs[method] = (r, actor) => {
          const entity = entityOf(r);
          const mask = typeof r.updateMask === "string" && r.updateMask !== "" ? r.updateMask.split(",") : undefined;
          // A field the mask names but the request leaves out is set to its proto default, as the service sets it.
          const change = inputOf(mask ? Object.fromEntries(mask.map((f) => [f, entity[f] ?? ""])) : entity);
          return store.update(String(entity.id), change, (entity.etag as string | undefined) || undefined, actor);
        };
        break;
      case "Delete":
        rpcs[method] = (r, actor) => {
          store.delete(String(r.id), (r.etag as string | undefined) || undefined, actor);
          return {};
        };
        break;
    }
  }
  return rpcs;
}

/** What the mock adds to every call: the stateful mode's handlers or the replay's answers, and the configured faults. */
interface Behaviour {
  readonly stateful?: StatefulRpc;
  /** The replay mode: the recorded answer to this request (protobuf JSON), found by `<service>/<RPC>`. */
  readonly replay?: { readonly recording: Replay; readonly method: string };
  readonly faults?: FaultInjector;
}

/** A recorded error status, replayed as it was recorded (its details encoded as the service encoded them). */
class ReplayedStatus extends Error {
  constructor(readonly serviceError: Partial<ServiceError>) {
    super(serviceError.details);
  }
}

/**
 * The replay mode's answer: the recorded answer to this call, its masks turned back into the caller's addresses, a
 * response message checked against the proto (INTERNAL if it breaks it), an error status as it was recorded; a call
 * the recording does not hold is INVALID_ARGUMENT saying so.
 */
function replayed(rpc: RpcAnswers, request: unknown, replay: NonNullable<Behaviour["replay"]>): unknown {
  const recorded = replay.recording.answerRpc(replay.method, rpc.requestJson(request));
  if (recorded === undefined) {
    const where = `${replay.method} in ${replay.recording.dir}`;
    throw new AppError(
      "INVALID_ARGUMENT",
      `no recorded interaction matches this call of ${where}: a replay answers only the calls it recorded, in their order`,
      { fieldViolations: [{ field: "(message)", description: `matches no recorded call of ${where}` }] },
    );
  }
  if (typeof recorded === "object" && recorded !== null && "status" in recorded) {
    throw new ReplayedStatus(serviceErrorOf(recorded.status));
  }
  return rpc.responseOf((recorded as { message?: unknown } | null)?.message);
}

/**
 * Answers one call: no token where the RPC needs one, then a contract-breaking request, then the preferred delay,
 * then a configured fault, then the preferred code, then the store's answer (stateful mode) or the preferred or
 * first example.
 */
async function answer(
  rpc: RpcAnswers,
  request: unknown,
  metadata: Metadata,
  needsToken: boolean,
  behaviour: Behaviour,
): Promise<unknown> {
  if (needsToken) requireToken(metadata);
  const violations = rpc.checkRequest(request);
  if (violations.length > 0) throw invalidArgument(violations);
  let preference: Preference;
  try {
    preference = preferenceOf(metadata);
  } catch (error) {
    throw invalidArgument([{ field: "prefer", description: (error as Error).message }]);
  }
  await delay(preference.delay);
  const fault = rpc.operation !== undefined ? behaviour.faults?.draw(rpc.operation) : undefined;
  if (fault) throw rpc.errors.get(fault.code) ?? faultError(fault);
  if (behaviour.replay) return replayed(rpc, request, behaviour.replay);
  const code = preference.code;
  if (code !== undefined && code !== "OK" && code !== "0") {
    const error =
      rpc.errors.get(code as Code) ?? [...rpc.errors.values()].find((e) => String(grpcStatusOf[e.code]) === code);
    if (!error) {
      throw invalidArgument([
        {
          field: "prefer",
          description: `${rpc.method.name} documents no ${code} error; it answers OK, ${[...rpc.errors.keys()].join(", ")}`,
        },
      ]);
    }
    throw error;
  }
  if (behaviour.stateful) {
    const header = metadata.get("authorization")[0];
    return rpc.toMessage(behaviour.stateful(rpc.requestJson(request), actorOf(String(header ?? ""))));
  }
  try {
    return pickExample(rpc.examples, preference, rpc.method.name);
  } catch (error) {
    if (error instanceof PreferError) throw invalidArgument([{ field: "prefer", description: error.message }]);
    throw error;
  }
}

export interface GrpcMockOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly examples: ContractExamples;
  /** Default: every service of MOCKED_SERVICES. */
  readonly services?: readonly MockedService[];
  /** The stateful mode: the store the RPCs that have a stateful handler read and write. */
  readonly store?: MockStore;
  /** The replay mode: the recording every RPC answers from. */
  readonly replay?: Replay;
  readonly faults?: FaultInjector;
  /**
   * The stateful mode of the services with a contract of their own: each one's store and the name of its lists
   * (`books`), by the service's full name.
   */
  readonly serviceStores?: ReadonlyMap<string, { readonly store: EntityStore<Entity>; readonly collection: string }>;
}

export interface GrpcMock {
  readonly port: number;
  stop(): Promise<void>;
}

/** The service's RPCs as grpc-js handlers that answer from its examples. */
function implementationOf(
  service: MockedService,
  examples: ContractExamples,
  logger: Logger,
  modes: Pick<GrpcMockOptions, "store" | "replay" | "faults" | "serviceStores">,
) {
  // A service with a contract of its own answers from its store in the stateful mode, else from its examples (and
  // the faults of its operations either way).
  const extras = service.examples ? (modes.faults ? { faults: modes.faults } : {}) : modes;
  const own = service.examples ? modes.serviceStores?.get(service.name) : undefined;
  const stateful = own
    ? entityRpcs(service, own.store, own.collection)
    : "store" in extras && extras.store
      ? statefulRpcs(extras.store)
      : {};
  // Errors name their service's domain as the service itself does. Their field violations are proto paths
  // already (the proto checker's, the definitions' prefix), which the default field mapping keeps as they are.
  const errorOptions = { domain: errorDomainOf(service.name) };
  const implementation: UntypedServiceImplementation = {};
  for (const rpc of buildGrpcAnswers(service.examples ?? examples, service).values()) {
    const needsToken = (scopesOfMethod(`${service.name}/${rpc.method.name}`) ?? []).length > 0;
    implementation[rpc.method.handlerName] = (
      call: ServerUnaryCall<unknown, unknown>,
      done: sendUnaryData<unknown>,
    ) => {
      const behaviour: Behaviour = {
        ...(stateful[rpc.method.name] ? { stateful: stateful[rpc.method.name] } : {}),
        ...(extras.replay
          ? { replay: { recording: extras.replay, method: `${service.name}/${rpc.method.name}` } }
          : {}),
        ...(extras.faults ? { faults: extras.faults } : {}),
      };
      answer(rpc, call.request, call.metadata, needsToken, behaviour).then(
        (response) => {
          logger.debug({ rpc: rpc.method.name }, "mock answered OK");
          done(null, response);
        },
        (error: unknown) => {
          if (error instanceof ReplayedStatus) return done(error.serviceError);
          const appError = error instanceof AppError ? error : new AppError("INTERNAL", "internal error");
          if (!(error instanceof AppError)) logger.error({ err: error, rpc: rpc.method.name }, "mock failed");
          logger.debug({ rpc: rpc.method.name, code: appError.code }, "mock answered an error");
          done(toServiceError(appError, errorOptions));
        },
      );
    };
  }
  return { definition: service.definition, implementation };
}

export async function startGrpcMock(opts: GrpcMockOptions): Promise<GrpcMock> {
  const services = opts.services ?? MOCKED_SERVICES;
  const server = await startGrpcServer({
    host: opts.host,
    port: opts.port,
    services: services.map((service) => implementationOf(service, opts.examples, opts.logger, opts)),
    reflect: services.map((service) => service.proto),
    logger: opts.logger,
  });
  server.setStatus("", "SERVING");
  for (const service of services) server.setStatus(service.name, "SERVING");
  return { port: server.port, stop: () => server.stop(2000) };
}
