/**
 * `npm run mock -- --record <gateway-url> --record-grpc <users-address>` and `--replay <dir>` as a user runs them: the
 * shared SDK scenario list (sdk/scenarios/users.json, the TypeScript runner), a GraphQL create and read, and a
 * sequence of gRPC calls with the generated client go through the recording proxies to a live gateway and users
 * service, then pass again against the replay with the platform stopped, with other addresses. The recording, and the
 * pact written beside it, hold no real e-mail address and no token; a request the recording does not hold is the
 * contract's problem (GraphQL, gRPC: error) saying so; answers edited to break the contracts are refused, not passed
 * on.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { clientCredentials, createUsersClient, type UsersClient } from "charter/sdk";
import {
  CreateUserRequest,
  CreateUserResponse,
  DeleteUserResponse,
  GetUserResponse,
  ListUsersResponse,
  UpdateUserRequest,
  UpdateUserResponse,
  UsersServiceClient,
} from "../generated/proto/charter/users/v1/users.js";
import { statusJsonOf } from "../mocks/grpc-status.js";
import { EmailMasker } from "../mocks/recording.js";
import { freePorts } from "../platform/net.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { createOpenApiValidator } from "./support/openapi-validator.js";
import { runScenario, scenarioList } from "./support/sdk-scenarios.js";

const root = mkdtempSync(join(tmpdir(), "charter-recording-"));
const dir = join(root, "recording");
const pactFile = join(root, "recorded.pact.json");
// The replay verifies no token (as every mock): any JWT-shaped one will do.
const MOCK_TOKEN = [{ alg: "none" }, { sub: "replaying-client" }]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("unsigned")
  .join(".");
const validator = createOpenApiValidator();
const BROKEN_ID = "4040404040404040";
const EDITED_SEQ = 1_000_000;
const ports = { MOCK_REST_PORT: "0", MOCK_GRPC_PORT: "0", MOCK_GRAPHQL_PORT: "0" };
let platform: RunningPlatform | undefined;
let recorder: ServiceProcess | undefined;
let replay: ServiceProcess | undefined;
let token = "";

/** Runs every scenario of the list with `sdk`; the failures, each with its scenario's name. */
async function runList(sdk: UsersClient): Promise<string[]> {
  const failures: string[] = [];
  for (const scenario of scenarioList.scenarios) {
    await runScenario(sdk, scenario).catch((error: Error) => failures.push(`${scenario.name}: ${error.message}`));
  }
  return failures;
}
const restOf = (mocks: ServiceProcess) => `http://127.0.0.1:${mocks.ready.restPort}`;

const CREATE = "mutation ($input: CreateUserInput!) { createUser(input: $input) { id name email etag } }";
const USER = "query ($id: ID!) { user(id: $id) { id name email } }";
// biome-ignore lint/suspicious/noExplicitAny: GraphQL results, asserted field by field
type GraphqlResult = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
async function graphql(url: string, authorization: string, query: string, variables: object): Promise<GraphqlResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlResult;
}
/** A create and a read over GraphQL, with an address of this run: recorded, then replayed. */
async function graphqlCalls(url: string, authorization: string) {
  const email = `graph.${randomBytes(4).toString("hex")}@example.com`;
  const created = await graphql(url, authorization, CREATE, { input: { name: "Graph Ql", email } });
  const read = await graphql(url, authorization, USER, { id: created.data?.createUser?.id ?? "0" });
  return { email, created, read };
}
let recordedOverGraphql: Awaited<ReturnType<typeof graphqlCalls>>;

/** A unary call of the generated client as a promise: the response, or the error. */
function unary<Req, Res>(
  call: (request: Req, metadata: Metadata, done: (error: ServiceError | null, response: Res) => void) => unknown,
  request: Req,
  metadata: Metadata,
): Promise<{ ok: Res } | { error: ServiceError }> {
  return new Promise((resolve) => {
    call(request, metadata, (error, response) => resolve(error ? { error } : { ok: response }));
  });
}
const withToken = (authorization: string) => {
  const metadata = new Metadata();
  if (authorization) metadata.set("authorization", authorization);
  return metadata;
};
/** An outcome as a client sees it: the response in protobuf JSON, or the status with its details. */
const outcome = <Res>(result: { ok: Res } | { error: ServiceError }, toJSON: (message: Res) => unknown) =>
  "ok" in result
    ? { ok: toJSON(result.ok) }
    : { code: result.error.code, message: result.error.details, status: statusJsonOf(result.error.metadata) };
type Outcome = ReturnType<typeof outcome>;

/**
 * Create, get, update with the right etag and with a stale one, list, delete, get (NOT_FOUND) over gRPC with an
 * address of this run: recorded, then replayed.
 */
async function grpcCalls(address: string, authorization: string) {
  const users = new UsersServiceClient(address, credentials.createInsecure());
  const metadata = withToken(authorization);
  const email = `rpc.${randomBytes(4).toString("hex")}@example.com`;
  try {
    const create = CreateUserRequest.fromJSON({ user: { name: "Grpc Call", email } });
    const created = await unary<CreateUserRequest, CreateUserResponse>(users.createUser.bind(users), create, metadata);
    const user = "ok" in created ? created.ok.user : undefined;
    const id = user?.id ?? "0";
    const etag = user?.etag ?? "";
    const get = () => unary<{ id: string }, GetUserResponse>(users.getUser.bind(users), { id }, metadata);
    const got = await get();
    const rename = (name: string) =>
      unary<UpdateUserRequest, UpdateUserResponse>(
        users.updateUser.bind(users),
        UpdateUserRequest.fromJSON({ user: { id, name, etag }, updateMask: "name" }),
        metadata,
      );
    const updated = await rename("Grpc Renamed");
    const stale = await rename("Grpc Lost");
    const listed = await unary<{ pageSize: number; pageToken: string }, ListUsersResponse>(
      users.listUsers.bind(users),
      { pageSize: 1000, pageToken: "" },
      metadata,
    );
    const newEtag = "ok" in updated ? (updated.ok.user?.etag ?? "") : "";
    const deleted = await unary<{ id: string; etag: string }, DeleteUserResponse>(
      users.deleteUser.bind(users),
      { id, etag: newEtag },
      metadata,
    );
    const gone = await get();
    const outcomes: Outcome[] = [
      outcome(created, CreateUserResponse.toJSON),
      outcome(got, GetUserResponse.toJSON),
      outcome(updated, UpdateUserResponse.toJSON),
      outcome(stale, UpdateUserResponse.toJSON),
      outcome(listed, ListUsersResponse.toJSON),
      outcome(deleted, DeleteUserResponse.toJSON),
      outcome(gone, GetUserResponse.toJSON),
    ];
    return { email, outcomes };
  } finally {
    users.close();
  }
}
let recordedOverGrpc: Awaited<ReturnType<typeof grpcCalls>>;
const grpcOf = (mocks: ServiceProcess) => `127.0.0.1:${mocks.ready.grpcPort}`;
const GET_USER_FILE = "charter.users.v1.UsersService.GetUser.json";
const recorded = () => readdirSync(dir).map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));

before(async () => {
  platform = await startPlatform();
  const issuer = platform.issuer;
  const client = issuer?.clients[0];
  if (!issuer || !client) throw new Error("the platform runs no development issuer");
  const tokens = clientCredentials({
    tokenUrl: issuer.tokenEndpoint,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    scopes: client.scopes,
    audience: issuer.audience,
  });
  token = await tokens(); // kept by the provider: the token every recorded call carries
  recorder = await startService(
    "mocks/main.ts",
    {
      MOCK_RECORD: platform.baseUrl,
      MOCK_RECORD_GRPC: `127.0.0.1:${platform.users.ready.grpcPort}`,
      MOCK_RECORDING_DIR: dir,
      MOCK_PACT: pactFile,
      ...ports,
    },
    "mocks ready",
  );
  const failures = await runList(createUsersClient({ baseUrl: restOf(recorder), token: tokens }));
  assert.deepEqual(failures, [], "the list passes through the recording proxy to the live gateway");
  recordedOverGraphql = await graphqlCalls(`${restOf(recorder)}/graphql`, `Bearer ${token}`);
  assert.equal(recordedOverGraphql.read.data?.user?.email, recordedOverGraphql.email, "GraphQL through the recorder");
  recordedOverGrpc = await grpcCalls(grpcOf(recorder), `Bearer ${token}`);
  assert.deepEqual(
    recordedOverGrpc.outcomes.map((o) => ("ok" in o ? "OK" : o.code)),
    ["OK", "OK", "OK", status.ABORTED, "OK", "OK", status.NOT_FOUND],
    `gRPC through the recorder to the live users service: ${JSON.stringify(recordedOverGrpc.outcomes)}`,
  );
  assert.equal(await recorder.stop(), 0, `the recorder did not stop cleanly:\n${recorder.output.join("\n")}`);
  recorder = undefined;
  await platform.stop();
  platform = undefined;
  // Answers edited into the recording by hand that break the contracts (a user without its email and etag; a
  // GraphQL user without its non-null email, which the GraphQL mock must not fill in).
  const getUser = JSON.parse(readFileSync(join(dir, "getUser.json"), "utf8"));
  getUser.interactions.push({
    seq: EDITED_SEQ,
    request: { method: "GET", path: `/v1/users/${BROKEN_ID}`, query: "", headers: {} },
    response: { status: 200, headers: { "content-type": "application/json" }, body: { id: BROKEN_ID, name: "Edited" } },
  });
  writeFileSync(join(dir, "getUser.json"), JSON.stringify(getUser));
  const overGraphql = JSON.parse(readFileSync(join(dir, "graphql.json"), "utf8"));
  overGraphql.interactions.push({
    seq: EDITED_SEQ + 1,
    request: { ...overGraphql.interactions[0].request, body: { query: USER, variables: { id: BROKEN_ID } } },
    response: {
      status: 200,
      headers: {},
      body: { data: { user: { id: BROKEN_ID, name: "Edited" } } },
    },
  });
  writeFileSync(join(dir, "graphql.json"), JSON.stringify(overGraphql));
  const overGrpc = JSON.parse(readFileSync(join(dir, GET_USER_FILE), "utf8"));
  overGrpc.interactions.push({
    seq: EDITED_SEQ + 2,
    request: { id: BROKEN_ID },
    answer: { message: { user: { id: BROKEN_ID, name: "Edited" } } },
  });
  writeFileSync(join(dir, GET_USER_FILE), JSON.stringify(overGrpc));
  replay = await startService("mocks/main.ts", { MOCK_REPLAY: dir, ...ports }, "mocks ready", 60_000);
});

after(async () => {
  await recorder?.stop();
  await platform?.stop();
  if (replay) assert.equal(await replay.stop(), 0, `the replay did not stop cleanly:\n${replay.output.join("\n")}`);
  rmSync(root, { recursive: true, force: true });
});

describe("mocks that record and replay", () => {
  test("the recording has a file of examples per operation the list called, every address masked", () => {
    const files = recorded();
    assert.deepEqual(files.map((f) => f.name).sort(), [
      "charter.users.v1.UsersService.CreateUser.json",
      "charter.users.v1.UsersService.DeleteUser.json",
      "charter.users.v1.UsersService.GetUser.json",
      "charter.users.v1.UsersService.ListUsers.json",
      "charter.users.v1.UsersService.UpdateUser.json",
      "createUser.json",
      "deleteUser.json",
      "getUser.json",
      "graphql.json",
      "listUsers.json",
      "lookupUser.json",
      "updateUser.json",
    ]);
    const createUser = JSON.parse(files.find((f) => f.name === "createUser.json")?.text ?? "{}");
    assert.equal(createUser.path, "/v1/users");
    const first = createUser.interactions[0];
    assert.equal(first.seq, 1);
    assert.deepEqual(first.request.body, { name: "Ada Lovelace", email: "user-1@example.invalid" });
    assert.equal(first.response.status, 201);
    assert.equal(first.response.body.email, "user-1@example.invalid");
    assert.match(first.response.headers.etag, /^"\d+"$/);
  });

  test("neither the recording nor its pact holds a real e-mail address or a token", () => {
    const pact = readFileSync(pactFile, "utf8");
    const seen: string[] = [];
    for (const { name, text } of [...recorded(), { name: "the pact", text: pact }]) {
      const addresses = text.match(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g) ?? [];
      seen.push(...addresses);
      assert.deepEqual(
        addresses.filter((a) => !/^user-\d+@example\.invalid$/i.test(a)),
        [],
        `${name}: unmasked addresses`,
      );
      assert.ok(!text.includes(token), `${name} holds the bearer token`);
      assert.doesNotMatch(text, /authorization|Bearer [\w-]+\.[\w-]+\./i, `${name} holds a credential`);
    }
    // The list's addresses (ada, lookup, nobody, grace, alan, paged1–5, each its own mask) and their capitals.
    assert.ok(new Set(seen.map((a) => a.toLowerCase())).size >= 10, `masked addresses: ${[...new Set(seen)]}`);
    assert.ok(
      seen.some((a) => /^USER-\d+@EXAMPLE\.INVALID$/.test(a)),
      "an address sent in capitals is masked in capitals",
    );
    const parsed = JSON.parse(pact);
    assert.equal(parsed.metadata.pactSpecification.version, "4.0");
    const seqsOf = (files: { text: string }[]) =>
      files
        .flatMap(({ text }) => JSON.parse(text).interactions.map((i: { seq: number }) => i.seq))
        .filter((seq) => seq < EDITED_SEQ);
    const seqs = seqsOf(recorded());
    const overHttp = seqsOf(recorded().filter(({ name }) => !name.startsWith("charter.")));
    assert.equal(parsed.interactions.length, overHttp.length, "the pact has every REST and GraphQL interaction");
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      seqs.map((_, i) => i + 1),
      "numbered in recorded order, REST, GraphQL and gRPC in one sequence",
    );
  });

  test("a gRPC call is recorded in protobuf JSON: the request, the answer or the status with its details", () => {
    const updates = JSON.parse(readFileSync(join(dir, "charter.users.v1.UsersService.UpdateUser.json"), "utf8"));
    assert.equal(updates.service, "charter.users.v1.UsersService");
    assert.equal(updates.rpc, "UpdateUser");
    const [renamed, stale] = updates.interactions;
    assert.equal(renamed.request.updateMask, "name");
    assert.equal(renamed.answer.message.user.name, "Grpc Renamed");
    assert.match(renamed.answer.message.user.email, /^user-\d+@example\.invalid$/);
    assert.equal(stale.answer.status.code, status.ABORTED);
    assert.deepEqual(
      stale.answer.status.details.find((d: { "@type": string }) => d["@type"].endsWith("google.rpc.ErrorInfo")),
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ETAG_MISMATCH", domain: "users.charter.dev" },
    );
  });

  test("the same list passes again against the replay, with the gateway stopped", async () => {
    assert.ok(replay);
    const failures = await runList(createUsersClient({ baseUrl: restOf(replay), token: MOCK_TOKEN }));
    assert.deepEqual(failures, []);
  });

  // After the list (the replay numbers addresses in the order it sees them, as the recording did) and before the
  // unmatched requests below, which name an address of their own.
  test("GraphQL answers from the same recording, with this client's address, still held to the schema", async () => {
    assert.ok(replay);
    const url = `http://127.0.0.1:${replay.ready.graphqlPort}/graphql`;
    const { email, created, read } = await graphqlCalls(url, `Bearer ${MOCK_TOKEN}`);
    assert.notEqual(email, recordedOverGraphql.email);
    assert.deepEqual(created, {
      data: { createUser: { ...recordedOverGraphql.created.data.createUser, email } },
    });
    assert.deepEqual(read, { data: { user: { ...recordedOverGraphql.read.data.user, email } } });
    const graphqlFile = recorded().find((f) => f.name === "graphql.json")?.text ?? "";
    assert.ok(!graphqlFile.includes(recordedOverGraphql.email), "the recorded address is masked");

    const unmatched = await graphql(url, `Bearer ${MOCK_TOKEN}`, USER, { id: "4242424242" });
    assert.equal(unmatched.data?.user, null);
    assert.equal(unmatched.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
    assert.match(unmatched.errors?.[0]?.message ?? "", /no recorded interaction matches this GraphQL request/);
    const withoutToken = await graphql(url, "", USER, { id: created.data.createUser.id });
    assert.equal(withoutToken.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  // After GraphQL, as recorded; before the unmatched requests below.
  test("gRPC answers from the same recording with this client's addresses, errors with their details", async () => {
    assert.ok(replay);
    const { email, outcomes } = await grpcCalls(grpcOf(replay), `Bearer ${MOCK_TOKEN}`);
    assert.notEqual(email, recordedOverGrpc.email);
    // The same answers once each run's addresses are numbered in the order they appear, and every address the
    // replay sent back is this client's own, none a mask.
    assert.deepEqual(new EmailMasker().mask(outcomes), new EmailMasker().mask(recordedOverGrpc.outcomes));
    const recordedUser = (recordedOverGrpc.outcomes[0] as { ok: { user: object } }).ok.user;
    assert.deepEqual(
      outcomes[0],
      { ok: { user: { ...recordedUser, email } } },
      "the create, with this client's address",
    );
    assert.doesNotMatch(JSON.stringify(outcomes), /example\.invalid/i);

    const users = new UsersServiceClient(grpcOf(replay), credentials.createInsecure());
    try {
      const unmatched = await unary<{ id: string }, GetUserResponse>(
        users.getUser.bind(users),
        { id: "4242424242" },
        withToken(`Bearer ${MOCK_TOKEN}`),
      );
      const refusal = outcome(unmatched, GetUserResponse.toJSON);
      assert.equal("code" in refusal && refusal.code, status.INVALID_ARGUMENT);
      assert.match(String("message" in refusal && refusal.message), /no recorded interaction matches this call of/);
      assert.deepEqual(
        "status" in refusal &&
          refusal.status?.details.map((d) => [d["@type"], (d.fieldViolations as object[])?.length]),
        [["type.googleapis.com/google.rpc.BadRequest", 1]],
      );
      const badPrefer = withToken(`Bearer ${MOCK_TOKEN}`);
      badPrefer.set("prefer", "delay=-1");
      const refused = await unary<{ id: string }, GetUserResponse>(users.getUser.bind(users), { id: "1" }, badPrefer);
      assert.equal(
        "error" in refused && refused.error.code,
        status.INVALID_ARGUMENT,
        "prefer is read as in every mode",
      );
      const detail = "error" in refused ? statusJsonOf(refused.error.metadata)?.details[0] : undefined;
      assert.deepEqual((detail?.fieldViolations as { field: string }[] | undefined)?.[0]?.field, "prefer");
      const withoutToken = await unary<{ id: string }, GetUserResponse>(
        users.getUser.bind(users),
        { id: "1" },
        withToken(""),
      );
      assert.equal("error" in withoutToken && withoutToken.error.code, status.UNAUTHENTICATED);
      const broken = await unary<{ id: string }, GetUserResponse>(
        users.getUser.bind(users),
        { id: BROKEN_ID },
        withToken(`Bearer ${MOCK_TOKEN}`),
      );
      assert.ok("error" in broken, "the edited answer is not passed on");
      assert.equal(broken.error.code, status.INTERNAL);
      assert.match(broken.error.details, /breaks the proto: user\.email is required/);
    } finally {
      users.close();
    }
  });

  test("a request the recording does not hold is the contract's problem naming that none matched", async () => {
    assert.ok(replay);
    for (const [operationId, method, path, body] of [
      ["getUser", "GET", "/v1/users/4242424242", undefined],
      ["createUser", "POST", "/v1/users", { name: "Never Recorded", email: "never@example.com" }],
    ] as const) {
      const response = await fetch(`${restOf(replay)}${path}`, {
        method,
        headers: { authorization: `Bearer ${MOCK_TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      assert.deepEqual(validator.check(operationId, { status: response.status, headers: response.headers, text }), []);
      assert.equal(response.status, 400);
      assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
      const problem = JSON.parse(text);
      assert.equal(problem.code, "INVALID_ARGUMENT");
      assert.match(
        problem.detail,
        new RegExp(`no recorded interaction matches ${method} ${path} \\(${operationId}\\)`),
      );
    }
  });

  test("a replayed answer is still held to the contracts: one that breaks them is an error, not the body", async () => {
    assert.ok(replay);
    const response = await fetch(`${restOf(replay)}/v1/users/${BROKEN_ID}`, {
      headers: { authorization: `Bearer ${MOCK_TOKEN}` },
    });
    const text = await response.text();
    assert.equal(response.status, 500, text);
    assert.match(response.headers.get("sl-violations") ?? "", /email/);
    assert.ok(!text.includes("Edited"), "the broken body is not passed on");
    const url = `http://127.0.0.1:${replay.ready.graphqlPort}/graphql`;
    const overGraphql = await graphql(url, `Bearer ${MOCK_TOKEN}`, USER, { id: BROKEN_ID });
    assert.equal(overGraphql.data?.user, null);
    assert.equal(overGraphql.errors?.[0]?.extensions?.code, "INTERNAL");
  });

  test("a recorder whose gateway does not answer gives the contract's 503 problem and records nothing", async () => {
    const [deadPort] = await freePorts(1);
    const deadDir = join(root, "dead");
    const dead = await startService(
      "mocks/main.ts",
      {
        MOCK_RECORD: `http://127.0.0.1:${deadPort}`,
        MOCK_RECORD_GRPC: `127.0.0.1:${deadPort}`,
        MOCK_RECORDING_DIR: deadDir,
        ...ports,
      },
      "mocks ready",
    );
    try {
      const response = await fetch(`${restOf(dead)}/v1/users`, { headers: { authorization: `Bearer ${MOCK_TOKEN}` } });
      const text = await response.text();
      assert.deepEqual(validator.check("listUsers", { status: response.status, headers: response.headers, text }), []);
      assert.equal(response.status, 503);
      assert.equal(JSON.parse(text).code, "UNAVAILABLE");
      assert.match(JSON.parse(text).detail, /did not answer/);
      const users = new UsersServiceClient(grpcOf(dead), credentials.createInsecure());
      const overGrpc = await unary<{ id: string }, GetUserResponse>(
        users.getUser.bind(users),
        { id: "1" },
        withToken(`Bearer ${MOCK_TOKEN}`),
      ).finally(() => users.close());
      assert.ok("error" in overGrpc);
      assert.equal(overGrpc.error.code, status.UNAVAILABLE);
      assert.match(overGrpc.error.details, new RegExp(`the service at 127\\.0\\.0\\.1:${deadPort} did not answer`));
      assert.equal(statusJsonOf(overGrpc.error.metadata)?.code, status.UNAVAILABLE, "in the error model");
      assert.deepEqual(readdirSync(deadDir), []);
    } finally {
      assert.equal(await dead.stop(), 0);
    }
  });
});
