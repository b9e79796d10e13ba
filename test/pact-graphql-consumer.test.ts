/**
 * Consumer pact of a web front end (`charter-web`) with the gateway's GraphQL endpoint (provider
 * `charter-gateway`, the same deployable as the REST API, so `npm run pact:verify` checks both
 * pacts in one run): queries (a profile, a lookup, an erased history) and a mutation over HTTP POST /graphql. The pact is written
 * into a temp dir and compared with pacts/charter-web-charter-gateway.json
 * (`UPDATE_PACTS=1 npm run pact:consumer` refreshes it).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { MatchersV3, PactV4 } from "@pact-foundation/pact";
import { freePorts } from "../scripts/infra/index.js";
import { STATE_NO_USERS, STATE_USER_EXISTS, STATE_USER_HISTORY_ERASED } from "../scripts/lib/pact-provider-states.js";
import { EXAMPLE_TOKEN, graphqlFieldScopes, tokenState } from "../scripts/lib/pact-tokens.js";
import { checkPactFile, createPactOutput, mockServerFetch, recorded } from "./support/pact-files.js";
import { AUTH, EXAMPLE_ID, ID, ref, TIMESTAMP } from "./support/pact-matchers.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const { fromProviderState, like, regex } = MatchersV3;

const ADA_ID = EXAMPLE_ID;
const ada = { name: "Ada Lovelace", email: "ada@example.com" };

const USER_QUERY = `query UserProfile($id: ID!) {
  user(id: $id) {
    id
    name
    email
    etag
  }
}`;

const BY_EMAIL_QUERY = `query SignInByEmail($email: String!) {
  userByEmail(email: $email) {
    id
    name
    email
  }
}`;

const HISTORY_QUERY = `query UserHistory($id: ID!) {
  userHistory(id: $id) {
    nodes {
      type
      version
      occurredAt
      redactedAt
      user {
        name
        email
      }
    }
  }
}`;

const CREATE_MUTATION = `mutation SignUp($input: CreateUserInput!) {
  createUser(input: $input) {
    id
    name
    email
    etag
    createTime
  }
}`;

/** What the web client does: POST a GraphQL operation as JSON and read `data` (or `errors`). */
async function graphql(url: string, operationName: string, query: string, variables: Record<string, unknown>) {
  const response = await mockServerFetch(
    new Request(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${EXAMPLE_TOKEN}` },
      body: JSON.stringify({ operationName, query, variables }),
    }),
  );
  assert.equal(response.status, 200);
  return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

describe("pact: charter-web → charter-gateway (GraphQL)", () => {
  const output = createPactOutput();
  // A new mock server per interaction, on a port taken from Node rather than left to the mock server
  // (test files run in parallel and their mock servers must never share a port); the interactions
  // are merged into one pact file in output.dir.
  const interaction = async () => {
    const port = (await freePorts(1))[0] as number;
    return new PactV4({
      consumer: "charter-web",
      provider: "charter-gateway",
      dir: output.dir,
      logLevel: "warn",
      port,
    });
  };
  after(() => output.remove());

  test("query: a user's profile by id", async () => {
    await (await interaction())
      .addGraphQLInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(graphqlFieldScopes("user")))
      .uponReceiving("a GraphQL query for a user's profile")
      .withOperation("UserProfile")
      .withVariables({ id: fromProviderState(ref("id"), ADA_ID) })
      .withRequest("POST", "/graphql", (b) => b.headers(AUTH))
      .withQuery(USER_QUERY)
      .willRespondWith(200, (b) =>
        b.jsonBody({ data: { user: { id: regex(ID, ADA_ID), name: ada.name, email: ada.email, etag: like("1") } } }),
      )
      .executeTest(
        recorded(async (mock) => {
          const { data, errors } = await graphql(mock.url, "UserProfile", USER_QUERY, { id: ADA_ID });
          assert.equal(errors, undefined);
          assert.deepEqual(data, { user: { id: ADA_ID, ...ada, etag: "1" } });
        }),
      );
  });

  test("query: a user by email, whatever its case", async () => {
    await (await interaction())
      .addGraphQLInteraction()
      .given(STATE_USER_EXISTS, ada)
      .given(tokenState(graphqlFieldScopes("userByEmail")))
      .uponReceiving("a GraphQL query for a user by email, in upper case")
      .withOperation("SignInByEmail")
      .withVariables({ email: ada.email.toUpperCase() })
      .withRequest("POST", "/graphql", (b) => b.headers(AUTH))
      .withQuery(BY_EMAIL_QUERY)
      .willRespondWith(200, (b) =>
        b.jsonBody({ data: { userByEmail: { id: regex(ID, ADA_ID), name: ada.name, email: ada.email } } }),
      )
      .executeTest(
        recorded(async (mock) => {
          const { data, errors } = await graphql(mock.url, "SignInByEmail", BY_EMAIL_QUERY, {
            email: ada.email.toUpperCase(),
          });
          assert.equal(errors, undefined);
          assert.deepEqual(data, { userByEmail: { id: ADA_ID, ...ada } });
        }),
      );
  });

  test("query: the history of a deleted user whose history was erased: the skeleton, no user", async () => {
    const node = (type: string, version: string) => ({
      type,
      version,
      occurredAt: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
      redactedAt: regex(TIMESTAMP, "2026-02-16T11:00:00Z"),
      user: null,
    });
    await (await interaction())
      .addGraphQLInteraction()
      .given(STATE_USER_HISTORY_ERASED, { ...ada, newName: "Ada King" })
      .given(tokenState(graphqlFieldScopes("userHistory")))
      .uponReceiving("a GraphQL query for the erased history of a deleted user")
      .withOperation("UserHistory")
      .withVariables({ id: fromProviderState(ref("id"), ADA_ID) })
      .withRequest("POST", "/graphql", (b) => b.headers(AUTH))
      .withQuery(HISTORY_QUERY)
      .willRespondWith(200, (b) =>
        b.jsonBody({
          data: { userHistory: { nodes: [node("CREATED", "1"), node("UPDATED", "2"), node("DELETED", "3")] } },
        }),
      )
      .executeTest(
        recorded(async (mock) => {
          const { data, errors } = await graphql(mock.url, "UserHistory", HISTORY_QUERY, { id: ADA_ID });
          assert.equal(errors, undefined);
          const { nodes } = (data as { userHistory: { nodes: Record<string, unknown>[] } }).userHistory;
          assert.deepEqual(
            nodes.map((n) => [n.type, n.version, n.user, n.redactedAt]),
            [
              ["CREATED", "1", null, "2026-02-16T11:00:00Z"],
              ["UPDATED", "2", null, "2026-02-16T11:00:00Z"],
              ["DELETED", "3", null, "2026-02-16T11:00:00Z"],
            ],
          );
        }),
      );
  });

  test("mutation: sign up a new user", async () => {
    await (await interaction())
      .addGraphQLInteraction()
      .given(STATE_NO_USERS)
      .given(tokenState(graphqlFieldScopes("createUser")))
      .uponReceiving("a GraphQL mutation creating a user")
      .withOperation("SignUp")
      .withVariables({ input: ada })
      .withRequest("POST", "/graphql", (b) => b.headers(AUTH))
      .withMutation(CREATE_MUTATION)
      .willRespondWith(200, (b) =>
        b.jsonBody({
          data: {
            createUser: {
              id: regex(ID, ADA_ID),
              name: ada.name,
              email: ada.email,
              etag: like("1"),
              createTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
            },
          },
        }),
      )
      .executeTest(
        recorded(async (mock) => {
          const { data, errors } = await graphql(mock.url, "SignUp", CREATE_MUTATION, { input: ada });
          assert.equal(errors, undefined);
          const created = data?.createUser as { id: string; email: string } | undefined;
          assert.match(created?.id ?? "", new RegExp(ID));
          assert.equal(created?.email, ada.email);
        }),
      );
  });

  test("the committed pact file is what these interactions write", () => {
    checkPactFile(output.dir, "charter-web-charter-gateway.json");
  });
});
