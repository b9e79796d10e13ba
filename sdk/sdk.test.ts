/**
 * The SDK against the real gateway and users service (processes on port 0, in-memory backends),
 * imported the way another project imports it: by the package name, through package.json's
 * "exports". CRUD with etags, each documented problem typed, the page-walking iterator, what a
 * network failure does, and a user's history (the users process hosts the audit service on these
 * embedded defaults).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  clientCredentials,
  createUsersClient,
  isProblemError,
  type Result,
  type User,
  type UserEvent,
  type UsersClient,
} from "charter/sdk";
import { freePorts } from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import {
  GATEWAY_ENTRY,
  otherServicesOffline,
  type RunningPlatform,
  startPlatform,
} from "../scripts/lib/start-platform.js";
import { createOpenApiValidator } from "../test/support/openapi-validator.js";

/** The SDK's own token provider, against the development issuer the platform trusts (client credentials). */
function tokenFor(platform: RunningPlatform): () => Promise<string> {
  const issuer = platform.issuer;
  const client = issuer?.clients[0];
  if (!issuer || !client) throw new Error("the platform runs no development issuer");
  return clientCredentials({
    tokenUrl: issuer.tokenEndpoint,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    scopes: client.scopes,
    audience: issuer.audience,
  });
}

const email = (tag = "") => `${tag}${randomUUID().slice(0, 8)}@example.com`;

function expectOk<T>(result: Result<T>, status: number): { data: T; etag: string | undefined } {
  if (!result.ok) assert.fail(`expected ${status}, got ${result.status}: ${JSON.stringify(result.problem)}`);
  assert.equal(result.status, status);
  return result;
}

function expectProblem<T>(result: Result<T>, status: number, code: string) {
  if (result.ok) assert.fail(`expected a ${status} problem, got ${result.status}: ${JSON.stringify(result.data)}`);
  assert.equal(result.status, status);
  assert.equal(result.problem.status, status, "the problem repeats the HTTP status");
  assert.equal(result.problem.code, code);
  assert.equal(typeof result.problem.type, "string");
  assert.equal(typeof result.problem.title, "string");
  return result.problem;
}

describe("users SDK against the real gateway", () => {
  let platform: RunningPlatform;
  let sdk: UsersClient;

  before(async () => {
    platform = await startPlatform();
    sdk = createUsersClient({ baseUrl: platform.baseUrl, token: tokenFor(platform) });
  });
  after(async () => {
    await platform?.stop();
  });

  test("create, get, update with and without If-Match, delete", async () => {
    const mail = email("ada.");
    const created = expectOk(await sdk.create({ name: "Ada Lovelace", email: mail }), 201);
    const user: User = created.data;
    assert.match(user.id, /^[0-9]{1,19}$/);
    assert.equal(user.name, "Ada Lovelace");
    assert.equal(user.email, mail);
    assert.equal(created.etag, `"${user.etag}"`, "the ETag header is the user's etag, quoted");

    const got = expectOk(await sdk.get(user.id), 200);
    assert.deepEqual(got.data, user);
    assert.equal(got.etag, created.etag);

    const renamed = expectOk(await sdk.update(user.id, { name: "Ada King" }, { ifMatch: user.etag }), 200);
    assert.equal(renamed.data.name, "Ada King");
    assert.equal(renamed.data.email, mail, "a merge patch keeps the fields it does not name");
    assert.notEqual(renamed.data.etag, user.etag);
    assert.equal(renamed.etag, `"${renamed.data.etag}"`);

    const stale = expectProblem(await sdk.update(user.id, { name: "Lost" }, { ifMatch: user.etag }), 412, "ABORTED");
    assert.ok(stale.detail, "a 412 says what went wrong");

    const latest = expectOk(await sdk.update(user.id, { name: "Countess" }), 200);
    assert.equal(latest.data.name, "Countess", "without If-Match the latest version is changed");

    // An entity tag as the ETag header gives it is accepted as it is.
    expectProblem(await sdk.delete(user.id, { ifMatch: renamed.etag ?? "" }), 412, "ABORTED");
    const deleted = expectOk(await sdk.delete(user.id, { ifMatch: latest.etag ?? "" }), 204);
    assert.equal(deleted.data, undefined);

    expectProblem(await sdk.get(user.id), 404, "NOT_FOUND");
    expectProblem(await sdk.update(user.id, { name: "Nobody" }), 404, "NOT_FOUND");
    expectProblem(await sdk.delete(user.id), 404, "NOT_FOUND");
  });

  test("lookupUser finds a user by email case-insensitively, with its ETag; 404 and 400 are typed problems", async () => {
    const mail = email("Ada.Lookup.");
    const created = expectOk(await sdk.create({ name: "Ada Lookup", email: mail }), 201);
    const found = expectOk(await sdk.lookupUser(mail.toUpperCase()), 200);
    assert.deepEqual(found.data, created.data, "upper case finds the lower-case address");
    assert.equal(found.etag, created.etag);

    const missing = expectProblem(await sdk.lookupUser(email("nobody.")), 404, "NOT_FOUND");
    assert.equal(missing.detail, "no user has this email");
    for (const bad of ["not-an-email", "ünï@example.com"]) {
      const refused = expectProblem(await sdk.lookupUser(bad), 400, "INVALID_ARGUMENT");
      assert.deepEqual(
        refused.errors?.map((e) => e.field),
        ["/email"],
        bad,
      );
    }
  });

  test("a taken email is a typed 409 problem, on create and on update", async () => {
    const mail = email("grace.");
    expectOk(await sdk.create({ name: "Grace Hopper", email: mail }), 201);
    expectProblem(await sdk.create({ name: "Another Grace", email: mail.toUpperCase() }), 409, "ALREADY_EXISTS");

    const other = expectOk(await sdk.create({ name: "Alan Turing", email: email("alan.") }), 201).data;
    expectProblem(await sdk.update(other.id, { email: mail }), 409, "ALREADY_EXISTS");
  });

  test("invalid input is a typed 400 problem that lists the bad fields", async () => {
    const created = expectProblem(
      await sdk.create({ name: "Bad Email", email: "not-an-email" }),
      400,
      "INVALID_ARGUMENT",
    );
    assert.ok(
      created.errors?.some((e) => e.field === "/email" && e.message.length > 0),
      `errors names /email: ${JSON.stringify(created.errors)}`,
    );

    const both = expectProblem(await sdk.create({ name: "   ", email: "x" }), 400, "INVALID_ARGUMENT");
    const fields = (both.errors ?? []).map((e) => e.field).sort();
    assert.ok(fields.includes("/email") && fields.includes("/name"), `every bad field is listed: ${fields}`);

    const user = expectOk(await sdk.create({ name: "Valid", email: email() }), 201).data;
    expectProblem(await sdk.update(user.id, {}), 400, "INVALID_ARGUMENT");
    expectProblem(await sdk.get("not-a-number"), 400, "INVALID_ARGUMENT");
    expectProblem(await sdk.list({ pageSize: 0 }), 400, "INVALID_ARGUMENT");
  });

  test("listAll walks every page in creation order, a page at a time", async () => {
    const tag = `page.${randomUUID().slice(0, 6)}.`;
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      created.push(expectOk(await sdk.create({ name: `Paged ${i}`, email: email(tag) }), 201).data.id);
    }
    const requests: string[] = [];
    const counting = createUsersClient({
      baseUrl: platform.baseUrl,
      headers: { "x-client": "sdk-test" },
      token: tokenFor(platform),
      fetch: (request) => {
        requests.push(request.url);
        assert.equal(request.headers.get("x-client"), "sdk-test", "the client's headers go with every request");
        assert.match(request.headers.get("authorization") ?? "", /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, "and the token");
        return fetch(request);
      },
    });

    const seen: User[] = [];
    for await (const user of counting.listAll({ pageSize: 2 })) seen.push(user);
    const total = seen.length;
    assert.ok(total >= created.length);
    assert.equal(new Set(seen.map((u) => u.id)).size, total, "no user twice");
    assert.deepEqual(
      seen.filter((u) => u.email.startsWith(tag)).map((u) => u.id),
      created,
      "the created users, in creation order",
    );
    assert.ok(requests.length >= Math.ceil(total / 2), `one request per page of 2 (${requests.length} for ${total})`);
    assert.ok(requests.every((url) => new URL(url).searchParams.get("pageSize") === "2"));
    assert.ok(
      requests.slice(1).every((url) => new URL(url).searchParams.has("pageToken")),
      "later pages use tokens",
    );

    const viaUsers: string[] = [];
    for await (const user of sdk.users({ pageSize: 3 })) viaUsers.push(user.id);
    assert.deepEqual(
      viaUsers,
      seen.map((u) => u.id),
      "users() is the same walk",
    );

    const page = expectOk(await sdk.list({ pageSize: 2 }), 200).data;
    assert.equal(page.users.length, 2);
    assert.ok(page.nextPageToken, "a full first page has a next page");
    const next = expectOk(await sdk.list({ pageSize: 2, pageToken: page.nextPageToken }), 200).data;
    assert.notDeepEqual(
      next.users.map((u) => u.id),
      page.users.map((u) => u.id),
    );
  });

  test("a problem while iterating is thrown as a ProblemError", async () => {
    const walk = async () => {
      for await (const _ of sdk.listAll({ pageSize: 0 })) assert.fail("no user expected");
    };
    await assert.rejects(walk, (error: unknown) => {
      assert.ok(isProblemError(error), `a ProblemError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.equal(error.problem.code, "INVALID_ARGUMENT");
      return true;
    });
  });

  test("a network failure throws (it is not an HTTP answer)", async () => {
    const [port] = await freePorts(1);
    const nowhere = createUsersClient({ baseUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(nowhere.get("1"), TypeError);
  });
});

describe("users SDK: a user's history, against the real gateway and audit service", () => {
  const validator = createOpenApiValidator();
  let platform: RunningPlatform;
  let sdk: UsersClient;
  const requests: string[] = [];

  /** fetch, with every answer checked against the contract's operation for it. */
  const checkedFetch = async (request: Request): Promise<Response> => {
    requests.push(request.url);
    const response = await fetch(request);
    const text = await response.clone().text();
    const operation = validator.operationFor(request.method, new URL(request.url).pathname);
    assert.ok(operation, `${request.method} ${request.url} is in the contract`);
    assert.deepEqual(validator.check(operation.id, { status: response.status, headers: response.headers, text }), []);
    return response;
  };

  before(async () => {
    platform = await startPlatform();
    sdk = createUsersClient({ baseUrl: platform.baseUrl, fetch: checkedFetch, token: tokenFor(platform) });
  });
  after(async () => {
    await platform?.stop();
  });

  test("create, update, delete: listUserHistory pages and userHistory walks the three events", async () => {
    const mail = email("history.");
    const user = expectOk(await sdk.create({ name: "Ada Lovelace", email: mail }), 201).data;
    expectOk(await sdk.update(user.id, { name: "Ada King" }), 200);
    expectOk(await sdk.delete(user.id), 204);

    const events = await waitFor(
      "the three events in the history",
      async () => {
        const page = expectOk(await sdk.listUserHistory(user.id), 200).data;
        return page.events.length >= 3 ? page.events : undefined;
      },
      10_000,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.version, e.userId]),
      [
        ["CREATED", "1", user.id],
        ["UPDATED", "2", user.id],
        ["DELETED", "3", user.id],
      ],
    );
    assert.deepEqual(events[0]?.user, user, "the user as created");
    assert.equal(events[1]?.user?.name, "Ada King");
    assert.equal(events[1]?.user?.email, mail);
    assert.equal(events[2]?.user, undefined, "a DELETED event has no user");

    const first = expectOk(await sdk.listUserHistory(user.id, { pageSize: 2 }), 200).data;
    assert.deepEqual(
      first.events.map((e) => e.eventId),
      events.slice(0, 2).map((e) => e.eventId),
    );
    assert.ok(first.nextPageToken, "a full first page has a next page");
    const rest = expectOk(
      await sdk.listUserHistory(user.id, { pageSize: 2, pageToken: first.nextPageToken ?? "" }),
      200,
    ).data;
    assert.deepEqual(
      rest.events.map((e) => e.eventId),
      [events[2]?.eventId],
    );

    requests.length = 0;
    const walked: UserEvent[] = [];
    for await (const event of sdk.userHistory(user.id, { pageSize: 1 })) walked.push(event);
    assert.deepEqual(walked, events, "the iterator yields every event, in order");
    assert.ok(requests.length >= 3, `one request per event with pages of one (${requests.length})`);
    assert.ok(requests.every((url) => new URL(url).searchParams.get("pageSize") === "1"));
    assert.ok(
      requests.slice(1).every((url) => new URL(url).searchParams.has("pageToken")),
      "later pages use tokens",
    );
  });

  test("an id with no recorded change has an empty history; a bad id is a typed problem, thrown by the iterator", async () => {
    // Ids are snowflakes far above 1: no user ever had this one.
    assert.deepEqual(expectOk(await sdk.listUserHistory("1"), 200).data, { events: [] });

    const problem = expectProblem(await sdk.listUserHistory("not-a-number"), 400, "INVALID_ARGUMENT");
    assert.deepEqual(
      problem.errors?.map((e) => e.field),
      ["id"],
    );
    expectProblem(await sdk.listUserHistory("1", { pageSize: 1001 }), 400, "INVALID_ARGUMENT");
    await assert.rejects(
      async () => {
        for await (const _ of sdk.userHistory("not-a-number")) assert.fail("no event expected");
      },
      (error: unknown) => isProblemError(error) && error.status === 400,
    );
  });

  test("with the audit service unreachable, the history is a typed 503 problem (UNAVAILABLE)", async () => {
    const [nowhere] = await freePorts(1);
    let gateway: ServiceProcess | undefined;
    try {
      gateway = await startService(
        GATEWAY_ENTRY,
        {
          GATEWAY_PORT: "0",
          GATEWAY_HOST: "127.0.0.1",
          ...otherServicesOffline(),
          USERS_ADDR: `127.0.0.1:${platform.users.ready.grpcPort}`,
          AUDIT_ADDR: `127.0.0.1:${nowhere}`,
          AUTH_ISSUER: platform.issuer?.issuer ?? "",
          AUTH_AUDIENCE: platform.issuer?.audience ?? "",
        },
        "gateway ready",
      );
      const degraded = createUsersClient({
        baseUrl: `http://127.0.0.1:${gateway.ready.port}`,
        fetch: checkedFetch,
        token: tokenFor(platform),
      });
      const problem = expectProblem(await degraded.listUserHistory("1"), 503, "UNAVAILABLE");
      assert.doesNotMatch(problem.detail ?? "", /127\.0\.0\.1|ECONNREFUSED/);
      expectOk(await degraded.list({ pageSize: 1 }), 200);
    } finally {
      await gateway?.stop();
    }
  });
});
