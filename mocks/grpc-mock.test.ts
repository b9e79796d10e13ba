import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { parse } from "yaml";
import { AuditServiceClient, ListUserHistoryResponse } from "../generated/proto/charter/audit/v1/audit.js";
import { UpdateUserRequest, UsersServiceClient } from "../generated/proto/charter/users/v1/users.js";
import { ErrorInfo } from "../generated/proto/google/rpc/error_details.js";
import { Status } from "../generated/proto/google/rpc/status.js";
import { methodScopes } from "../generated/proto/method-rules.js";
import { createLogger } from "../platform/logging.js";
import { loadContractExamples, OPENAPI_FILE } from "./contract-examples.js";
import {
  AUDIT_MOCK,
  buildGrpcAnswers,
  definitionsOfContract,
  MOCKED_SERVICES,
  startGrpcMock,
  USERS_MOCK,
} from "./grpc-mock.js";
import { createProtoChecker } from "./proto-checker.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "charter-grpc-mock-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the contract's examples make a valid answer for every RPC", () => {
  const answers = buildGrpcAnswers(loadContractExamples());
  assert.deepEqual([...answers.keys()].sort(), [
    "BatchGetUsers",
    "CreateUser",
    "DeleteUser",
    "GetUser",
    "ListUsers",
    "LookupUser",
    "UpdateUser",
  ]);
  assert.deepEqual([...(answers.get("ListUsers")?.examples.keys() ?? [])], ["firstPage", "empty"]);
});

test("the history examples become AuditService answers: UserEvents with the proto's enum names", () => {
  const answers = buildGrpcAnswers(loadContractExamples(), AUDIT_MOCK);
  assert.deepEqual([...answers.keys()].sort(), ["EraseUserHistory", "GetUserStats", "ListUserHistory"]);
  const history = answers.get("ListUserHistory");
  assert.deepEqual([...(history?.examples.keys() ?? [])], ["createdThenDeleted", "erased", "empty"]);
  const page = ListUserHistoryResponse.toJSON(
    history?.examples.get("createdThenDeleted") as ListUserHistoryResponse,
  ) as { events: { type: string; version: string; user?: { name: string } }[] };
  assert.deepEqual(
    page.events.map((e) => [e.type, e.version, e.user?.name]),
    [
      ["USER_EVENT_TYPE_CREATED", "1", "Ada Lovelace"],
      ["USER_EVENT_TYPE_UPDATED", "2", "Ada King"],
      ["USER_EVENT_TYPE_DELETED", "3", undefined],
    ],
  );
  assert.deepEqual(history?.examples.get("empty"), { events: [], nextPageToken: "" });
  const erased = ListUserHistoryResponse.toJSON(history?.examples.get("erased") as ListUserHistoryResponse) as {
    events: { type: string; user?: unknown; redactedAt?: string }[];
  };
  assert.deepEqual(
    erased.events.map((e) => [e.type, e.user, e.redactedAt]),
    [
      ["USER_EVENT_TYPE_CREATED", undefined, "2026-02-16T11:00:00Z"],
      ["USER_EVENT_TYPE_DELETED", undefined, "2026-02-16T11:00:00Z"],
    ],
  );
});

test("a history example whose event type the proto does not know stops start-up, naming the field", async () => {
  const file = join(dir, "history.v1.yaml");
  const text = await readFile(OPENAPI_FILE, "utf8");
  assert.ok(text.includes("type: UPDATED\n"));
  await writeFile(file, text.replace("type: UPDATED\n", "type: RENAMED\n"));
  assert.throws(
    () => buildGrpcAnswers(loadContractExamples(file), AUDIT_MOCK),
    /ListUserHistory example "createdThenDeleted" is not a valid charter\.audit\.v1\.ListUserHistoryResponse: events\[1\]\.type must be one of USER_EVENT_TYPE_UNSPECIFIED, USER_EVENT_TYPE_CREATED/,
  );
});

test("an OpenAPI example that breaks the proto stops start-up, naming the RPC, the example and the field", async () => {
  const file = join(dir, "users.v1.yaml");
  const text = await readFile(OPENAPI_FILE, "utf8");
  await writeFile(
    file,
    text.replace(
      'email: ada@example.com\n        etag: "1"\n        createTime',
      'email: not-an-email\n        etag: "1"\n        createTime',
    ),
  );
  assert.throws(
    () => buildGrpcAnswers(loadContractExamples(file)),
    /GetUser example "ada" is not a valid charter\.users\.v1\.GetUserResponse: user\.email must be a valid email address/,
  );
});

test("a mock example with an unknown field or a wrong type stops start-up, naming it", async () => {
  const file = join(dir, "users-service.yaml");
  const text = await readFile(USERS_MOCK.definitionsFile, "utf8");
  await writeFile(
    file,
    text.replace(
      "    none:\n      users: []",
      "    none:\n      users: []\n      total: 3\n    typo:\n      users:\n        - { id: 7, name: Ada }",
    ),
  );
  assert.throws(
    () => buildGrpcAnswers(loadContractExamples(), USERS_MOCK, file),
    (error: Error) => {
      assert.match(
        error.message,
        /BatchGetUsers example "none" .*total is not a field of charter\.users\.v1\.BatchGetUsersResponse/,
      );
      assert.match(error.message, /BatchGetUsers example "typo" .*users\[0\]\.id must be a string/);
      assert.match(error.message, /users\[0\]\.email is required/);
      return true;
    },
  );
});

test("definitions read from a contract: from the users contract, those users-service.yaml writes", async () => {
  // A scaffolded service's gRPC mock reads its definitions from its contract; read from the users contract they must
  // say what the hand-written file says (the ErrorInfo reasons aside, which no contract states).
  const examples = loadContractExamples();
  const derived = definitionsOfContract(
    USERS_MOCK.name,
    examples,
    createProtoChecker(USERS_MOCK.proto, USERS_MOCK.name),
  );
  const written = parse(await readFile(USERS_MOCK.definitionsFile, "utf8")) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(derived).sort(), Object.keys(written).sort());
  for (const [rpc, definition] of Object.entries(written)) {
    if (definition.operation === undefined) continue;
    const { reasons: _, ...wanted } = definition;
    assert.deepEqual({ body: ".", ...derived[rpc] }, { body: ".", ...wanted }, rpc);
  }
  const batch = derived.BatchGetUsers;
  assert.deepEqual(
    batch?.examples?.found,
    examples.resolve((written.BatchGetUsers?.examples as { found?: unknown } | undefined)?.found),
  );
  assert.deepEqual(batch?.examples?.none, {});
  // Its problems are those every operation documents, answered as the users service's.
  assert.ok(batch?.problems?.has("UNAVAILABLE"));
  const answers = buildGrpcAnswers(examples, { ...USERS_MOCK, definitions: derived });
  assert.deepEqual(answers.get("BatchGetUsers")?.examples.get("none"), { users: [] });
});

test("an RPC without definitions, or a definition of no RPC, stops start-up", async () => {
  const file = join(dir, "missing.yaml");
  const text = await readFile(USERS_MOCK.definitionsFile, "utf8");
  await writeFile(file, `${text.replace(/^DeleteUser:[\s\S]*?\n\n/m, "")}\nRemoveUser:\n  operation: deleteUser\n`);
  assert.throws(
    () => buildGrpcAnswers(loadContractExamples(), USERS_MOCK, file),
    (error: Error) => {
      assert.match(error.message, /DeleteUser: missing/);
      assert.match(error.message, /RemoveUser: charter\.users\.v1\.UsersService has no such RPC/);
      return true;
    },
  );
});

/** The google.rpc.ErrorInfo of a failed call, from its grpc-status-details-bin. */
function errorInfoOf(error: ServiceError): ErrorInfo | undefined {
  const bin = error.metadata.get("grpc-status-details-bin")[0];
  assert.ok(bin instanceof Buffer, `no grpc-status-details-bin on ${error.code} ${error.details}`);
  const info = Status.decode(bin).details.find((any) => any.typeUrl === "type.googleapis.com/google.rpc.ErrorInfo");
  return info && ErrorInfo.decode(info.value);
}

const failure = (call: (done: (error: ServiceError | null) => void) => void) =>
  new Promise<ServiceError>((resolve, reject) =>
    call((error) => (error ? resolve(error) : reject(new Error("the call succeeded; an error was expected")))),
  );

test("each mocked service's errors carry its own ErrorInfo domain, as the service's own do", async () => {
  // The audit contract documents no reason for the history: give its UNAVAILABLE one, so that its ErrorInfo is sent.
  const file = join(dir, "audit-service.yaml");
  await writeFile(
    file,
    (await readFile(AUDIT_MOCK.definitionsFile, "utf8")).replace(
      'body: "."\n',
      'body: "."\n  reasons:\n    UNAVAILABLE: HISTORY_STORE_UNAVAILABLE\n',
    ),
  );
  const mock = await startGrpcMock({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("mock", "silent"),
    examples: loadContractExamples(),
    services: [USERS_MOCK, { ...AUDIT_MOCK, definitionsFile: file }],
  });
  const address = `127.0.0.1:${mock.port}`;
  const users = new UsersServiceClient(address, credentials.createInsecure());
  const audit = new AuditServiceClient(address, credentials.createInsecure());
  const prefer = (value: string) => {
    const metadata = new Metadata();
    metadata.set("prefer", value);
    metadata.set("authorization", `Bearer ${ANY_TOKEN}`);
    return metadata;
  };
  try {
    const stale = await failure((done) =>
      users.updateUser(
        UpdateUserRequest.fromJSON({ user: { id: "7281634251938816001", name: "Ada King", etag: "1" } }),
        prefer("code=ABORTED"),
        done,
      ),
    );
    assert.deepEqual(errorInfoOf(stale), { reason: "ETAG_MISMATCH", domain: "users.charter.dev", metadata: {} });

    const down = await failure((done) =>
      audit.listUserHistory({ userId: "7281634251938816001", pageToken: "" }, prefer("code=UNAVAILABLE"), done),
    );
    assert.deepEqual(errorInfoOf(down), {
      reason: "HISTORY_STORE_UNAVAILABLE",
      domain: "audit.charter.dev",
      metadata: {},
    });
    // The reason the stats contract documents (mocks/grpc/audit-service.yaml), as the audit service sends it.
    const noStats = await failure((done) => audit.getUserStats({}, prefer("code=UNAVAILABLE"), done));
    assert.deepEqual(errorInfoOf(noStats), {
      reason: "STATS_PIPELINE_NOT_RUNNING",
      domain: "audit.charter.dev",
      metadata: {},
    });
  } finally {
    users.close();
    audit.close();
    await mock.stop();
  }
});

/** A JWT-shaped token nobody signed: the mock checks the shape only, so front-end teams need no issuer. */
const ANY_TOKEN = [
  { alg: "RS256", typ: "at+jwt" },
  { sub: "front-end", scope: "users:read" },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("not-a-signature")
  .join(".");

test("every RPC that needs a scope refuses a call without a well-formed bearer token: UNAUTHENTICATED", async () => {
  const mock = await startGrpcMock({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("mock", "silent"),
    examples: loadContractExamples(),
  });
  const client = new Client(`127.0.0.1:${mock.port}`, credentials.createInsecure());
  // The raw call: an empty request message, and the metadata under test.
  const call = (method: string, authorization: string[]) =>
    new Promise<ServiceError | null>((resolve) => {
      const metadata = new Metadata();
      for (const value of authorization) metadata.add("authorization", value);
      client.makeUnaryRequest(
        `/${method}`,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        Buffer.alloc(0),
        metadata,
        { deadline: Date.now() + 5000 },
        (error) => resolve(error),
      );
    });
  const refusals = [[], [ANY_TOKEN], ["Basic Y2hhcnRlcjpzZWNyZXQ="], ["Bearer not-a-jwt"], ["Bearer "]];
  try {
    // The RPCs of the services the mock serves (another service's, e.g. one made by `npm run new:service`, has none).
    const methods = Object.keys(methodScopes).filter((m) => MOCKED_SERVICES.some((s) => m.startsWith(`${s.name}/`)));
    assert.ok(methods.length >= 8, "the users and the audit RPCs");
    for (const method of methods) {
      for (const authorization of refusals) {
        const error = await call(method, authorization);
        assert.equal(error?.code, status.UNAUTHENTICATED, `${method} with ${JSON.stringify(authorization)}`);
        assert.equal(error?.details, "a valid bearer token is required");
      }
      // Any well-formed token passes the check: the empty request then meets the proto's rules, or an example.
      const accepted = await call(method, [`Bearer ${ANY_TOKEN}`]);
      assert.notEqual(accepted?.code, status.UNAUTHENTICATED, `${method}: ${accepted?.details}`);
    }
  } finally {
    client.close();
    await mock.stop();
  }
});
