import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { buildSchema } from "graphql";
import {
  compareContracts,
  compareServiceContracts,
  enumValueNames,
  loadContracts,
  loadServiceContracts,
} from "../scripts/lib/contract-agreement.js";

const contracts = loadContracts();
const sdl = readFileSync(new URL("../contracts/graphql/users.graphql", import.meta.url), "utf8");
const changedSdl = (from: string, to: string) => {
  assert.ok(sdl.includes(from), `the SDL has ${JSON.stringify(from)}`);
  return buildSchema(sdl.replace(from, to));
};

test("proto, OpenAPI, GraphQL and AsyncAPI agree on the User, the UserEvent, the UserStats, the request limits and the codes", () => {
  assert.deepEqual(compareContracts(contracts), []);
});

test("the error codes are exactly the gRPC status names (OK aside)", () => {
  const grpcNames = Object.keys(status).filter((k) => Number.isNaN(Number(k)) && k !== "OK");
  assert.deepEqual(contracts.openapi.components.schemas.ErrorCode?.enum, grpcNames);
});

test("event types: proto and AsyncAPI name them USER_EVENT_TYPE_X, OpenAPI and GraphQL X", () => {
  const protoEnum = contracts.protoEnums.get("charter.users.v1.UserEventType");
  assert.ok(protoEnum);
  assert.deepEqual(enumValueNames(protoEnum, "proto"), [
    "USER_EVENT_TYPE_CREATED",
    "USER_EVENT_TYPE_UPDATED",
    "USER_EVENT_TYPE_DELETED",
  ]);
  assert.deepEqual(enumValueNames(protoEnum, "short"), ["CREATED", "UPDATED", "DELETED"]);
  assert.deepEqual(contracts.asyncapi.components.schemas.UserEventType?.enum, enumValueNames(protoEnum, "proto"));
  assert.deepEqual(contracts.openapi.components.schemas.UserEventType?.enum, enumValueNames(protoEnum, "short"));
});

test("the agreement check notices a disagreement in each contract", () => {
  const openapi = structuredClone(contracts.openapi);
  const name = openapi.components.schemas.UserName;
  assert.ok(name);
  name.maxLength = 99;
  assert.match(
    compareContracts({ ...contracts, openapi }).join("\n"),
    /User\.name limits: proto says .*"maxLength":100.*OpenAPI says .*"maxLength":99/,
  );

  const graphql = changedSdl(
    'Email address, unique case-insensitively."\n  email: String!',
    'Email address, unique case-insensitively."\n  email: String',
  );
  assert.match(compareContracts({ ...contracts, graphql }).join("\n"), /User\.email non-null/);

  const proto = structuredClone(contracts.proto);
  proto
    .get("charter.users.v1.User")
    ?.field?.push({ name: "nickname", jsonName: "nickname", number: 9, label: "LABEL_OPTIONAL", type: "TYPE_STRING" });
  assert.match(compareContracts({ ...contracts, proto }).join("\n"), /User fields: proto says .*nickname/);

  const asyncapi = structuredClone(contracts.asyncapi);
  const eventId = asyncapi.components.schemas.UserEvent?.properties?.eventId;
  assert.ok(eventId);
  eventId.maxLength = 65;
  assert.match(
    compareContracts({ ...contracts, asyncapi }).join("\n"),
    /UserEvent\.eventId limits: proto says \{"maxLength":64\}, AsyncAPI says \{"maxLength":65\}/,
  );
});

test("the agreement check notices a UserEvent that differs in the AsyncAPI payload, down to its User", () => {
  const mutated = (change: (schemas: typeof contracts.asyncapi.components.schemas) => void): string => {
    const asyncapi = structuredClone(contracts.asyncapi);
    change(asyncapi.components.schemas);
    return compareContracts({ ...contracts, asyncapi }).join("\n");
  };
  assert.match(
    mutated((s) => {
      if (s.UserEventType) s.UserEventType.enum = ["CREATED", "UPDATED", "DELETED"];
    }),
    /UserEvent\.type values: proto says \["USER_EVENT_TYPE_CREATED".*AsyncAPI says \["CREATED"/,
  );
  assert.match(
    mutated((s) => {
      if (s.User) s.User.required = ["id", "name", "etag", "createTime", "updateTime"];
    }),
    /User required fields: .*"email".*AsyncAPI says \["createTime","etag","id","name","updateTime"\]/,
  );
  assert.match(
    mutated((s) => {
      const version = s.UserEvent?.properties?.version;
      if (version) version.pattern = "^[0-9]{1,19}$";
    }),
    /UserEvent\.version limits: proto \(int64 as a decimal string\) says .*\^\[1-9\].*AsyncAPI says .*\^\[0-9\]\{1,19\}/,
  );
  assert.match(
    mutated((s) => {
      s.UserEvent?.required?.pop();
    }),
    /UserEvent required fields: .*AsyncAPI says/,
  );
  assert.match(
    mutated((s) => {
      if (s.UserEvent) delete s.UserEvent.additionalProperties;
    }),
    /UserEvent additional properties: proto \(a closed message\) says false, AsyncAPI says undefined/,
  );
});

test("the agreement check notices UserStats that differ in the AsyncAPI payload or key, OpenAPI or GraphQL", () => {
  const inAsyncapi = (change: (doc: typeof contracts.asyncapi) => void): string => {
    const asyncapi = structuredClone(contracts.asyncapi);
    change(asyncapi);
    return compareContracts({ ...contracts, asyncapi }).join("\n");
  };
  // proto3 JSON omits a zero int32 unless told otherwise: the payload must require every count.
  assert.match(
    inAsyncapi((doc) => {
      doc.components.schemas.UserStats?.required?.splice(2, 1);
    }),
    /UserStats required fields: .*"created".*AsyncAPI says/,
  );
  assert.match(
    inAsyncapi((doc) => {
      const late = doc.components.schemas.UserStats?.properties?.lateEvents;
      if (late) late.type = "string";
    }),
    /UserStats\.lateEvents type: proto says "integer", AsyncAPI says "string"/,
  );
  assert.match(
    inAsyncapi((doc) => {
      const key = doc.components.messages?.UserStats?.bindings?.kafka?.key;
      if (key) delete key.format;
    }),
    /user stats key: proto UserStats\.window_start says \["string","date-time"\], AsyncAPI Kafka key says \["string",null\]/,
  );
  const openapi = structuredClone(contracts.openapi);
  const live = openapi.components.schemas.UserStats?.properties?.liveUsers;
  if (live) live.minimum = 1;
  assert.match(compareContracts({ ...contracts, openapi }).join("\n"), /UserStats\.liveUsers limits: .*OpenAPI says/);
  const graphql = changedSdl("  liveUsers: Int!\n", "  liveUsers: String!\n");
  assert.match(
    compareContracts({ ...contracts, graphql }).join("\n"),
    /UserStats\.liveUsers type: proto says "Int", GraphQL says "String"/,
  );
  const noField = changedSdl("  userStats: UserStats @rpc", "  userStats: UserEvent @rpc");
  assert.match(
    compareContracts({ ...contracts, graphql: noField }).join("\n"),
    /stats field: .*says "UserStats".*"UserEvent"/,
  );
});

test("the agreement check notices event types and history limits that differ in OpenAPI, GraphQL or proto", () => {
  const openapi = structuredClone(contracts.openapi);
  const types = openapi.components.schemas.UserEventType;
  assert.ok(types);
  types.enum = ["USER_EVENT_TYPE_CREATED", "USER_EVENT_TYPE_UPDATED", "USER_EVENT_TYPE_DELETED"];
  assert.match(
    compareContracts({ ...contracts, openapi }).join("\n"),
    /UserEvent\.type values: proto says \["CREATED","UPDATED","DELETED"\], OpenAPI says \["USER_EVENT_TYPE_CREATED"/,
  );

  const noDeleted = changedSdl("  UPDATED\n  DELETED\n}", "  UPDATED\n}");
  assert.match(
    compareContracts({ ...contracts, graphql: noDeleted }).join("\n"),
    /UserEvent\.type values: proto says \["CREATED","UPDATED","DELETED"\], GraphQL says \["CREATED","UPDATED"\]/,
  );
  const smallPages = changedSdl(
    "first: Int = 50 @constraint(min: 1, max: 1000)\n    after",
    "first: Int = 50 @constraint(min: 1, max: 500)\n    after",
  );
  assert.match(
    compareContracts({ ...contracts, graphql: smallPages }).join("\n"),
    /page size limits: proto ListUserHistoryRequest.page_size says {"minimum":1,"maximum":1000}, GraphQL userHistory\(first\) says {"minimum":1,"maximum":500}/,
  );

  const protoEnums = structuredClone(contracts.protoEnums);
  protoEnums.get("charter.users.v1.UserEventType")?.value.push({ name: "USER_EVENT_TYPE_RESTORED", number: 4 });
  const problems = compareContracts({ ...contracts, protoEnums }).join("\n");
  for (const contract of ["OpenAPI", "GraphQL", "AsyncAPI"]) {
    assert.match(problems, new RegExp(`UserEvent\\.type values: proto says \\[[^\\]]*RESTORED"\\], ${contract} says`));
  }

  const proto = structuredClone(contracts.proto);
  const token = proto.get("charter.audit.v1.ListUserHistoryRequest")?.field?.find((f) => f.jsonName === "pageToken");
  assert.ok(token);
  token.options = { "[charter.contract.v1.field]": { maxLen: 256 } };
  assert.match(
    compareContracts({ ...contracts, proto }).join("\n"),
    /history page token limits: proto ListUserHistoryRequest says \{"maxLength":256\}, OpenAPI listUserHistory pageToken says \{"maxLength":512\}/,
  );
});

test("the agreement check notices a lookup email whose rules or presence differ from User.email's", () => {
  assert.deepEqual(
    compareContracts(contracts).filter((p) => p.includes("lookup")),
    [],
  );
  const graphql = changedSdl(
    'userByEmail(email: String! @constraint(minLength: 3, maxLength: 254, format: "email"))',
    'userByEmail(email: String @constraint(minLength: 3, maxLength: 200, format: "email"))',
  );
  const gqlProblems = compareContracts({ ...contracts, graphql }).join("\n");
  assert.match(gqlProblems, /lookup email limits: .*GraphQL userByEmail\(email\) says .*"maxLength":200/);
  assert.match(gqlProblems, /lookup email required/);

  const openapi = structuredClone(contracts.openapi);
  const body = openapi.components.schemas.LookupUserBody;
  assert.ok(body?.properties);
  body.properties.email = { type: "string", minLength: 3, maxLength: 254 };
  body.required = [];
  const oaProblems = compareContracts({ ...contracts, openapi }).join("\n");
  assert.match(oaProblems, /lookup email limits: .*OpenAPI LookupUserBody\.email says/);
  assert.match(oaProblems, /lookup email required: .*OpenAPI LookupUserBody says false/);

  const proto = structuredClone(contracts.proto);
  const rules = proto.get("charter.users.v1.LookupUserRequest")?.field?.[0]?.options?.["[charter.contract.v1.field]"];
  assert.ok(rules);
  rules.maxLen = 100;
  assert.match(
    compareContracts({ ...contracts, proto }).join("\n"),
    /lookup email limits: proto LookupUserRequest\.email says .*"maxLength":100.*proto User\.email says/,
  );
});

test("the agreement check notices a blank name told otherwise in OpenAPI or GraphQL than proto's pattern_message", () => {
  const openapi = structuredClone(contracts.openapi);
  const name = openapi.components.schemas.UserName;
  assert.ok(name);
  name["x-pattern-message"] = "must be filled in";
  assert.match(
    compareContracts({ ...contracts, openapi }).join("\n"),
    /User\.name limits: proto says .*"patternMessage":"must not be blank".*OpenAPI says .*"patternMessage":"must be filled in"/,
  );
  const graphql = changedSdl(', patternMessage: "must not be blank")', ")");
  assert.match(
    compareContracts({ ...contracts, graphql }).join("\n"),
    /name input limits: proto says .*"patternMessage".*GraphQL CreateUserInput says \{[^}]*"pattern":"[^"]*"\}/,
  );
});

test("equivalent operations require the same scopes in proto, OpenAPI and GraphQL, and the check notices a mismatch", () => {
  // Reads need users:read, writes users:write, the history a scope of its own.
  assert.deepEqual(contracts.protoScopes.get("charter.users.v1.UsersService/GetUser"), ["users:read"]);
  assert.deepEqual(contracts.protoScopes.get("charter.users.v1.UsersService/DeleteUser"), ["users:write"]);
  assert.deepEqual(contracts.protoScopes.get("charter.audit.v1.AuditService/ListUserHistory"), ["users:history"]);

  const openapi = structuredClone(contracts.openapi);
  const deleteUser = Object.values(openapi.paths)
    .flatMap((item) => Object.values(item))
    .find((op) => op.operationId === "deleteUser");
  assert.ok(deleteUser);
  deleteUser.security = [{ oauth2: ["users:read"] }];
  assert.match(
    compareContracts({ ...contracts, openapi }).join("\n"),
    /deleteUser scopes: proto charter\.users\.v1\.UsersService\/DeleteUser says \["users:write"\], OpenAPI says \["users:read"\]/,
  );
  delete deleteUser.security;
  assert.match(compareContracts({ ...contracts, openapi }).join("\n"), /deleteUser scopes: .* OpenAPI says null/);

  const graphql = changedSdl(
    '@rpc(method: "charter.audit.v1.AuditService/ListUserHistory") @auth(scopes: ["users:history"])',
    '@rpc(method: "charter.audit.v1.AuditService/ListUserHistory") @auth(scopes: ["users:read"])',
  );
  assert.match(
    compareContracts({ ...contracts, graphql }).join("\n"),
    /Query\.userHistory scopes: proto .*ListUserHistory says \["users:history"\], GraphQL @auth says \["users:read"\]/,
  );

  const protoScopes = new Map(contracts.protoScopes);
  protoScopes.set("charter.users.v1.UsersService/GetUser", []);
  const problems = compareContracts({ ...contracts, protoScopes }).join("\n");
  assert.match(problems, /UsersService\/GetUser: the proto states no scope/);
  assert.match(problems, /getUser scopes: proto .*GetUser says \[\], OpenAPI says \["users:read"\]/);
  assert.match(problems, /Query\.user scopes: .*GraphQL @auth says \["users:read"\]/);

  const undeclared = structuredClone(contracts.openapi);
  const flows = undeclared.components.securitySchemes?.oauth2?.flows?.clientCredentials;
  assert.ok(flows?.scopes);
  delete flows.scopes["users:history"];
  assert.match(
    compareContracts({ ...contracts, openapi: undeclared }).join("\n"),
    /listUserHistory: the scope users:history is not declared by an OpenAPI security scheme/,
  );
});

test("every other service's contracts (as npm run new:service lays them out) agree on its entity, codes and scopes", () => {
  // test/scaffold.test.ts runs this in a copy that has one, and shows there that a disagreement is named.
  assert.deepEqual(compareServiceContracts(contracts, loadServiceContracts()), []);
});
