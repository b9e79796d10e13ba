/**
 * Consumer pact of the SDK (`charter-sdk`) with the gateway (`charter-gateway`): the real SDK
 * drives Pact's mock server, and each interaction records what the SDK sends and the parts of
 * the answer it relies on — matchers where the provider chooses the value (ids, etags,
 * timestamps), provider-state values injected where a request must name them. The pact is
 * written into a temp dir and compared with pacts/charter-sdk-charter-gateway.json
 * (`UPDATE_PACTS=1 npm run pact:consumer` refreshes it); `npm run pact:verify` checks it
 * against the real gateway.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { MatchersV3, PactV4 } from "@pact-foundation/pact";
import { freePorts } from "../scripts/infra/index.js";
import {
  STATE_NO_STATS,
  STATE_NO_USERS,
  STATE_USER_CHANGED,
  STATE_USER_EXISTS,
  STATE_USER_HISTORY,
  STATE_USER_HISTORY_ERASED,
  STATE_USERS_EXIST,
} from "../scripts/lib/pact-provider-states.js";
import { EXAMPLE_TOKEN, operationScopes, tokenState } from "../scripts/lib/pact-tokens.js";
import { createUsersClient, type Result, type UsersClient } from "../sdk/index.js";
import { checkPactFile, createPactOutput, mockServerFetch, recorded } from "./support/pact-files.js";
import {
  AUTH,
  ENTITY_TAG,
  EXAMPLE_ID,
  ID,
  JSON_TYPE,
  PROBLEM_TYPE,
  problemBody,
  ref,
  TIMESTAMP,
} from "./support/pact-matchers.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const { eachLike, fromProviderState, like, regex } = MatchersV3;

const ADA_ID = EXAMPLE_ID;
const ada = { name: "Ada Lovelace", email: "ada@example.com" };

/** A user as the provider returns it: fixed values where the consumer chose them, matchers where the provider does. */
function userBody(fields: { name: string; email: string }, etag = "1") {
  return {
    id: regex(ID, ADA_ID),
    name: fields.name,
    email: fields.email,
    etag: like(etag),
    createTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
    updateTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
  };
}

function expectOk<T>(result: Result<T>, status: number): T {
  if (!result.ok) assert.fail(`expected ${status}, got ${result.status}: ${JSON.stringify(result.problem)}`);
  assert.equal(result.status, status);
  return result.data;
}

function expectProblem<T>(result: Result<T>, status: number, code: string) {
  if (result.ok) assert.fail(`expected a ${status} problem, got ${result.status}`);
  assert.equal(result.status, status);
  assert.equal(result.problem.code, code);
  return result.problem;
}

describe("pact: charter-sdk → charter-gateway", () => {
  const output = createPactOutput();
  // A new mock server per interaction, on a port taken from Node rather than left to the mock server
  // (test files run in parallel and their mock servers must never share a port); the interactions
  // are merged into one pact file in output.dir.
  const interaction = async () => {
    const port = (await freePorts(1))[0] as number;
    return new PactV4({
      consumer: "charter-sdk",
      provider: "charter-gateway",
      dir: output.dir,
      logLevel: "warn",
      port,
    });
  };
  const sdk = (url: string): UsersClient =>
    createUsersClient({ baseUrl: url, fetch: mockServerFetch, token: EXAMPLE_TOKEN });
  after(() => output.remove());

  test("create: 201 with the user, Location and ETag", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_NO_USERS)
      .given(tokenState(operationScopes("createUser")))
      .uponReceiving("a request to create a user")
      .withRequest("POST", "/v1/users", (b) => b.headers({ ...AUTH, "Content-Type": "application/json" }).jsonBody(ada))
      .willRespondWith(201, (b) =>
        b
          .headers({
            ...JSON_TYPE,
            Location: regex("^/v1/users/[0-9]{1,19}$", `/v1/users/${ADA_ID}`),
            ETag: regex(ENTITY_TAG, '"1"'),
          })
          .jsonBody(userBody(ada)),
      )
      .executeTest(
        recorded(async (mock) => {
          const created = await sdk(mock.url).create(ada);
          const user = expectOk(created, 201);
          assert.equal(user.email, ada.email);
          assert.equal(created.ok && created.etag, '"1"');
        }),
      );
  });

  test("get: 200 with the user and its ETag", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(operationScopes("getUser")))
      .uponReceiving("a request for an existing user")
      .withRequest("GET", fromProviderState(`/v1/users/${ref("id")}`, `/v1/users/${ADA_ID}`), (b) => b.headers(AUTH))
      .willRespondWith(200, (b) => b.headers({ ...JSON_TYPE, ETag: regex(ENTITY_TAG, '"1"') }).jsonBody(userBody(ada)))
      .executeTest(
        recorded(async (mock) => {
          const user = expectOk(await sdk(mock.url).get(ADA_ID), 200);
          assert.equal(user.id, ADA_ID);
          assert.equal(user.name, ada.name);
        }),
      );
  });

  test("lookup by email: 200 with the user and its ETag, whatever the case of the address", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(operationScopes("lookupUser")))
      .uponReceiving("a request to look up a user by email, in upper case")
      .withRequest("POST", "/v1/users:lookup", (b) =>
        b.headers({ ...AUTH, "Content-Type": "application/json" }).jsonBody({ email: ada.email.toUpperCase() }),
      )
      .willRespondWith(200, (b) => b.headers({ ...JSON_TYPE, ETag: regex(ENTITY_TAG, '"1"') }).jsonBody(userBody(ada)))
      .executeTest(
        recorded(async (mock) => {
          const found = await sdk(mock.url).lookupUser(ada.email.toUpperCase());
          const user = expectOk(found, 200);
          assert.equal(user.email, ada.email);
          assert.equal(found.ok && found.etag, '"1"');
        }),
      );
  });

  test("lookup of an email no user has: 404 NOT_FOUND problem", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_NO_USERS)
      .given(tokenState(operationScopes("lookupUser")))
      .uponReceiving("a request to look up a user by an email no user has")
      .withRequest("POST", "/v1/users:lookup", (b) =>
        b.headers({ ...AUTH, "Content-Type": "application/json" }).jsonBody({ email: ada.email }),
      )
      .willRespondWith(404, (b) => b.headers(PROBLEM_TYPE).jsonBody(problemBody(404, "NOT_FOUND")))
      .executeTest(
        recorded(async (mock) => {
          expectProblem(await sdk(mock.url).lookupUser(ada.email), 404, "NOT_FOUND");
        }),
      );
  });

  test("list: one page of users with nextPageToken", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USERS_EXIST, { count: 2 })
      .given(tokenState(operationScopes("listUsers")))
      .uponReceiving("a request for the first page of users")
      .withRequest("GET", "/v1/users", (b) => b.headers(AUTH).query({ pageSize: "1" }))
      .willRespondWith(200, (b) =>
        b.headers(JSON_TYPE).jsonBody({
          users: eachLike({
            id: regex(ID, ADA_ID),
            name: like("User 1"),
            email: like("user-1@example.com"),
            etag: like("1"),
            createTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
            updateTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
          }),
          nextPageToken: like("djE6NzI4MTYzNDI1MTkzODgxNjAwMQ"),
        }),
      )
      .executeTest(
        recorded(async (mock) => {
          const page = expectOk(await sdk(mock.url).list({ pageSize: 1 }), 200);
          assert.equal(page.users.length, 1);
          assert.ok(page.nextPageToken, "a first page of two users has a next page");
        }),
      );
  });

  test("history: a deleted user's events, oldest first, walked by the iterator", async () => {
    const renamed = { ...ada, name: "Ada King" };
    const event = (type: string, version: number, user?: Record<string, unknown>) => ({
      eventId: like(`${ADA_ID}-${version}`),
      type,
      userId: regex(ID, ADA_ID),
      ...(user === undefined ? {} : { user }),
      version: String(version),
      occurredAt: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
    });
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_HISTORY, { ...ada, newName: renamed.name })
      .given(tokenState(operationScopes("listUserHistory")))
      .uponReceiving("a request for the history of a user that was created, renamed and deleted")
      .withRequest("GET", fromProviderState(`/v1/users/${ref("id")}/history`, `/v1/users/${ADA_ID}/history`), (b) =>
        b.headers(AUTH),
      )
      .willRespondWith(200, (b) =>
        b.headers(JSON_TYPE).jsonBody({
          events: [
            event("CREATED", 1, userBody(ada, "1")),
            event("UPDATED", 2, userBody(renamed, "2")),
            event("DELETED", 3),
          ],
        }),
      )
      .executeTest(
        recorded(async (mock) => {
          const walked = [];
          for await (const e of sdk(mock.url).userHistory(ADA_ID)) walked.push(e);
          assert.deepEqual(
            walked.map((e) => [e.type, e.version, e.user?.name]),
            [
              ["CREATED", "1", ada.name],
              ["UPDATED", "2", renamed.name],
              ["DELETED", "3", undefined],
            ],
          );
        }),
      );
  });

  test("history erased: the deleted user's events keep their skeleton and redactedAt, without the user", async () => {
    const event = (type: string, version: number) => ({
      eventId: like(`${ADA_ID}-${version}`),
      type,
      userId: regex(ID, ADA_ID),
      version: String(version),
      occurredAt: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
      redactedAt: regex(TIMESTAMP, "2026-02-16T11:00:00Z"),
    });
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_HISTORY_ERASED, { ...ada, newName: "Ada King" })
      .given(tokenState(operationScopes("listUserHistory")))
      .uponReceiving("a request for the history of a deleted user whose history was erased")
      .withRequest("GET", fromProviderState(`/v1/users/${ref("id")}/history`, `/v1/users/${ADA_ID}/history`), (b) =>
        b.headers(AUTH),
      )
      .willRespondWith(200, (b) =>
        b.headers(JSON_TYPE).jsonBody({
          events: [event("CREATED", 1), event("UPDATED", 2), event("DELETED", 3)],
        }),
      )
      .executeTest(
        recorded(async (mock) => {
          const walked = [];
          for await (const e of sdk(mock.url).userHistory(ADA_ID)) walked.push(e);
          assert.deepEqual(
            walked.map((e) => [e.type, e.version, e.user, e.redactedAt]),
            [
              ["CREATED", "1", undefined, "2026-02-16T11:00:00Z"],
              ["UPDATED", "2", undefined, "2026-02-16T11:00:00Z"],
              ["DELETED", "3", undefined, "2026-02-16T11:00:00Z"],
            ],
          );
        }),
      );
  });

  test("stats: 503 UNAVAILABLE while the stats pipeline is not running", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_NO_STATS)
      .given(tokenState(operationScopes("getUserStats")))
      .uponReceiving("a request for the latest user stats where no stats pipeline runs")
      .withRequest("GET", "/v1/stats/users", (b) => b.headers(AUTH))
      .willRespondWith(503, (b) =>
        b.headers(PROBLEM_TYPE).jsonBody(
          problemBody(503, "UNAVAILABLE", {
            detail: regex("^the stats pipeline is not running.*$", "the stats pipeline is not running"),
          }),
        ),
      )
      .executeTest(
        recorded(async (mock) => {
          const problem = expectProblem(await sdk(mock.url).getUserStats(), 503, "UNAVAILABLE");
          assert.match(problem.detail ?? "", /stats pipeline is not running/);
        }),
      );
  });

  test("update with If-Match: 200 with the changed user and a new ETag", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(operationScopes("updateUser")))
      .uponReceiving("a request to rename a user at its current etag")
      .withRequest("PATCH", fromProviderState(`/v1/users/${ref("id")}`, `/v1/users/${ADA_ID}`), (b) =>
        b
          .headers({
            ...AUTH,
            "Content-Type": "application/merge-patch+json",
            "If-Match": fromProviderState(`"${ref("etag")}"`, '"1"'),
          })
          .jsonBody({ name: "Ada King" }),
      )
      .willRespondWith(200, (b) =>
        b
          .headers({ ...JSON_TYPE, ETag: regex(ENTITY_TAG, '"2"') })
          .jsonBody(userBody({ name: "Ada King", email: ada.email }, "2")),
      )
      .executeTest(
        recorded(async (mock) => {
          const updated = expectOk(await sdk(mock.url).update(ADA_ID, { name: "Ada King" }, { ifMatch: "1" }), 200);
          assert.equal(updated.name, "Ada King");
        }),
      );
  });

  test("delete with If-Match: 204", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(operationScopes("deleteUser")))
      .uponReceiving("a request to delete a user at its current etag")
      .withRequest("DELETE", fromProviderState(`/v1/users/${ref("id")}`, `/v1/users/${ADA_ID}`), (b) =>
        b.headers({ ...AUTH, "If-Match": fromProviderState(`"${ref("etag")}"`, '"1"') }),
      )
      .willRespondWith(204)
      .executeTest(
        recorded(async (mock) => {
          expectOk(await sdk(mock.url).delete(ADA_ID, { ifMatch: "1" }), 204);
        }),
      );
  });

  test("get of an unknown id: 404 NOT_FOUND problem", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_NO_USERS)
      .given(tokenState(operationScopes("getUser")))
      .uponReceiving("a request for a user that does not exist")
      .withRequest("GET", `/v1/users/${ADA_ID}`, (b) => b.headers(AUTH))
      .willRespondWith(404, (b) => b.headers(PROBLEM_TYPE).jsonBody(problemBody(404, "NOT_FOUND")))
      .executeTest(
        recorded(async (mock) => {
          expectProblem(await sdk(mock.url).get(ADA_ID), 404, "NOT_FOUND");
        }),
      );
  });

  test("create with a taken email: 409 ALREADY_EXISTS problem", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(operationScopes("createUser")))
      .uponReceiving("a request to create a user with an email already in use")
      .withRequest("POST", "/v1/users", (b) =>
        b.headers({ ...AUTH, "Content-Type": "application/json" }).jsonBody({ name: "Another Ada", email: ada.email }),
      )
      .willRespondWith(409, (b) => b.headers(PROBLEM_TYPE).jsonBody(problemBody(409, "ALREADY_EXISTS")))
      .executeTest(
        recorded(async (mock) => {
          expectProblem(await sdk(mock.url).create({ name: "Another Ada", email: ada.email }), 409, "ALREADY_EXISTS");
        }),
      );
  });

  test("update at a stale etag: 412 ABORTED problem", async () => {
    await (await interaction())
      .addInteraction()
      .given(STATE_USER_CHANGED, ada)
      .given(tokenState(operationScopes("updateUser")))
      .uponReceiving("a request to rename a user at an etag that is no longer current")
      .withRequest("PATCH", fromProviderState(`/v1/users/${ref("id")}`, `/v1/users/${ADA_ID}`), (b) =>
        b
          .headers({
            ...AUTH,
            "Content-Type": "application/merge-patch+json",
            "If-Match": fromProviderState(`"${ref("staleEtag")}"`, '"1"'),
          })
          .jsonBody({ name: "Ada King" }),
      )
      .willRespondWith(412, (b) => b.headers(PROBLEM_TYPE).jsonBody(problemBody(412, "ABORTED")))
      .executeTest(
        recorded(async (mock) => {
          expectProblem(await sdk(mock.url).update(ADA_ID, { name: "Ada King" }, { ifMatch: "1" }), 412, "ABORTED");
        }),
      );
  });

  test("create with an invalid email: 400 INVALID_ARGUMENT problem listing the field", async () => {
    const body = { name: "Ada Lovelace", email: "not-an-email" };
    await (await interaction())
      .addInteraction()
      .given(STATE_NO_USERS)
      .given(tokenState(operationScopes("createUser")))
      .uponReceiving("a request to create a user with an invalid email")
      .withRequest("POST", "/v1/users", (b) =>
        b.headers({ ...AUTH, "Content-Type": "application/json" }).jsonBody(body),
      )
      .willRespondWith(400, (b) =>
        b.headers(PROBLEM_TYPE).jsonBody(
          problemBody(400, "INVALID_ARGUMENT", {
            errors: eachLike({ field: "/email", message: like('must match format "email"') }),
          }),
        ),
      )
      .executeTest(
        recorded(async (mock) => {
          const problem = expectProblem(await sdk(mock.url).create(body), 400, "INVALID_ARGUMENT");
          assert.deepEqual(
            problem.errors?.map((e) => e.field),
            ["/email"],
          );
        }),
      );
  });

  test("the committed pact file is what these interactions write", () => {
    checkPactFile(output.dir, "charter-sdk-charter-gateway.json");
  });
});
