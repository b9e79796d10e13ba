import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { buildSchema } from "graphql";
import { compareContracts, loadContracts } from "../scripts/lib/contract-agreement.js";

const contracts = loadContracts();

test("proto, OpenAPI and GraphQL agree on the User's fields, types, required-ness and limits", () => {
  assert.deepEqual(compareContracts(contracts), []);
});

test("the error codes are exactly the gRPC status names (OK aside)", () => {
  const grpcNames = Object.keys(status).filter((k) => Number.isNaN(Number(k)) && k !== "OK");
  assert.deepEqual(contracts.openapi.components.schemas.ErrorCode?.enum, grpcNames);
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

  const sdl = readFileSync(new URL("../contracts/graphql/users.graphql", import.meta.url), "utf8");
  const graphql = buildSchema(sdl.replace(/(Email address, unique case-insensitively\."\n {2}email: String)!/, "$1"));
  assert.match(compareContracts({ ...contracts, graphql }).join("\n"), /User\.email non-null/);

  const proto = structuredClone(contracts.proto);
  proto
    .get("charter.users.v1.User")
    ?.field?.push({ name: "nickname", jsonName: "nickname", number: 9, label: "LABEL_OPTIONAL", type: "TYPE_STRING" });
  assert.match(compareContracts({ ...contracts, proto }).join("\n"), /User fields: proto says .*nickname/);
});
