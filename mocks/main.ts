/**
 * `npm run mock`: the three mocks from the contracts, with no backend — REST (Prism) on 4010,
 * gRPC on 50052, GraphQL on 4011 — all answering with the OpenAPI document's examples; every other service's
 * REST mock is a Prism of its own, its gRPC service and GraphQL fields join the users mocks' port and schema. Logs a
 * JSON "mocks ready" line with the three ports (and `serviceMocks`, the other services' addresses) once all of them
 * answer, then prints their addresses; Ctrl-C stops all three.
 *
 *   npm run mock -- --dynamic             Prism generates bodies from the schemas instead
 *   npm run mock -- --stateful            one in-memory store behind all three, seeded from the examples (and one
 *                                         for each other service, behind its three)
 *   npm run mock -- --record <gateway-url> [--record-grpc <users-host:port>] [--out recordings] [--pact <file>]
 *                                         one proxy to a real gateway (REST and its /graphql) that records each call
 *                                         into <operationId>.json files (addresses masked, no tokens), optionally a pact;
 *                                         with --record-grpc the gRPC port too, a proxy to the users service recording
 *                                         each call into <service>.<RPC>.json (protobuf JSON), in the same recording
 *   npm run mock -- --replay recordings   REST, GraphQL and gRPC answer with the recording, still validated against
 *                                         the contracts (or REST and GraphQL with a pact file's interactions);
 *                                         docs/mocks.md#record-and-replay
 *   MOCK_FAULTS='getUser=503@0.5' MOCK_SEED=7 npm run mock   configured errors per operation, at a seeded rate
 *   npm run mock -- --rest-port 0 …       ports by flag (--rest-port, --grpc-port, --graphql-port, --host)
 *   MOCK_REST_PORT=0 npm run mock         or by environment (MOCK_*_PORT, MOCK_HOST); 0 picks a free port
 */
import { runMain } from "../platform/lifecycle.js";
import { createLogger } from "../platform/logging.js";
import { onFreePort } from "../platform/net.js";
import { loadContractExamples } from "./contract-examples.js";
import { entityStoreOf } from "./entity-service.js";
import { createFaultInjector, parseFaults } from "./faults.js";
import { startGraphqlMock } from "./graphql-mock.js";
import { contractMock, MOCKED_SERVICES, startGrpcMock, USERS_MOCK } from "./grpc-mock.js";
import { startGrpcRecordProxy } from "./grpc-record-proxy.js";
import { loadMockConfig } from "./mock-config.js";
import { MockStore, type User } from "./mock-store.js";
import { pickExample } from "./prefer.js";
import { startRecordProxy } from "./record-proxy.js";
import { createRecording, loadReplay } from "./recording.js";
import { startReplayRest } from "./replay-rest.js";
import { startRestFront } from "./rest-front.js";
import { startRestMock } from "./rest-mock.js";
import { otherServiceContracts, startServiceRestMocks } from "./service-mocks.js";
import { startStatefulRest, userRoutes } from "./stateful-rest.js";

runMain("mock", async () => {
  const config = loadMockConfig();
  const logger = createLogger("mock", config.logLevel);
  const examples = loadContractExamples();
  if (config.record) {
    const target = new URL(config.record);
    const dir = config.recordingDir;
    const { pact, recordGrpc } = config;
    const recording = createRecording(dir);
    const recorder = await startRecordProxy({
      host: config.host,
      port: config.restPort,
      examples,
      target,
      recording,
      ...(pact ? { pact } : {}),
    });
    const grpcRecorder = recordGrpc
      ? await startGrpcRecordProxy({
          host: config.host,
          port: config.grpcPort,
          logger,
          services: [USERS_MOCK],
          target: recordGrpc,
          recording,
        }).catch(async (error: unknown) => {
          await recorder.stop();
          throw error;
        })
      : undefined;
    logger.info(
      {
        restPort: recorder.port,
        ...(grpcRecorder ? { grpcPort: grpcRecorder.port, recordGrpc } : {}),
        record: target.origin,
        recordingDir: dir,
        pact,
      },
      "mocks ready",
    );
    process.stdout.write(`
Recording ${target.origin} (REST, and GraphQL on /graphql) through http://${config.host}:${recorder.port}${
      grpcRecorder ? `\nand ${recordGrpc} (gRPC, ${USERS_MOCK.name}) through ${config.host}:${grpcRecorder.port}` : ""
    }
into ${dir}/${pact ? ` and ${pact}` : ""}
(addresses masked, tokens never written). Replay it with: npm run mock -- --replay ${dir}
Press Ctrl-C to stop.
`);
    return {
      stop: async () => {
        await grpcRecorder?.stop();
        await recorder.stop();
      },
    };
  }
  const exampleUser = pickExample(examples.operation("getUser").examples, {}, "getUser") as User;
  // Every other service's contracts (found by directory): its REST mock is a Prism of its own behind a front of its
  // own, its RPCs join the gRPC mock's port, its root fields the GraphQL mock's schema. MOCK_FAULTS may name the
  // operations of any of the documents.
  const contracts = otherServiceContracts();
  const faults = createFaultInjector(
    parseFaults(config.faults, [examples, ...contracts.map((c) => c.examples)]),
    config.seed,
  );
  // The stateful mode's store starts with every user the examples show: the example user, then each listed one.
  const store = config.stateful
    ? new MockStore([
        exampleUser,
        ...[...examples.operation("listUsers").examples.values()].flatMap((page) => (page as { users: User[] }).users),
      ])
    : undefined;
  // And every other service's store, seeded from its own contract's examples, behind its three mocks.
  const serviceStores = new Map(
    config.stateful ? contracts.map((contract) => [contract.name, entityStoreOf(contract.examples)] as const) : [],
  );
  const shared = { faults, ...(store ? { store } : {}) };
  const replay = config.replay ? loadReplay(config.replay) : undefined;
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  const otherGrpc = await Promise.all(contracts.map((c) => contractMock(c.name, c.openapi, c.examples)));
  const grpcStores = new Map(
    contracts.flatMap((contract, i) => {
      const serviceStore = serviceStores.get(contract.name);
      const service = otherGrpc[i];
      return serviceStore && service
        ? [[service.name, { store: serviceStore, collection: contract.name }] as const]
        : [];
    }),
  );

  try {
    const grpc = await startGrpcMock({
      host: config.host,
      port: config.grpcPort,
      logger,
      examples,
      services: [...MOCKED_SERVICES, ...otherGrpc],
      serviceStores: grpcStores,
      ...shared,
      ...(replay ? { replay } : {}),
    });
    stops.push(grpc.stop);
    const graphql = await startGraphqlMock({
      host: config.host,
      port: config.graphqlPort,
      examples,
      services: contracts.flatMap(({ name, sdl, examples }) => {
        const serviceStore = serviceStores.get(name);
        return sdl === undefined ? [] : [{ name, sdl, examples, ...(serviceStore ? { store: serviceStore } : {}) }];
      }),
      ...shared,
      ...(replay ? { replay } : {}),
    });
    stops.push(graphql.stop);
    const upstream = store
      ? await startStatefulRest({ host: "127.0.0.1", examples, routes: userRoutes(store, examples) })
      : replay
        ? await startReplayRest({ host: "127.0.0.1", examples, replay })
        : undefined;
    if (upstream) stops.push(upstream.stop);

    // Prism, on loopback behind the REST front, takes a port number: one that was free a moment ago (tried again
    // if taken meanwhile).
    const prism = await onFreePort((port) =>
      startRestMock({
        host: "127.0.0.1",
        port,
        dynamic: config.dynamic,
        probePath: `/v1/users/${exampleUser.id}`,
        ...(upstream ? { upstream: upstream.url } : {}),
      }),
    );
    stops.push(prism.stop);
    void prism.exited.then(async (code) => {
      if (stopping) return;
      process.stderr.write(`mock: Prism exited unexpectedly (${code}):\n${prism.output()}\n`);
      await stopAll();
      process.exit(1);
    });

    const front = await startRestFront({
      host: config.host,
      port: config.restPort,
      examples,
      target: new URL(`http://127.0.0.1:${prism.port}`),
      faults,
      proxied: upstream !== undefined,
    });
    stops.push(front.stop);
    const others = await startServiceRestMocks({
      host: config.host,
      dynamic: config.dynamic,
      contracts,
      faults,
      stores: serviceStores,
    });
    for (const other of others) stops.push(other.stop);

    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const urls = {
      rest: `http://${host}:${front.port}`,
      grpc: `${host}:${grpc.port}`,
      graphql: `http://${host}:${graphql.port}/graphql`,
      // Every other service's REST mock, by name.
      services: Object.fromEntries(others.map((other) => [other.name, `http://${host}:${other.port}`])),
    };
    // Every other service's three mocks, by name: its own Prism, and the users mocks' gRPC port and GraphQL endpoint.
    const serviceMocks = Object.fromEntries(
      contracts.map((contract, i) => [
        contract.name,
        {
          rest: urls.services[contract.name],
          grpc: urls.grpc,
          grpcService: otherGrpc[i]?.name,
          ...(contract.sdl === undefined ? {} : { graphql: urls.graphql }),
        },
      ]),
    );
    logger.info(
      {
        restPort: front.port,
        grpcPort: grpc.port,
        graphqlPort: graphql.port,
        dynamic: config.dynamic,
        stateful: config.stateful,
        replay: config.replay,
        ...urls,
        serviceMocks,
      },
      "mocks ready",
    );
    process.stdout.write(`
Charter mocks are running (from contracts/; no backend${config.stateful ? "; stateful: one store behind all three" : ""}${config.replay ? `; replaying ${config.replay}` : ""}).

  REST     ${urls.rest}/v1/users   (Prism${config.dynamic ? ", --dynamic" : ""}; header Prefer: code=404 | example=<name> | delay=<ms>)
  gRPC     ${urls.grpc}   (charter.users.v1.UsersService, charter.audit.v1.AuditService; metadata prefer: code=NOT_FOUND | example=<name> | delay=<ms>; health + reflection)
  GraphQL  ${urls.graphql}   (header Prefer: code=NOT_FOUND | example=<name> | delay=<ms>)
${contracts
  .map(
    ({ name, sdl }, i) => `
  ${name}, from its own contracts' examples${config.stateful ? " (stateful: one store of its own behind all three)" : ""}:
  REST     ${urls.services[name]}/v1/${name}   (Prism; header Prefer: code=404 | example=<name> | delay=<ms>)
  gRPC     ${urls.grpc}   (${otherGrpc[i]?.name}, on the same port; metadata prefer as above)
${sdl === undefined ? "" : `  GraphQL  ${urls.graphql}   (its root fields, merged into the users schema)\n`}`,
  )
  .join("")}
  Example user: ${exampleUser.id} (the OpenAPI document's examples feed all three)
  Its history:  ${urls.rest}/v1/users/${exampleUser.id}/history, AuditService.ListUserHistory, userHistory

  Tokens: every call needs "Authorization: Bearer <token>" (gRPC: authorization metadata), as the
  platform does, but the mocks verify nothing: any well-formed JWT will do (docs/mocks.md).

Press Ctrl-C to stop.
`);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { stop: stopAll };
});
