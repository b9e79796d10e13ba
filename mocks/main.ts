/**
 * `npm run mock`: the three mocks from the contracts, with no backend — REST (Prism) on 4010,
 * gRPC on 50052, GraphQL on 4011 — all answering with the OpenAPI document's examples. Logs a
 * JSON "mocks ready" line with the three ports once all of them answer, then prints their
 * addresses; Ctrl-C stops all three.
 *
 *   npm run mock -- --dynamic             Prism generates bodies from the schemas instead
 *   npm run mock -- --stateful            one in-memory store behind all three, seeded from the examples
 *   MOCK_FAULTS='getUser=503@0.5' MOCK_SEED=7 npm run mock   configured errors per operation, at a seeded rate
 *   npm run mock -- --rest-port 0 …       ports by flag (--rest-port, --grpc-port, --graphql-port, --host)
 *   MOCK_REST_PORT=0 npm run mock         or by environment (MOCK_*_PORT, MOCK_HOST); 0 picks a free port
 */
import { runMain } from "../platform/lifecycle.js";
import { createLogger } from "../platform/logging.js";
import { freePorts } from "../platform/net.js";
import { loadContractExamples } from "./contract-examples.js";
import { createFaultInjector, parseFaults } from "./faults.js";
import { startGraphqlMock } from "./graphql-mock.js";
import { startGrpcMock } from "./grpc-mock.js";
import { loadMockConfig } from "./mock-config.js";
import { MockStore, type User } from "./mock-store.js";
import { pickExample } from "./prefer.js";
import { startRestFront } from "./rest-front.js";
import { type RestMock, startRestMock } from "./rest-mock.js";
import { startServiceRestMocks } from "./service-mocks.js";
import { startStatefulRest } from "./stateful-rest.js";

runMain("mock", async () => {
  const config = loadMockConfig();
  const logger = createLogger("mock", config.logLevel);
  const examples = loadContractExamples();
  const exampleUser = pickExample(examples.operation("getUser").examples, {}, "getUser") as User;
  const faults = createFaultInjector(parseFaults(config.faults, examples), config.seed);
  // The stateful mode's store starts with every user the examples show: the example user, then each listed one.
  const store = config.stateful
    ? new MockStore([
        exampleUser,
        ...[...examples.operation("listUsers").examples.values()].flatMap((page) => (page as { users: User[] }).users),
      ])
    : undefined;
  const shared = { faults, ...(store ? { store } : {}) };
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    const grpc = await startGrpcMock({ host: config.host, port: config.grpcPort, logger, examples, ...shared });
    stops.push(grpc.stop);
    const graphql = await startGraphqlMock({ host: config.host, port: config.graphqlPort, examples, ...shared });
    stops.push(graphql.stop);
    const upstream = store ? await startStatefulRest({ host: "127.0.0.1", examples, store }) : undefined;
    if (upstream) stops.push(upstream.stop);

    // Prism, on loopback behind the REST front, takes a port number: one that was free a moment ago (tried again
    // if taken meanwhile).
    let rest: RestMock | undefined;
    for (let attempt = 1; !rest; attempt++) {
      const port = (await freePorts(1))[0] ?? 0;
      try {
        rest = await startRestMock({
          host: "127.0.0.1",
          port,
          dynamic: config.dynamic,
          probePath: `/v1/users/${exampleUser.id}`,
          ...(upstream ? { upstream: upstream.url } : {}),
        });
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
    const prism = rest;
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
      proxied: config.stateful,
    });
    stops.push(front.stop);
    const others = await startServiceRestMocks({ host: config.host, dynamic: config.dynamic });
    for (const other of others) stops.push(other.stop);

    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const urls = {
      rest: `http://${host}:${front.port}`,
      grpc: `${host}:${grpc.port}`,
      graphql: `http://${host}:${graphql.port}/graphql`,
      // Every other service's REST mock, by name.
      services: Object.fromEntries(others.map((other) => [other.name, `http://${host}:${other.port}`])),
    };
    logger.info(
      {
        restPort: front.port,
        grpcPort: grpc.port,
        graphqlPort: graphql.port,
        dynamic: config.dynamic,
        stateful: config.stateful,
        ...urls,
      },
      "mocks ready",
    );
    process.stdout.write(`
Charter mocks are running (from contracts/; no backend${config.stateful ? "; stateful: one store behind all three" : ""}).

  REST     ${urls.rest}/v1/users   (Prism${config.dynamic ? ", --dynamic" : ""}; header Prefer: code=404 | example=<name> | delay=<ms>)
  gRPC     ${urls.grpc}   (charter.users.v1.UsersService, charter.audit.v1.AuditService; metadata prefer: code=NOT_FOUND | example=<name> | delay=<ms>; health + reflection)
  GraphQL  ${urls.graphql}   (header Prefer: code=NOT_FOUND | example=<name> | delay=<ms>)
${others.map((other) => `  REST     ${urls.services[other.name]}/v1/${other.name}   (Prism, the ${other.name} service's contract)\n`).join("")}
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
