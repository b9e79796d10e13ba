/**
 * `npm run mock`: the three mocks from the contracts, with no backend — REST (Prism) on 4010,
 * gRPC on 50052, GraphQL on 4011 — all answering with the OpenAPI document's examples. Logs a
 * JSON "mocks ready" line with the three ports once all of them answer, then prints their
 * addresses; Ctrl-C stops all three.
 *
 *   npm run mock -- --dynamic             Prism generates bodies from the schemas instead
 *   npm run mock -- --rest-port 0 …       ports by flag (--rest-port, --grpc-port, --graphql-port, --host)
 *   MOCK_REST_PORT=0 npm run mock         or by environment (MOCK_*_PORT, MOCK_HOST); 0 picks a free port
 */
import { runMain } from "../platform/lifecycle.js";
import { createLogger } from "../platform/logging.js";
import { freePorts } from "../platform/net.js";
import { loadContractExamples } from "./contract-examples.js";
import { startGraphqlMock } from "./graphql-mock.js";
import { startGrpcMock } from "./grpc-mock.js";
import { loadMockConfig } from "./mock-config.js";
import { pickExample } from "./prefer.js";
import { type RestMock, startRestMock } from "./rest-mock.js";

runMain("mock", async () => {
  const config = loadMockConfig();
  const logger = createLogger("mock", config.logLevel);
  const examples = loadContractExamples();
  const exampleUser = pickExample(examples.operation("getUser").examples, {}, "getUser") as { id: string };
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    const grpc = await startGrpcMock({ host: config.host, port: config.grpcPort, logger, examples });
    stops.push(grpc.stop);
    const graphql = await startGraphqlMock({ host: config.host, port: config.graphqlPort, examples });
    stops.push(graphql.stop);

    // Prism takes a port number: for 0, a port that was free a moment ago (tried again if taken meanwhile).
    let rest: RestMock | undefined;
    for (let attempt = 1; !rest; attempt++) {
      const port = config.restPort === 0 ? ((await freePorts(1))[0] ?? 0) : config.restPort;
      try {
        rest = await startRestMock({
          host: config.host,
          port,
          dynamic: config.dynamic,
          probePath: `/v1/users/${exampleUser.id}`,
        });
      } catch (error) {
        if (config.restPort !== 0 || attempt >= 3) throw error;
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

    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const urls = {
      rest: `http://${host}:${prism.port}`,
      grpc: `${host}:${grpc.port}`,
      graphql: `http://${host}:${graphql.port}/graphql`,
    };
    logger.info(
      { restPort: prism.port, grpcPort: grpc.port, graphqlPort: graphql.port, dynamic: config.dynamic, ...urls },
      "mocks ready",
    );
    process.stdout.write(`
Charter mocks are running (from contracts/; no backend).

  REST     ${urls.rest}/v1/users   (Prism${config.dynamic ? ", --dynamic" : ""}; header Prefer: code=404 | example=<name>)
  gRPC     ${urls.grpc}   (charter.users.v1.UsersService, charter.audit.v1.AuditService; metadata prefer: code=NOT_FOUND | example=<name>; health + reflection)
  GraphQL  ${urls.graphql}   (header Prefer: code=NOT_FOUND | example=<name>)

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
