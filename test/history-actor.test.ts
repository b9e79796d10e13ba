/**
 * Who changed a user, end to end: the gateway and the users service (hosting the audit service on the embedded
 * bus) trust one development issuer with two clients, charter-dev (every scope) and charter-writer (users:write
 * only). Each makes changes through the gateway; the user's history names the client of each change as its actor,
 * the same over REST, GraphQL and gRPC (the audit service asked directly).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type DevClient, type DevIssuer, devClientsFor, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";
import { waitFor } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { contractServiceClient, grpc } from "./support/contract-client.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

const writer: DevClient = {
  clientId: "charter-writer",
  clientSecret: "charter-writer-secret",
  scopes: ["users:write"],
};
let issuer: DevIssuer;
let platform: RunningPlatform;
let dev = "";
let write = "";
const validator = createOpenApiValidator();

before(async () => {
  issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES, clients: [...devClientsFor(API_SCOPES), writer] });
  platform = await startPlatform({
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_CACHE_MS: "1000",
    AUTH_JWKS_COOLDOWN_MS: "0",
  });
  dev = `Bearer ${await issuer.token(issuer.clients[0] as DevClient)}`;
  write = `Bearer ${await issuer.token(writer)}`;
});
after(async () => {
  await platform?.stop();
  await issuer?.close();
});

/** A gateway request whose response must conform to the contract; its JSON body. */
async function rest(method: string, path: string, authorization: string, body?: unknown) {
  const response = await fetch(`${platform.baseUrl}${path}`, {
    method,
    headers: {
      authorization,
      ...(body === undefined
        ? {}
        : { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const operation = validator.operationFor(method, path.split("?")[0] as string);
  assert.ok(operation, `${method} ${path} is in the contract`);
  assert.deepEqual(validator.check(operation.id, { status: response.status, headers: response.headers, text }), []);
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

describe("the actor of each change, through the gateway", () => {
  test("two clients change a user; REST, GraphQL and gRPC name each change's client", async () => {
    const created = await rest("POST", "/v1/users", dev, { name: "Ada", email: `ada-${randomUUID()}@example.com` });
    assert.equal(created.status, 201);
    const id = created.body?.id as string;
    assert.equal((await rest("PATCH", `/v1/users/${id}`, write, { name: "Ada King" })).status, 200);
    assert.equal((await rest("PATCH", `/v1/users/${id}`, dev, { name: "Ada Lovelace" })).status, 200);
    assert.equal((await rest("DELETE", `/v1/users/${id}`, write)).status, 204);
    const expected = [
      ["CREATED", "charter-dev"],
      ["UPDATED", "charter-writer"],
      ["UPDATED", "charter-dev"],
      ["DELETED", "charter-writer"],
    ];

    const events = await waitFor(
      "four events",
      async () => {
        const page = await rest("GET", `/v1/users/${id}/history`, dev);
        const list = (page.body?.events ?? []) as { type: string; actor?: string }[];
        return list.length >= 4 ? list : undefined;
      },
      10_000,
      50,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.actor]),
      expected,
      "REST",
    );

    const graphql = await fetch(`${platform.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: dev },
      body: JSON.stringify({
        query: "query ($id: ID!) { userHistory(id: $id, first: 10) { nodes { type actor } } }",
        variables: { id },
      }),
    });
    const result = (await graphql.json()) as { data?: { userHistory: { nodes: { type: string; actor: string }[] } } };
    assert.deepEqual(
      result.data?.userHistory.nodes.map((e) => [e.type, e.actor]),
      expected,
      `GraphQL: ${JSON.stringify(result)}`,
    );

    const audit = contractServiceClient(
      "charter/audit/v1/audit.proto",
      "charter.audit.v1.AuditService",
      `127.0.0.1:${platform.users.ready.grpcPort}`,
    );
    try {
      const served = await audit.call<{ events: { type: string; actor: string }[] }>(
        "ListUserHistory",
        { userId: id },
        grpc.Metadata.fromHttp2Headers({ authorization: dev }),
      );
      assert.deepEqual(
        served.events.map((e) => [e.type.replace("USER_EVENT_TYPE_", ""), e.actor]),
        expected,
        "gRPC",
      );
    } finally {
      audit.close();
    }
  });

  test("the writer's token reads nothing: its scopes are users:write only", async () => {
    assert.equal((await rest("GET", "/v1/users/1/history", write)).status, 403);
  });
});
