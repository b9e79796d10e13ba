/**
 * Who changed a user, end to end: the gateway and the users service (hosting the audit service on the embedded
 * bus) trust one development issuer with two clients, charter-dev (every scope) and charter-writer (users:write
 * only). Each makes changes through the gateway; the user's history names the client of each change as its actor,
 * the same over REST, GraphQL and gRPC (the audit service asked directly). Then the erasure: the charter-functions
 * client erases the deleted user's history over gRPC (EraseUserHistory), and the history over REST, GraphQL and gRPC
 * keeps each event's skeleton without the user's name or e-mail, still as the contract describes it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type DevClient, type DevIssuer, devClientsFor, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";
import { waitFor } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { contractServiceClient, grpc } from "./support/contract-client.js";
import { contractRequest, createOpenApiValidator } from "./support/openapi-validator.js";

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

/** A gateway request whose response must conform to the contract; its status and JSON body. */
const rest = (method: string, path: string, authorization: string, body?: unknown) =>
  contractRequest(validator, platform.baseUrl, { method, path, authorization, body });

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

  test("an erased history, on every door: the skeleton without name or e-mail, as the contract describes it", async () => {
    const email = `grace-${randomUUID()}@example.com`;
    const created = await rest("POST", "/v1/users", dev, { name: "Grace Hopper", email });
    const id = created.body?.id as string;
    assert.equal((await rest("PATCH", `/v1/users/${id}`, dev, { name: "Grace B. Hopper" })).status, 200);
    assert.equal((await rest("DELETE", `/v1/users/${id}`, dev)).status, 204);
    const before = await waitFor(
      "three events",
      async () => {
        const list = ((await rest("GET", `/v1/users/${id}/history`, dev)).body?.events ?? []) as unknown[];
        return list.length >= 3 ? list : undefined;
      },
      10_000,
      50,
    );
    assert.ok(JSON.stringify(before).includes(email), "the e-mail is in the history before the erasure");

    const functions = issuer.clients.find((c) => c.clientId === "charter-functions") as DevClient;
    const erasing = grpc.Metadata.fromHttp2Headers({ authorization: `Bearer ${await issuer.token(functions)}` });
    const audit = contractServiceClient(
      "charter/audit/v1/audit.proto",
      "charter.audit.v1.AuditService",
      `127.0.0.1:${platform.users.ready.grpcPort}`,
    );
    try {
      const erased = await audit.call<{ erasedEvents: number; pending: boolean }>(
        "EraseUserHistory",
        { userId: id },
        erasing,
      );
      assert.deepEqual(erased, { erasedEvents: 3, pending: false });
      const served = await audit.call<{ events: Record<string, unknown>[] }>(
        "ListUserHistory",
        { userId: id },
        erasing,
      );
      assert.deepEqual(
        served.events.map((e) => [e.type, e.user ?? null, e.redactedAt != null]),
        [
          ["USER_EVENT_TYPE_CREATED", null, true],
          ["USER_EVENT_TYPE_UPDATED", null, true],
          ["USER_EVENT_TYPE_DELETED", null, true],
        ],
        "gRPC",
      );
    } finally {
      audit.close();
    }

    // REST: every response is checked against the contract by rest().
    const page = await rest("GET", `/v1/users/${id}/history`, dev);
    const events = page.body?.events as Record<string, unknown>[];
    assert.deepEqual(
      events.map((e) => Object.keys(e).sort()),
      events.map(() => ["actor", "eventId", "occurredAt", "redactedAt", "type", "userId", "version"]),
      "REST: the skeleton and redactedAt, no user",
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.version, e.actor]),
      [
        ["CREATED", "1", "charter-dev"],
        ["UPDATED", "2", "charter-dev"],
        ["DELETED", "3", "charter-dev"],
      ],
    );
    assert.ok(!JSON.stringify(page.body).includes(email) && !JSON.stringify(page.body).includes("Grace"));

    const graphql = await fetch(`${platform.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: dev },
      body: JSON.stringify({
        query:
          "query ($id: ID!) { userHistory(id: $id) { nodes { type version actor redactedAt user { name email } } } }",
        variables: { id },
      }),
    });
    const result = (await graphql.json()) as {
      errors?: unknown;
      data?: { userHistory: { nodes: { type: string; user: unknown; redactedAt: string | null }[] } };
    };
    assert.equal(result.errors, undefined, JSON.stringify(result));
    assert.deepEqual(
      result.data?.userHistory.nodes.map((e) => [e.type, e.user, e.redactedAt === events[0]?.redactedAt]),
      [
        ["CREATED", null, true],
        ["UPDATED", null, true],
        ["DELETED", null, true],
      ],
      "GraphQL",
    );
  });

  test("the writer's token reads nothing: its scopes are users:write only", async () => {
    assert.equal((await rest("GET", "/v1/users/1/history", write)).status, 403);
  });
});
