/**
 * A user's history end to end on the embedded defaults (no broker: the in-process bus, the audit service hosted
 * by the users process): create, update and delete through REST, then the three events through REST and GraphQL,
 * in order, every response valid against the contract, and the history still served after the delete.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const HISTORY_DEADLINE_MS = 10_000;
let platform: RunningPlatform;
const validator = createOpenApiValidator();

before(async () => {
  platform = await startPlatform(issuer.env);
});
after(async () => {
  await platform?.stop();
});

interface RestEvent {
  eventId: string;
  type: string;
  userId: string;
  user?: { name: string; email: string; etag: string };
  version: string;
  occurredAt: string;
}

/** The response's JSON body, after checking the response against the contract's operation for it. */
async function checked(response: Response, method: string, path: string): Promise<unknown> {
  const text = await response.text();
  const operation = validator.operationFor(method, new URL(path, "http://x").pathname);
  assert.ok(operation, `${method} ${path} is in the contract`);
  assert.deepEqual(validator.check(operation.id, { status: response.status, headers: response.headers, text }), []);
  return JSON.parse(text);
}

describe("user events and history on the embedded bus", () => {
  test("create, update, delete: the history shows the three events in order, through REST and GraphQL", async () => {
    const json = { "content-type": "application/json", authorization };
    const email = `history-${randomUUID()}@example.com`;
    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "Ada Lovelace", email }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const updated = await fetch(`${platform.baseUrl}/v1/users/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json", authorization },
      body: JSON.stringify({ name: "Ada King" }),
    });
    assert.equal(updated.status, 200);
    assert.equal(
      (await fetch(`${platform.baseUrl}/v1/users/${id}`, { method: "DELETE", headers: { authorization } })).status,
      204,
    );
    assert.equal((await fetch(`${platform.baseUrl}/v1/users/${id}`, { headers: { authorization } })).status, 404);

    const path = `/v1/users/${id}/history`;
    const events = await waitFor(
      "three events in the history",
      async () => {
        const response = await fetch(`${platform.baseUrl}${path}`, { headers: { authorization } });
        const body = (await checked(response, "GET", path)) as { events: RestEvent[] };
        return body.events.length >= 3 ? body.events : undefined;
      },
      HISTORY_DEADLINE_MS,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.version, e.userId]),
      [
        ["CREATED", "1", id],
        ["UPDATED", "2", id],
        ["DELETED", "3", id],
      ],
    );
    assert.equal(events[0]?.user?.name, "Ada Lovelace");
    assert.equal(events[1]?.user?.name, "Ada King");
    assert.equal(events[1]?.user?.email, email);
    assert.equal(events[2]?.user, undefined);
    assert.equal(new Set(events.map((e) => e.eventId)).size, 3);

    // Page by page: one event a page, the tokens lead through all three.
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const pagePath = `${path}?pageSize=1${token ? `&pageToken=${token}` : ""}`;
      const response = await fetch(`${platform.baseUrl}${pagePath}`, { headers: { authorization } });
      const body = (await checked(response, "GET", pagePath)) as { events: RestEvent[]; nextPageToken?: string };
      paged.push(...body.events.map((e) => e.eventId));
      token = body.nextPageToken;
    } while (token);
    assert.deepEqual(
      paged,
      events.map((e) => e.eventId),
    );

    const query = `query ($id: ID!) { userHistory(id: $id, first: 10) {
      nodes { eventId type version user { name } }
      pageInfo { hasNextPage }
    } }`;
    const graphql = await fetch(`${platform.baseUrl}/graphql`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ query, variables: { id } }),
    });
    const result = (await graphql.json()) as {
      data?: {
        userHistory: { nodes: { eventId: string; type: string; version: string; user: { name: string } | null }[] };
      };
      errors?: unknown;
    };
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.deepEqual(
      result.data?.userHistory.nodes.map((n) => [n.eventId, n.type, n.version, n.user?.name ?? null]),
      events.map((e) => [e.eventId, e.type, e.version, e.user?.name ?? null]),
    );
  });

  test("history of an id with no events is empty; a bad id or page size is a 400 problem", async () => {
    const empty = await fetch(`${platform.baseUrl}/v1/users/123/history`, { headers: { authorization } });
    assert.deepEqual(await checked(empty, "GET", "/v1/users/123/history"), { events: [] });
    for (const path of ["/v1/users/abc/history", "/v1/users/1/history?pageSize=0", "/v1/users/1/history?pageToken=x"]) {
      const response = await fetch(`${platform.baseUrl}${path}`, { headers: { authorization } });
      assert.equal(response.status, 400, path);
      await checked(response, "GET", path);
    }
  });

  test("readiness lists the audit service", async () => {
    const ready = (await (await fetch(`${platform.baseUrl}/readyz`)).json()) as { checks: Record<string, string> };
    assert.equal(ready.checks["charter.audit.v1.AuditService"], "SERVING");
  });
});
