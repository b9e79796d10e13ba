/**
 * Checks that the proto, OpenAPI, GraphQL and AsyncAPI contracts describe the same messages: the
 * User, the UserEvent and the UserStats have the same fields (snake_case in proto, camelCase elsewhere), types,
 * required-ness and limits everywhere they appear (the OpenAPI schemas, the GraphQL types, the
 * AsyncAPI payloads of the user events and user stats channels), enum values agree by buf's naming (proto and
 * AsyncAPI `USER_EVENT_TYPE_CREATED`, REST and GraphQL `CREATED`), request parameters have the
 * limits of the RPC fields they become, and the error codes are the same. Returns every
 * disagreement as a readable line.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildSchema,
  type ConstArgumentNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  valueFromASTUntyped,
} from "graphql";
import { parse as parseYaml } from "yaml";
import { userEventChannels } from "../../generated/asyncapi/users-events.js";
import { capitalized, otherServiceNames, singularOf } from "../../platform/service-names.js";
import {
  charterMessages,
  charterMethodScopes,
  type FieldRulesJson,
  loadProtoDescriptor,
  type ProtoField,
  type ProtoFile,
  type ProtoMessage,
  repoRoot,
} from "./proto-descriptor.js";

type Schema = {
  $ref?: string;
  type?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  "x-pattern-message"?: string;
  minimum?: number;
  maximum?: number;
  default?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  enum?: string[];
  schema?: Schema;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  name?: string;
  in?: string;
};
export interface OpenApiOperation {
  operationId?: string;
  parameters?: Schema[];
  "x-charter-rpc"?: string;
  security?: Record<string, string[]>[];
}

export interface OpenApiDoc {
  components: {
    schemas: Record<string, Schema>;
    parameters: Record<string, Schema>;
    securitySchemes?: Record<string, { type?: string; flows?: Record<string, { scopes?: Record<string, string> }> }>;
  };
  paths: Record<string, Record<string, OpenApiOperation>>;
}

export interface AsyncApiDoc {
  channels: Record<string, { address?: string; messages?: Record<string, AsyncApiMessage> }>;
  components: { schemas: Record<string, Schema>; messages?: Record<string, AsyncApiMessage> };
}

interface AsyncApiMessage {
  $ref?: string;
  payload?: Schema;
  headers?: Schema;
  bindings?: { kafka?: { key?: Schema } };
}

export interface ProtoEnum {
  name: string;
  value: { name: string; number: number }[];
}

export interface Contracts {
  proto: Map<string, ProtoMessage>;
  /** Every enum of the charter packages by full name, e.g. "charter.users.v1.UserEventType". */
  protoEnums: Map<string, ProtoEnum>;
  /** The scopes of every RPC's (charter.contract.v1.method) option, by full gRPC method name. */
  protoScopes: Map<string, string[]>;
  openapi: OpenApiDoc;
  graphql: GraphQLSchema;
  asyncapi: AsyncApiDoc;
}

/** The Kafka topic of the user events (the AsyncAPI channel's address). */
export const USER_EVENTS_TOPIC = userEventChannels.userEvents;
/** The Kafka topic of the user stats (the AsyncAPI channel's address). */
export const USER_STATS_TOPIC = userEventChannels.userStats;

export function loadContracts(): Contracts {
  const files = loadProtoDescriptor();
  const protoEnums = new Map<string, ProtoEnum>();
  for (const file of files as (ProtoFile & { enumType?: ProtoEnum[] })[]) {
    if (!file.package.startsWith("charter.")) continue;
    for (const e of file.enumType ?? []) protoEnums.set(`${file.package}.${e.name}`, e);
  }
  const yaml = (path: string): unknown => parseYaml(readFileSync(`${repoRoot}${path}`, "utf8"));
  return {
    proto: charterMessages(files),
    protoEnums,
    protoScopes: charterMethodScopes(files),
    openapi: yaml("contracts/openapi/users.v1.yaml") as OpenApiDoc,
    graphql: buildSchema(readFileSync(`${repoRoot}contracts/graphql/users.graphql`, "utf8")),
    asyncapi: yaml("contracts/asyncapi/users-events.yaml") as AsyncApiDoc,
  };
}

interface Limits {
  minLength?: number | undefined;
  maxLength?: number | undefined;
  pattern?: string | undefined;
  /** What a refused pattern is told: proto's pattern_message, OpenAPI's and AsyncAPI's x-pattern-message. */
  patternMessage?: string | undefined;
  format?: string | undefined;
  minimum?: number | undefined;
  maximum?: number | undefined;
}

const clean = (l: Limits): Limits =>
  Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined && v !== 0 && v !== "")) as Limits;

/** The limits a proto field's rules state, in OpenAPI's words. int64 is the id's carrier, not a format. */
function protoLimits(r: FieldRulesJson | undefined, withFormat: boolean): Limits {
  return clean({
    minLength: r?.minLen,
    maxLength: r?.maxLen,
    pattern: r?.pattern,
    patternMessage: r?.patternMessage,
    format: withFormat && r?.format !== "int64" ? r?.format : undefined,
    minimum: r?.minimum === undefined ? undefined : Number(r.minimum),
    maximum: r?.maximum === undefined ? undefined : Number(r.maximum),
  });
}

const rulesOfField = (field: ProtoField): FieldRulesJson | undefined => field.options?.["[charter.contract.v1.field]"];

/** Whether a message a service sends always has the field: it is required, or set by the server (output-only). */
const alwaysSet = (field: ProtoField): boolean =>
  rulesOfField(field)?.required === true || rulesOfField(field)?.outputOnly === true;

const TIMESTAMP = ".google.protobuf.Timestamp";
const shortName = (fullName: string): string => fullName.slice(fullName.lastIndexOf(".") + 1);

/** The prefix buf's ENUM_VALUE_PREFIX rule gives an enum's values: USER_EVENT_TYPE_ for UserEventType. */
const enumValuePrefix = (enumName: string): string =>
  `${shortName(enumName)
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase()}_`;

/**
 * The values of a proto enum as JSON carries them, the zero value (UNSPECIFIED, never sent) aside: by their proto
 * names (proto3 JSON, the Kafka payload), or without the enum's prefix (REST, GraphQL).
 */
export function enumValueNames(protoEnum: ProtoEnum, style: "proto" | "short"): string[] {
  const prefix = enumValuePrefix(protoEnum.name);
  return protoEnum.value
    .filter((v) => v.number !== 0)
    .map((v) => (style === "proto" || !v.name.startsWith(prefix) ? v.name : v.name.slice(prefix.length)));
}

/**
 * An int64's JSON carrier, a decimal string, as the proto's range makes it: its pattern and length. Undefined
 * for a range no pattern here states.
 */
function int64Limits(r: FieldRulesJson | undefined): Limits | undefined {
  if (r?.maximum !== undefined) return undefined;
  if (r?.minimum === "1") return { maxLength: 19, pattern: "^[1-9][0-9]{0,18}$" };
  if (r?.minimum === "0") return { maxLength: 19, pattern: "^[0-9]{1,19}$" };
  if (r?.minimum === undefined) return { maxLength: 20, pattern: "^-?[0-9]{1,19}$" };
  return undefined;
}

/** A JSON Schema's type as the checks name it: string, string/date-time, string/enum, object. */
const typeOf = (s: Schema): string =>
  `${s.type ?? (s.properties ? "object" : "(none)")}${s.format === "date-time" ? "/date-time" : ""}${s.enum ? "/enum" : ""}`;

type SchemaDoc = { components: { schemas: Record<string, Schema> } };

/** Follows local $refs (#/components/…) in a document. */
function derefIn(doc: SchemaDoc): (s: Schema | undefined) => Schema {
  const deref = (s: Schema | undefined, depth = 0): Schema => {
    if (!s?.$ref || depth > 32) return s ?? {};
    let node: unknown = doc;
    for (const segment of s.$ref.replace(/^#\//, "").split("/")) {
      node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
    }
    return deref(node as Schema | undefined, depth + 1);
  };
  return deref;
}

/** The limits a JSON Schema (or a parameter's schema) states, in the proto's terms. */
function limitsIn(deref: (s: Schema | undefined) => Schema): (s: Schema | undefined) => Limits {
  return (s) => {
    const d = deref(s);
    const inner = d.schema ? deref(d.schema) : d;
    return clean({
      minLength: inner.minLength,
      // A timestamp's maxLength only guards the JSON carrier; proto states its format.
      maxLength: inner.format === "date-time" ? undefined : inner.maxLength,
      pattern: inner.pattern,
      patternMessage: inner["x-pattern-message"],
      format: inner.format,
      minimum: inner.minimum,
      maximum: inner.maximum,
    });
  };
}

/**
 * The checks every agreement is made of, over one service's proto messages and GraphQL schema, each disagreement
 * pushed onto `problems`: the same value in two contracts, a proto message against a JSON Schema of it, a proto
 * message against the GraphQL object type of its name.
 */
function createChecks(
  { proto, protoEnums }: Pick<Contracts, "proto" | "protoEnums">,
  graphql: GraphQLSchema,
  problems: string[],
) {
  const same = (what: string, a: unknown, b: unknown, aName: string, bName: string): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      problems.push(`${what}: ${aName} says ${JSON.stringify(a)}, ${bName} says ${JSON.stringify(b)}`);
    }
  };
  const gqlLimits = (f: GraphQLInputField | GraphQLArgument | undefined): Limits => {
    const directive = f?.astNode?.directives?.find((d) => d.name.value === "constraint");
    const arg = (name: string) => {
      const node: ConstArgumentNode | undefined = directive?.arguments?.find((a) => a.name.value === name);
      return node ? (valueFromASTUntyped(node.value) as string | number) : undefined;
    };
    return clean({
      minLength: arg("minLength") as number | undefined,
      maxLength: arg("maxLength") as number | undefined,
      pattern: arg("pattern") as string | undefined,
      patternMessage: arg("patternMessage") as string | undefined,
      format: arg("format") as string | undefined,
      minimum: arg("min") as number | undefined,
      maximum: arg("max") as number | undefined,
    });
  };
  const enumOf = (field: ProtoField): ProtoEnum | undefined => {
    const found = protoEnums.get(field.typeName?.replace(/^\./, "") ?? "");
    if (!found) problems.push(`${field.name}: the proto enum ${field.typeName} is missing`);
    return found;
  };

  /**
   * A proto message against a JSON Schema of it (OpenAPI's, AsyncAPI's): the same fields, each always-set one
   * required, no other property allowed, each field of the type and limits of its proto field, enum values named
   * in `enumStyle`, and message fields checked the same way, once per schema.
   */
  const checked = new Map<Schema, string>();
  const checkSchema = (
    message: string,
    schema: Schema | undefined,
    doc: SchemaDoc,
    label: string,
    enumStyle: "proto" | "short",
  ): void => {
    const inDoc = derefIn(doc);
    const limitsOf = limitsIn(inDoc);
    // An event contract answers no sender, so it tells no pattern message: the rest of a rule it states as proto does.
    const protoSays = (rules: FieldRulesJson | undefined, withFormat: boolean): Limits => {
      const limits = protoLimits(rules, withFormat);
      return label === "AsyncAPI" ? clean({ ...limits, patternMessage: undefined }) : limits;
    };
    const d = inDoc(schema);
    const fields = proto.get(message)?.field;
    const short = shortName(message);
    if (!fields) return void problems.push(`${message} is missing from the proto`);
    if (checked.get(d) === message) return;
    checked.set(d, message);
    const names = fields.map((f) => f.jsonName);
    same(`${short} fields`, [...names].sort(), Object.keys(d.properties ?? {}).sort(), "proto", label);
    same(
      `${short} required fields`,
      fields
        .filter(alwaysSet)
        .map((f) => f.jsonName)
        .sort(),
      [...(d.required ?? [])].sort(),
      "proto (set in every message)",
      label,
    );
    same(`${short} additional properties`, false, d.additionalProperties, "proto (a closed message)", label);
    for (const field of fields) {
      const property = d.properties?.[field.jsonName];
      if (property === undefined) continue; // named among the fields above
      const what = `${short}.${field.jsonName}`;
      const rules = rulesOfField(field);
      const actual = inDoc(property);
      if (field.type === "TYPE_MESSAGE" && field.typeName === TIMESTAMP) {
        same(`${what} type`, "string/date-time", typeOf(actual), "proto", label);
        same(`${what} limits`, protoSays(rules, true), limitsOf(property), "proto", label);
      } else if (field.type === "TYPE_MESSAGE") {
        same(`${what} type`, "object", typeOf(actual), "proto", label);
        checkSchema(field.typeName?.replace(/^\./, "") ?? "", property, doc, label, enumStyle);
      } else if (field.type === "TYPE_STRING") {
        same(`${what} type`, "string", typeOf(actual), "proto", label);
        same(`${what} limits`, protoSays(rules, true), limitsOf(property), "proto", label);
      } else if (field.type === "TYPE_INT64") {
        same(`${what} type`, "string", typeOf(actual), "proto", label);
        const carrier = int64Limits(rules);
        if (!carrier)
          problems.push(`${what}: no decimal-string pattern states the proto's range ${JSON.stringify(rules)}`);
        else same(`${what} limits`, carrier, limitsOf(property), "proto (int64 as a decimal string)", label);
      } else if (field.type === "TYPE_INT32") {
        // proto3 JSON carries an int32 as a number.
        same(`${what} type`, "integer", typeOf(actual), "proto", label);
        same(`${what} limits`, protoSays(rules, false), limitsOf(property), "proto", label);
      } else if (field.type === "TYPE_ENUM") {
        same(`${what} type`, "string/enum", typeOf(actual), "proto", label);
        const protoEnum = enumOf(field);
        if (protoEnum) same(`${what} values`, enumValueNames(protoEnum, enumStyle), actual.enum, "proto", label);
      } else {
        problems.push(`${what}: the check knows no JSON carrier of the proto type ${field.type}`);
      }
    }
  };

  /** A proto message against the GraphQL object type of its name, and the message fields' types likewise. */
  const checkedTypes = new Set<string>();
  const checkGraphqlType = (message: string): void => {
    const short = shortName(message);
    const fields = proto.get(message)?.field;
    const type = graphql.getType(short);
    if (!fields || !isObjectType(type)) return void problems.push(`${short} is missing from a contract`);
    if (checkedTypes.has(message)) return;
    checkedTypes.add(message);
    const gqlFields = type.getFields();
    same(`${short} fields`, fields.map((f) => f.jsonName).sort(), Object.keys(gqlFields).sort(), "proto", "GraphQL");
    for (const field of fields) {
      const gql: GraphQLField<unknown, unknown> | undefined = gqlFields[field.jsonName];
      if (!gql) continue; // named among the fields above
      const what = `${short}.${field.jsonName}`;
      const named = getNamedType(gql.type);
      const typeName = field.typeName?.replace(/^\./, "") ?? "";
      const expected =
        field.typeName === TIMESTAMP
          ? "DateTime"
          : field.type === "TYPE_MESSAGE" || field.type === "TYPE_ENUM"
            ? shortName(typeName)
            : field.type === "TYPE_INT32"
              ? "Int"
              : field.type === "TYPE_STRING" && /^id$|Id$/.test(field.jsonName)
                ? "ID"
                : "String";
      same(`${what} type`, expected, named.name, "proto", "GraphQL");
      same(`${what} non-null`, alwaysSet(field), isNonNullType(gql.type), "proto (set in every message)", "GraphQL");
      if (field.type === "TYPE_ENUM" && isEnumType(named)) {
        const protoEnum = enumOf(field);
        const values = named.getValues().map((v) => v.name);
        if (protoEnum) same(`${what} values`, enumValueNames(protoEnum, "short"), values, "proto", "GraphQL");
      }
      if (field.type === "TYPE_MESSAGE" && field.typeName !== TIMESTAMP) checkGraphqlType(typeName);
    }
  };

  return { same, gqlLimits, checkSchema, checkGraphqlType };
}

export function compareContracts({ proto, protoEnums, protoScopes, openapi, graphql, asyncapi }: Contracts): string[] {
  const problems: string[] = [];
  const { same, gqlLimits, checkSchema, checkGraphqlType } = createChecks({ proto, protoEnums }, graphql, problems);
  const deref = derefIn(openapi);
  const oaLimits = limitsIn(deref);
  // The User and the UserEvent as read: every field, its type, presence and limits, in every contract.
  const user = proto.get("charter.users.v1.User");
  if (!user) return ["User is missing from the proto"];
  checkSchema("charter.users.v1.User", openapi.components.schemas.User, openapi, "OpenAPI", "short");
  checkGraphqlType("charter.users.v1.User");
  checkSchema("charter.users.v1.UserEvent", openapi.components.schemas.UserEvent, openapi, "OpenAPI", "short");
  checkGraphqlType("charter.users.v1.UserEvent");

  const createBody = openapi.components.schemas.CreateUserBody ?? {};
  const updateBody = openapi.components.schemas.UpdateUserBody ?? {};
  const createInput = graphql.getType("CreateUserInput");
  const updateInput = graphql.getType("UpdateUserInput");
  if (!isInputObjectType(createInput) || !isInputObjectType(updateInput)) return ["GraphQL inputs are missing"];

  for (const field of user.field ?? []) {
    const name = field.jsonName;
    const rules = rulesOfField(field);
    // Input: output-only fields are never accepted; required ones must be given on create.
    const output = rules?.outputOnly === true;
    same(`create input has ${name}`, !output, name in (createBody.properties ?? {}), "proto", "OpenAPI");
    same(`create input has ${name}`, !output, name in createInput.getFields(), "proto", "GraphQL");
    same(`update input has ${name}`, !output, name in (updateBody.properties ?? {}), "proto", "OpenAPI");
    if (output) continue;
    same(
      `create input requires ${name}`,
      rules?.required === true,
      (createBody.required ?? []).includes(name),
      "proto",
      "OpenAPI",
    );
    const gqlCreate = createInput.getFields()[name];
    same(
      `create input requires ${name}`,
      rules?.required === true,
      gqlCreate ? isNonNullType(gqlCreate.type) : undefined,
      "proto",
      "GraphQL",
    );
    same(`${name} input limits`, protoLimits(rules, true), gqlLimits(gqlCreate), "proto", "GraphQL CreateUserInput");
    same(
      `${name} input limits`,
      protoLimits(rules, true),
      gqlLimits(updateInput.getFields()[name]),
      "proto",
      "GraphQL UpdateUserInput",
    );
    same(
      `${name} input limits`,
      protoLimits(rules, true),
      oaLimits(createBody.properties?.[name]),
      "proto",
      "OpenAPI CreateUserBody",
    );
  }

  // Request parameters: ids, etags, paging.
  const rulesOf = (message: string, field: string) =>
    proto.get(message)?.field?.find((f) => f.jsonName === field)?.options?.["[charter.contract.v1.field]"];
  const query = graphql.getQueryType()?.getFields() ?? {};
  const mutation = graphql.getMutationType()?.getFields() ?? {};
  const idLimits = protoLimits(rulesOf("charter.users.v1.GetUserRequest", "id"), false);
  same(
    "id parameter limits",
    idLimits,
    oaLimits(openapi.components.parameters.UserId),
    "proto GetUserRequest",
    "OpenAPI",
  );
  same(
    "id argument limits",
    idLimits,
    gqlLimits(query.user?.args.find((a) => a.name === "id")),
    "proto GetUserRequest",
    "GraphQL user(id)",
  );
  same(
    "id argument limits",
    protoLimits(rulesOf("charter.users.v1.DeleteUserRequest", "id"), false),
    gqlLimits(mutation.deleteUser?.args.find((a) => a.name === "id")),
    "proto DeleteUserRequest",
    "GraphQL deleteUser(id)",
  );
  same(
    "id argument limits",
    idLimits,
    gqlLimits(updateInput.getFields().id),
    "proto GetUserRequest",
    "GraphQL UpdateUserInput.id",
  );
  const etagLimits = protoLimits(rulesOf("charter.users.v1.DeleteUserRequest", "etag"), false);
  same(
    "etag limits",
    etagLimits,
    gqlLimits(updateInput.getFields().etag),
    "proto DeleteUserRequest",
    "GraphQL UpdateUserInput.etag",
  );
  same(
    "etag limits",
    etagLimits,
    gqlLimits(mutation.deleteUser?.args.find((a) => a.name === "etag")),
    "proto DeleteUserRequest",
    "GraphQL deleteUser(etag)",
  );
  same("etag limits", etagLimits, oaLimits(openapi.components.schemas.Etag), "proto DeleteUserRequest", "OpenAPI Etag");
  // Page sizes: the same range and the same default wherever a page size is asked for.
  const pageSizeDefault = (rules: FieldRulesJson | undefined) =>
    rules?.defaultValue === undefined ? undefined : Number(rules.defaultValue);
  const checkPageSize = (
    rules: FieldRulesJson | undefined,
    protoName: string,
    parameter: Schema | undefined,
    parameterName: string,
    argument: GraphQLArgument | undefined,
    argumentName: string,
  ) => {
    same("page size limits", protoLimits(rules, false), oaLimits(parameter), protoName, parameterName);
    same("page size limits", protoLimits(rules, false), gqlLimits(argument), protoName, argumentName);
    const parameterSchema = deref(deref(parameter).schema);
    same("page size default", pageSizeDefault(rules), parameterSchema.default, protoName, parameterName);
    same("page size default", pageSizeDefault(rules), argument?.defaultValue, protoName, argumentName);
  };
  checkPageSize(
    rulesOf("charter.users.v1.ListUsersRequest", "pageSize"),
    "proto ListUsersRequest.page_size",
    openapi.components.parameters.PageSize,
    "OpenAPI PageSize",
    query.users?.args.find((a) => a.name === "first"),
    "GraphQL users(first)",
  );
  const pageToken = protoLimits(rulesOf("charter.users.v1.ListUsersRequest", "pageToken"), false);
  same("page token limits", pageToken, oaLimits(openapi.components.parameters.PageToken), "proto", "OpenAPI");
  same(
    "page token limits",
    pageToken,
    gqlLimits(query.users?.args.find((a) => a.name === "after")),
    "proto",
    "GraphQL users(after)",
  );

  same(
    "idempotency key limits",
    protoLimits(rulesOf("charter.users.v1.CreateUserRequest", "requestId"), false),
    oaLimits(openapi.components.parameters.IdempotencyKey),
    "proto CreateUserRequest.request_id",
    "OpenAPI Idempotency-Key",
  );

  // A lookup by email: LookupUserRequest.email is the REST body's email and the GraphQL argument, with the rules
  // (and the presence) of User.email.
  const lookupEmail = rulesOf("charter.users.v1.LookupUserRequest", "email");
  const lookupBody = deref(openapi.components.schemas.LookupUserBody);
  const lookupArgument = query.userByEmail?.args.find((a) => a.name === "email");
  same(
    "lookup email limits",
    protoLimits(lookupEmail, true),
    protoLimits(rulesOf("charter.users.v1.User", "email"), true),
    "proto LookupUserRequest.email",
    "proto User.email",
  );
  same(
    "lookup email limits",
    protoLimits(lookupEmail, true),
    oaLimits(lookupBody.properties?.email),
    "proto LookupUserRequest.email",
    "OpenAPI LookupUserBody.email",
  );
  same(
    "lookup email limits",
    protoLimits(lookupEmail, true),
    gqlLimits(lookupArgument),
    "proto LookupUserRequest.email",
    "GraphQL userByEmail(email)",
  );
  same(
    "lookup email required",
    lookupEmail?.required === true,
    (lookupBody.required ?? []).includes("email"),
    "proto LookupUserRequest.email",
    "OpenAPI LookupUserBody",
  );
  same(
    "lookup email required",
    lookupEmail?.required === true,
    lookupArgument ? isNonNullType(lookupArgument.type) : undefined,
    "proto LookupUserRequest.email",
    "GraphQL userByEmail(email)",
  );

  // A user's history: ListUserHistory's request fields are the REST parameters and the GraphQL arguments.
  const historyOperation = Object.values(openapi.paths ?? {})
    .flatMap((item) => Object.values(item))
    .find((op) => op.operationId === "listUserHistory");
  if (!historyOperation) problems.push("OpenAPI has no listUserHistory operation");
  const historyParameter = (name: string): Schema | undefined =>
    (historyOperation?.parameters ?? []).map((p) => deref(p)).find((p) => p.name === name);
  const historyArgument = (name: string) => query.userHistory?.args.find((a) => a.name === name);
  const HISTORY_REQUEST = "charter.audit.v1.ListUserHistoryRequest";
  const historyRequest = `proto ${shortName(HISTORY_REQUEST)}`;
  const historyId = protoLimits(rulesOf(HISTORY_REQUEST, "userId"), false);
  same("history id limits", historyId, oaLimits(historyParameter("id")), historyRequest, "OpenAPI listUserHistory id");
  same("history id limits", historyId, gqlLimits(historyArgument("id")), historyRequest, "GraphQL userHistory(id)");
  checkPageSize(
    rulesOf(HISTORY_REQUEST, "pageSize"),
    `${historyRequest}.page_size`,
    historyParameter("pageSize"),
    "OpenAPI listUserHistory pageSize",
    historyArgument("first"),
    "GraphQL userHistory(first)",
  );
  const historyToken = protoLimits(rulesOf(HISTORY_REQUEST, "pageToken"), false);
  same(
    "history page token limits",
    historyToken,
    oaLimits(historyParameter("pageToken")),
    historyRequest,
    "OpenAPI listUserHistory pageToken",
  );
  same(
    "history page token limits",
    historyToken,
    gqlLimits(historyArgument("after")),
    historyRequest,
    "GraphQL userHistory(after)",
  );
  // …and its response is a page of UserEvents.
  const historyResponse = proto.get("charter.audit.v1.ListUserHistoryResponse")?.field ?? [];
  const oaHistory = deref(openapi.components.schemas.UserHistory);
  same(
    "history page fields",
    historyResponse.map((f) => f.jsonName).sort(),
    Object.keys(oaHistory.properties ?? {}).sort(),
    "proto ListUserHistoryResponse",
    "OpenAPI UserHistory",
  );
  const events = historyResponse.find((f) => f.jsonName === "events");
  const eventsItems = oaHistory.properties?.events?.items?.$ref;
  same(
    "history events",
    [events?.label, shortName(events?.typeName ?? "")],
    [oaHistory.properties?.events?.type === "array" ? "LABEL_REPEATED" : "(not a list)", eventsItems?.split("/").pop()],
    "proto ListUserHistoryResponse.events",
    "OpenAPI UserHistory.events",
  );
  const nodes = graphql.getType("UserEventConnection");
  const nodesType = isObjectType(nodes) ? nodes.getFields().nodes?.type : undefined;
  same(
    "history events",
    shortName(events?.typeName ?? ""),
    nodesType && isNonNullType(nodesType) && isListType(nodesType.ofType) ? getNamedType(nodesType).name : undefined,
    "proto ListUserHistoryResponse.events",
    "GraphQL UserEventConnection.nodes",
  );

  // The user events on Kafka: the AsyncAPI payload of the topic's one message is UserEvent's proto3 JSON, keyed
  // by the user id, with the event id as the CloudEvents id.
  const asyncDeref = derefIn(asyncapi);
  const channel = Object.values(asyncapi.channels ?? {}).find((c) => c.address === USER_EVENTS_TOPIC);
  const eventMessages = Object.values(channel?.messages ?? {}).map((m) => asyncDeref(m as Schema) as AsyncApiMessage);
  same(`messages on ${USER_EVENTS_TOPIC}`, 1, eventMessages.length, "proto (UserEvent)", "AsyncAPI");
  const eventMessage = eventMessages[0];
  checkSchema("charter.users.v1.UserEvent", eventMessage?.payload, asyncapi, "AsyncAPI", "proto");
  same(
    "user event key pattern",
    rulesOf("charter.users.v1.UserEvent", "userId")?.pattern,
    asyncDeref(eventMessage?.bindings?.kafka?.key).pattern,
    "proto UserEvent.user_id",
    "AsyncAPI Kafka key",
  );
  same(
    "user event id limits",
    protoLimits(rulesOf("charter.users.v1.UserEvent", "eventId"), false),
    limitsIn(asyncDeref)(asyncDeref(eventMessage?.headers).properties?.ce_id),
    "proto UserEvent.event_id",
    "AsyncAPI ce_id header",
  );

  // The user stats: the proto message, the REST body and the GraphQL type of GetUserStats, and the AsyncAPI payload
  // of the stats channel (proto3 JSON, keyed by the window's start, the CloudEvents id naming it).
  const STATS = "charter.users.v1.UserStats";
  checkSchema(STATS, openapi.components.schemas.UserStats, openapi, "OpenAPI", "short");
  checkGraphqlType(STATS);
  const statsResponse = proto.get("charter.audit.v1.GetUserStatsResponse")?.field ?? [];
  same(
    "stats response",
    statsResponse.map((f) => [f.jsonName, shortName(f.typeName ?? "")]),
    [["stats", shortName(STATS)]],
    "proto GetUserStatsResponse",
    "the REST body and GraphQL field it is served as",
  );
  const statsOperation = Object.values(openapi.paths ?? {})
    .flatMap((item) => Object.values(item))
    .find((op) => op["x-charter-rpc"] === "charter.audit.v1.AuditService/GetUserStats") as
    | (OpenApiOperation & { responses?: Record<string, { content?: Record<string, Schema> }> })
    | undefined;
  same(
    "stats body",
    `#/components/schemas/${shortName(STATS)}`,
    statsOperation?.responses?.["200"]?.content?.["application/json"]?.schema?.$ref,
    "proto GetUserStatsResponse.stats",
    "OpenAPI GetUserStats 200",
  );
  const statsField = query.userStats;
  same(
    "stats field",
    shortName(STATS),
    statsField ? getNamedType(statsField.type).name : undefined,
    "proto GetUserStatsResponse.stats",
    "GraphQL Query.userStats",
  );
  const statsChannel = Object.values(asyncapi.channels ?? {}).find((c) => c.address === USER_STATS_TOPIC);
  const statsMessages = Object.values(statsChannel?.messages ?? {}).map(
    (m) => asyncDeref(m as Schema) as AsyncApiMessage,
  );
  same(`messages on ${USER_STATS_TOPIC}`, 1, statsMessages.length, "proto (UserStats)", "AsyncAPI");
  const statsMessage = statsMessages[0];
  checkSchema(STATS, statsMessage?.payload, asyncapi, "AsyncAPI", "proto");
  const windowStart = proto.get(STATS)?.field?.find((f) => f.jsonName === "windowStart");
  same(
    "user stats key",
    ["string", rulesOfField(windowStart ?? ({} as ProtoField))?.format],
    [asyncDeref(statsMessage?.bindings?.kafka?.key).type, asyncDeref(statsMessage?.bindings?.kafka?.key).format],
    "proto UserStats.window_start",
    "AsyncAPI Kafka key",
  );

  // Error codes: the gRPC status names, the same in REST problems and GraphQL extensions.
  const gqlCodes = graphql.getType("ErrorCode");
  same(
    "error codes",
    openapi.components.schemas.ErrorCode?.enum,
    isEnumType(gqlCodes) ? gqlCodes.getValues().map((v) => v.name) : undefined,
    "OpenAPI",
    "GraphQL",
  );
  problems.push(...compareScopes(protoScopes, openapi, graphql));
  return problems;
}

/** A root field's or an operation's scopes, sorted, for comparing. */
const sortedScopes = (scopes: readonly string[] | undefined): string[] | undefined => scopes && [...scopes].sort();

/**
 * Who may call what: every RPC states its scopes in the proto, and every REST operation and GraphQL root field that
 * stands for an RPC (x-charter-rpc, @rpc) requires exactly those scopes (OpenAPI security requirement, @auth), each
 * one declared by the OAuth 2.0 security scheme.
 */
function compareScopes(protoScopes: Map<string, string[]>, openapi: OpenApiDoc, graphql: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const [method, scopes] of protoScopes) {
    if (scopes.length === 0) problems.push(`${method}: the proto states no scope (charter.contract.v1.method)`);
  }
  const declared = new Set(
    Object.values(openapi.components.securitySchemes ?? {}).flatMap((scheme) =>
      Object.values(scheme.flows ?? {}).flatMap((flow) => Object.keys(flow.scopes ?? {})),
    ),
  );
  const compare = (what: string, method: string | undefined, scopes: string[] | undefined, label: string) => {
    if (!method) return;
    const expected = sortedScopes(protoScopes.get(method));
    if (!expected) return void problems.push(`${what}: ${label} names ${method}, which the proto does not have`);
    if (JSON.stringify(expected) !== JSON.stringify(scopes)) {
      problems.push(
        `${what} scopes: proto ${method} says ${JSON.stringify(expected)}, ${label} says ${JSON.stringify(scopes ?? null)}`,
      );
    }
    for (const scope of scopes ?? []) {
      if (!declared.has(scope))
        problems.push(`${what}: the scope ${scope} is not declared by an OpenAPI security scheme`);
    }
  };
  for (const item of Object.values(openapi.paths ?? {})) {
    for (const operation of Object.values(item)) {
      const requirements = operation.security;
      const scopes =
        requirements && requirements.length === 1
          ? sortedScopes(Object.values(requirements[0] ?? {}).flat())
          : undefined; // none, or alternatives the proto cannot state
      compare(`${operation.operationId}`, operation["x-charter-rpc"], scopes, "OpenAPI");
    }
  }
  for (const root of [graphql.getQueryType(), graphql.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const directive = (name: string) => field.astNode?.directives?.find((d) => d.name.value === name);
      const argument = (name: string, arg: string) => {
        const node = directive(name)?.arguments?.find((a) => a.name.value === arg);
        return node ? valueFromASTUntyped(node.value) : undefined;
      };
      const scopes = argument("auth", "scopes") as string[] | undefined;
      compare(
        `${root?.name}.${field.name}`,
        argument("rpc", "method") as string | undefined,
        sortedScopes(scopes),
        "GraphQL @auth",
      );
    }
  }
  return problems;
}

/** The contracts of a service other than users, by the layout `npm run new:service` writes. */
export interface ServiceContracts {
  /** The plural the service is named by, e.g. books. */
  readonly name: string;
  readonly openapi: OpenApiDoc;
  readonly graphql: GraphQLSchema | undefined;
  readonly asyncapi: AsyncApiDoc | undefined;
}

/**
 * Every service with an OpenAPI document of its own (contracts/openapi/<name>.v1.yaml) besides users, whose
 * agreement compareContracts checks in full: its GraphQL schema (contracts/graphql/<name>.graphql) and its
 * events (contracts/asyncapi/<name>-events.yaml), when there are.
 */
export function loadServiceContracts(root = repoRoot): ServiceContracts[] {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(join(root, path), "utf8");
    } catch {
      return undefined;
    }
  };
  return otherServiceNames(join(root, "contracts/openapi"), join(root, "contracts/openapi/users.v1.yaml")).map(
    (name) => {
      const sdl = read(`contracts/graphql/${name}.graphql`);
      const events = read(`contracts/asyncapi/${name}-events.yaml`);
      return {
        name,
        openapi: parseYaml(read(`contracts/openapi/${name}.v1.yaml`) ?? "") as OpenApiDoc,
        graphql: sdl === undefined ? undefined : buildSchema(sdl),
        asyncapi: events === undefined ? undefined : (parseYaml(events) as AsyncApiDoc),
      };
    },
  );
}

/**
 * Each such service's entity (charter.<name>.v1.<Singular>) against its OpenAPI schema, its GraphQL type and the
 * copy of it its events carry (a payload property named after it), its error codes against users' closed list, and
 * its scopes in the three contracts against the proto's. Each disagreement is named by the service.
 */
export function compareServiceContracts(
  { proto, protoEnums, protoScopes, openapi: usersOpenapi }: Contracts,
  services: readonly ServiceContracts[],
): string[] {
  const problems: string[] = [];
  for (const { name, openapi, graphql, asyncapi } of services) {
    const found: string[] = [];
    if (!graphql) {
      problems.push(`${name}: contracts/graphql/${name}.graphql is missing`);
      continue;
    }
    const { same, checkSchema, checkGraphqlType } = createChecks({ proto, protoEnums }, graphql, found);
    const singular = singularOf(name);
    const entity = capitalized(singular);
    const message = `charter.${name}.v1.${entity}`;
    checkSchema(message, openapi.components?.schemas?.[entity], openapi, "OpenAPI", "short");
    checkGraphqlType(message);
    for (const channel of Object.values(asyncapi?.channels ?? {})) {
      for (const ref of Object.values(channel.messages ?? {})) {
        const payload = derefIn(asyncapi as AsyncApiDoc)(
          (derefIn(asyncapi as AsyncApiDoc)(ref as Schema) as AsyncApiMessage).payload,
        );
        const carried = payload.properties?.[singular];
        if (carried) checkSchema(message, carried, asyncapi as AsyncApiDoc, "AsyncAPI", "proto");
      }
    }
    const gqlCodes = graphql.getType("ErrorCode");
    const codes = usersOpenapi.components.schemas.ErrorCode?.enum;
    same("error codes", codes, openapi.components?.schemas?.ErrorCode?.enum, "users' OpenAPI", "OpenAPI");
    same(
      "error codes",
      codes,
      isEnumType(gqlCodes) ? gqlCodes.getValues().map((v) => v.name) : undefined,
      "users' OpenAPI",
      "GraphQL",
    );
    const own = new Map([...protoScopes].filter(([method]) => method.startsWith(`charter.${name}.v1.`)));
    if (own.size === 0) found.push(`the proto has no package charter.${name}.v1 with RPCs`);
    found.push(...compareScopes(own, openapi, graphql));
    problems.push(...found.map((problem) => `${name}: ${problem}`));
  }
  return problems;
}
