/**
 * Checks that the proto, OpenAPI and GraphQL contracts describe the same User: the same
 * fields (snake_case in proto, camelCase elsewhere), types, required-ness and limits,
 * and the same error codes. Returns every disagreement as a readable line.
 */
import { readFileSync } from "node:fs";
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
  isNonNullType,
  isObjectType,
  valueFromASTUntyped,
} from "graphql";
import { parse as parseYaml } from "yaml";
import {
  charterMessages,
  type FieldRulesJson,
  loadProtoDescriptor,
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
  minimum?: number;
  maximum?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  enum?: string[];
  schema?: Schema;
};
export interface OpenApiDoc {
  components: { schemas: Record<string, Schema>; parameters: Record<string, Schema> };
}

export interface Contracts {
  proto: Map<string, ProtoMessage>;
  openapi: OpenApiDoc;
  graphql: GraphQLSchema;
}

export function loadContracts(): Contracts {
  return {
    proto: charterMessages(loadProtoDescriptor()),
    openapi: parseYaml(readFileSync(`${repoRoot}contracts/openapi/users.v1.yaml`, "utf8")) as OpenApiDoc,
    graphql: buildSchema(readFileSync(`${repoRoot}contracts/graphql/users.graphql`, "utf8")),
  };
}

interface Limits {
  minLength?: number | undefined;
  maxLength?: number | undefined;
  pattern?: string | undefined;
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
    format: withFormat && r?.format !== "int64" ? r?.format : undefined,
    minimum: r?.minimum === undefined ? undefined : Number(r.minimum),
    maximum: r?.maximum === undefined ? undefined : Number(r.maximum),
  });
}

export function compareContracts({ proto, openapi, graphql }: Contracts): string[] {
  const problems: string[] = [];
  const same = (what: string, a: unknown, b: unknown, aName: string, bName: string): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      problems.push(`${what}: ${aName} says ${JSON.stringify(a)}, ${bName} says ${JSON.stringify(b)}`);
    }
  };
  const deref = (s: Schema | undefined): Schema => {
    if (!s?.$ref) return s ?? {};
    const [, , kind, name] = s.$ref.split("/");
    const table = kind === "parameters" ? openapi.components.parameters : openapi.components.schemas;
    return deref(table[name ?? ""]);
  };
  const oaLimits = (s: Schema | undefined): Limits => {
    const d = deref(s);
    const inner = d.schema ? deref(d.schema) : d;
    return clean({
      minLength: inner.minLength,
      // A timestamp's maxLength only guards the JSON carrier; proto states its format.
      maxLength: inner.format === "date-time" ? undefined : inner.maxLength,
      // The OpenAPI name pattern \S adds "not blank", which the proto states as min_len after trimming.
      pattern: inner.pattern === "\\S" ? undefined : inner.pattern,
      format: inner.format,
      minimum: inner.minimum,
      maximum: inner.maximum,
    });
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
      format: arg("format") as string | undefined,
      minimum: arg("min") as number | undefined,
      maximum: arg("max") as number | undefined,
    });
  };

  // The User as read: every field, its type and presence.
  const user = proto.get("charter.users.v1.User");
  const oaUser = openapi.components.schemas.User ?? {};
  const gqlUser = graphql.getType("User");
  if (!user || !isObjectType(gqlUser)) return ["User is missing from a contract"];
  const gqlFields = gqlUser.getFields();
  same(
    "User fields",
    user.field?.map((f) => f.jsonName).sort(),
    Object.keys(oaUser.properties ?? {}).sort(),
    "proto",
    "OpenAPI",
  );
  same("User fields", user.field?.map((f) => f.jsonName).sort(), Object.keys(gqlFields).sort(), "proto", "GraphQL");
  same(
    "User required fields",
    Object.keys(oaUser.properties ?? {}).sort(),
    [...(oaUser.required ?? [])].sort(),
    "all fields",
    "OpenAPI required",
  );

  const createBody = openapi.components.schemas.CreateUserBody ?? {};
  const updateBody = openapi.components.schemas.UpdateUserBody ?? {};
  const createInput = graphql.getType("CreateUserInput");
  const updateInput = graphql.getType("UpdateUserInput");
  if (!isInputObjectType(createInput) || !isInputObjectType(updateInput)) return ["GraphQL inputs are missing"];

  for (const field of user.field ?? []) {
    const name = field.jsonName;
    const rules = field.options?.["[charter.contract.v1.field]"];
    const isTime = field.typeName === ".google.protobuf.Timestamp";
    const gql: GraphQLField<unknown, unknown> | undefined = gqlFields[name];
    const oa = deref(oaUser.properties?.[name]);
    same(
      `User.${name} type`,
      isTime ? "string/date-time" : "string",
      `${oa.type}${oa.format === "date-time" ? "/date-time" : ""}`,
      "proto",
      "OpenAPI",
    );
    const gqlType = gql ? getNamedType(gql.type).name : undefined;
    same(`User.${name} type`, isTime ? "DateTime" : name === "id" ? "ID" : "String", gqlType, "proto", "GraphQL");
    same(
      `User.${name} non-null`,
      true,
      gql ? isNonNullType(gql.type) : undefined,
      "proto (always set on output)",
      "GraphQL",
    );
    same(`User.${name} limits`, protoLimits(rules, true), oaLimits(oaUser.properties?.[name]), "proto", "OpenAPI");

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
  const pageSize = rulesOf("charter.users.v1.ListUsersRequest", "pageSize");
  const oaPageSize = oaLimits(openapi.components.parameters.PageSize);
  same("page size maximum", Number(pageSize?.maximum), oaPageSize.maximum, "proto", "OpenAPI");
  same(
    "page size maximum",
    Number(pageSize?.maximum),
    gqlLimits(query.users?.args.find((a) => a.name === "first")).maximum,
    "proto",
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

  // Error codes: the gRPC status names, the same in REST problems and GraphQL extensions.
  const gqlCodes = graphql.getType("ErrorCode");
  same(
    "error codes",
    openapi.components.schemas.ErrorCode?.enum,
    isEnumType(gqlCodes) ? gqlCodes.getValues().map((v) => v.name) : undefined,
    "OpenAPI",
    "GraphQL",
  );
  return problems;
}
