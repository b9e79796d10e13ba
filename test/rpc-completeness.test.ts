/**
 * Forgetting a piece of an RPC fails here, naming the RPC and the piece: every RPC of every service of
 * contracts/proto has its gRPC handler and metrics label, a gateway backend method, a REST operation (or a
 * listed exception) with a Prism example and an SDK method, a GraphQL root field (or an @rpcException) the
 * GraphQL mock resolves, the gRPC mock's answers, and a pact interaction; an RPC of a service the gateway
 * transcodes (one made by `npm run new:service`) has the pieces such a service has, its operation and field
 * accepted by the gateway's transcoder and resolvers, its gRPC mock's answers and the GraphQL mock's resolver, and no
 * SDK method or pact. Static: no server is started. See docs/adding-an-rpc.md for the steps and
 * test/support/rpc-completeness.ts for how each piece is read.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  checkRpcCompleteness,
  formatMissing,
  fullName,
  loadRpcPieces,
  type Piece,
  type RpcPieces,
} from "./support/rpc-completeness.js";

const LOOKUP = "charter.users.v1.UsersService/LookupUser";
const USERS = "charter.users.v1.UsersService";

/** Removes one name from one service's list. */
const without = (
  record: Readonly<Record<string, readonly string[] | string>>,
  service: string,
  name: string,
): Record<string, readonly string[] | string> => {
  const list = record[service];
  return { ...record, [service]: Array.isArray(list) ? list.filter((n) => n !== name) : (list ?? []) };
};

/** The real pieces with one piece of LookupUser taken away, for each piece of a hand-written service. */
const removals: Readonly<Record<Exclude<Piece, "gateway-transcoding">, (pieces: RpcPieces) => RpcPieces>> = {
  "grpc-handler": (p) => ({
    ...p,
    grpcHandlers: without(p.grpcHandlers, USERS, "lookupUser") as RpcPieces["grpcHandlers"],
  }),
  "rpc-metrics-label": (p) => ({
    ...p,
    rpcLabels: without(p.rpcLabels, USERS, "LookupUser") as RpcPieces["rpcLabels"],
  }),
  "gateway-backend": (p) => ({ ...p, backends: without(p.backends, USERS, "lookupUser") as RpcPieces["backends"] }),
  "rest-operation": (p) => ({
    ...p,
    restOperations: p.restOperations.map((op) => (op.rpc === LOOKUP ? { ...op, rpc: undefined } : op)),
  }),
  "prism-example": (p) => ({
    ...p,
    restOperations: p.restOperations.map((op) => (op.rpc === LOOKUP ? { ...op, example: false } : op)),
  }),
  "sdk-method": (p) => ({ ...p, sdkClient: p.sdkClient.filter((m) => m !== "lookupUser") }),
  "graphql-field": (p) => ({
    ...p,
    graphqlFields: p.graphqlFields.map((f) => (f.rpc === LOOKUP ? { ...f, rpc: undefined } : f)),
  }),
  "graphql-mock": (p) => ({ ...p, graphqlMock: p.graphqlMock.filter((f) => f !== "Query.userByEmail") }),
  "grpc-mock": (p) => ({ ...p, grpcMock: without(p.grpcMock, USERS, "LookupUser") }),
  pact: (p) => ({
    ...p,
    pactInteractions: p.pactInteractions.filter(
      (i) => i.path !== "/v1/users:lookup" && !i.graphqlFields.includes("Query.userByEmail"),
    ),
  }),
};

// A name no service of the tree has (a scaffold test's copy holds books).
const TOMES = "charter.tomes.v1.TomesService";
const GET_TOME = `${TOMES}/GetTome`;

/** The pieces with a service the gateway serves by transcoding, as `npm run new:service` makes one, complete. */
const withTomes = (p: RpcPieces): RpcPieces => ({
  ...p,
  rpcs: [...p.rpcs, { service: TOMES, name: "GetTome", handlerName: "getTome" }],
  transcoded: [...p.transcoded, TOMES],
  grpcHandlers: { ...p.grpcHandlers, [TOMES]: ["getTome"] },
  rpcLabels: { ...p.rpcLabels, [TOMES]: ["GetTome"] },
  backends: { ...p.backends, [TOMES]: ["getTome"] },
  restOperations: [
    ...p.restOperations,
    { id: "getTome", method: "GET", path: "/v1/tomes/{id}", rpc: GET_TOME, example: true },
  ],
  graphqlFields: [...p.graphqlFields, { field: "Query.tome", rpc: GET_TOME }],
  grpcMock: { ...p.grpcMock, [TOMES]: ["GetTome"] },
  graphqlMock: [...p.graphqlMock, "Query.tome"],
});

/** The pieces with tomes, one piece of GetTome taken away, for each piece a transcoded service has. */
const tomeRemovals: Readonly<Partial<Record<Piece, (pieces: RpcPieces) => RpcPieces>>> = {
  "grpc-handler": (p) => ({ ...p, grpcHandlers: { ...p.grpcHandlers, [TOMES]: [] } }),
  "rpc-metrics-label": (p) => ({ ...p, rpcLabels: { ...p.rpcLabels, [TOMES]: [] } }),
  "gateway-backend": (p) => ({ ...p, backends: { ...p.backends, [TOMES]: [] } }),
  "grpc-mock": (p) => ({ ...p, grpcMock: { ...p.grpcMock, [TOMES]: [] } }),
  "graphql-mock": (p) => ({ ...p, graphqlMock: p.graphqlMock.filter((f) => f !== "Query.tome") }),
  "rest-operation": (p) => ({ ...p, restOperations: p.restOperations.filter((op) => op.rpc !== GET_TOME) }),
  "prism-example": (p) => ({
    ...p,
    restOperations: p.restOperations.map((op) => (op.rpc === GET_TOME ? { ...op, example: false } : op)),
  }),
  "gateway-transcoding": (p) => ({
    ...p,
    restOperations: p.restOperations.map((op) =>
      op.rpc === GET_TOME ? { ...op, unservable: "getTome: no 2xx response" } : op,
    ),
  }),
  "graphql-field": (p) => ({ ...p, graphqlFields: p.graphqlFields.filter((f) => f.rpc !== GET_TOME) }),
};

describe("RPC completeness", () => {
  let pieces: RpcPieces;
  before(async () => {
    pieces = await loadRpcPieces();
  });

  test("every RPC of contracts/proto is counted, of both services", () => {
    const names = pieces.rpcs.map(fullName);
    assert.ok(names.includes(LOOKUP), names.join(", "));
    assert.ok(names.includes("charter.audit.v1.AuditService/ListUserHistory"), names.join(", "));
    assert.ok(names.includes("charter.users.v1.UsersService/BatchGetUsers"), names.join(", "));
    assert.equal(new Set(names).size, names.length, "each RPC once");
  });

  test("the real tree has every piece of every RPC", () => {
    const missing = checkRpcCompleteness(pieces);
    assert.deepEqual(missing.map(formatMissing), []);
  });

  test("the documented exceptions say why", () => {
    assert.ok(Object.keys(pieces.restExceptions).length > 0, "BatchGetUsers has no REST operation, by design");
    for (const [rpc, reason] of [
      ...Object.entries(pieces.restExceptions),
      ...Object.entries(pieces.graphqlExceptions),
    ]) {
      assert.ok(reason.trim().length > 20, `${rpc}: an exception needs its reason`);
    }
  });

  for (const [piece, remove] of Object.entries(removals) as [Piece, (p: RpcPieces) => RpcPieces][]) {
    test(`a hand-written RPC without its ${piece} fails, naming the RPC and the piece`, () => {
      const missing = checkRpcCompleteness(remove(pieces));
      assert.deepEqual(
        missing.map((m) => [m.rpc, m.piece]),
        [[LOOKUP, piece]],
        missing.map(formatMissing).join("\n"),
      );
      assert.ok(missing[0]?.detail, "it says what is missing");
    });
  }

  test("a transcoded service is held to its own pieces: no SDK or pact of its own is asked", () => {
    assert.deepEqual(checkRpcCompleteness(withTomes(pieces)).map(formatMissing), []);
    const handWritten = checkRpcCompleteness({ ...withTomes(pieces), transcoded: pieces.transcoded });
    assert.deepEqual(
      handWritten.map((m) => m.piece),
      ["sdk-method", "pact"],
      "the same service, were it hand-written, would need them",
    );
  });

  for (const [piece, remove] of Object.entries(tomeRemovals) as [Piece, (p: RpcPieces) => RpcPieces][]) {
    test(`a transcoded service's RPC without its ${piece} fails, naming the RPC and the piece`, () => {
      const missing = checkRpcCompleteness(remove(withTomes(pieces)));
      assert.deepEqual(
        missing.map((m) => [m.rpc, m.piece]),
        [[GET_TOME, piece]],
        missing.map(formatMissing).join("\n"),
      );
    });
  }

  test("a new RPC with nothing but its proto fails on every piece", () => {
    const added = { service: USERS, name: "RenameUser", handlerName: "renameUser" };
    const missing = checkRpcCompleteness({ ...pieces, rpcs: [...pieces.rpcs, added] });
    assert.deepEqual(
      missing.map((m) => m.piece),
      ["grpc-handler", "rpc-metrics-label", "gateway-backend", "grpc-mock", "rest-operation", "graphql-field"],
      missing.map(formatMissing).join("\n"),
    );
    assert.ok(missing.every((m) => m.rpc === `${USERS}/RenameUser`));
  });

  test("a marking that names no RPC, or an exception beside an operation, is refused", () => {
    const typo = "charter.users.v1.UsersService/LookupUsers";
    const marked = checkRpcCompleteness({
      ...pieces,
      restOperations: pieces.restOperations.map((op) => (op.rpc === LOOKUP ? { ...op, rpc: typo } : op)),
    });
    assert.deepEqual(
      marked.map((m) => [m.rpc, m.piece]),
      [
        [typo, "rest-operation"],
        [LOOKUP, "rest-operation"],
      ],
      marked.map(formatMissing).join("\n"),
    );
    const both = checkRpcCompleteness({ ...pieces, graphqlExceptions: { ...pieces.graphqlExceptions, [LOOKUP]: "x" } });
    assert.deepEqual(
      both.map((m) => [m.rpc, m.piece]),
      [[LOOKUP, "graphql-field"]],
    );
  });
});
