/**
 * The gateway's composition root (main.ts imports it once tracing has started): configuration → (etcd discovery) → users and audit clients → Fastify app
 * (REST from the contract, docs, health, metrics, extra plugins) → listen. Logs "gateway ready"
 * with the bound port. With GATEWAY_TRAEFIK=on it then registers its route for Traefik in etcd (see
 * adapters/traefik-route.ts). The service host runs the stop in order: SIGTERM/SIGINT first take the route out of
 * Traefik's rotation and wait for Traefik to follow, then close the server (in-flight requests finish, up to
 * SHUTDOWN_TIMEOUT_MS), then the clients and the discovery. Metrics are the app's
 * (GET /metrics on the gateway's own port), so the host serves no endpoint of its own, and no gRPC.
 */
import { existsSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { Counter, Gauge } from "prom-client";
import { createTokenVerifier } from "../../platform/auth/token-verifier.js";
import { ConfigError, envReader } from "../../platform/config.js";
import { runMain, stopBudgetMs, stopThenFlush } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { createMetricsRegistry } from "../../platform/metrics.js";
import { advertisedAddress } from "../../platform/registry/registry-config.js";
import { closeResources, createServiceHost, type Resource } from "../../platform/service-host.js";
import { startTracing } from "../../platform/tracing.js";
import { createAuditBackend } from "./adapters/audit-backend.js";
import { createBudgetRedis } from "./adapters/budget-store.js";
import { createContractBackend } from "./adapters/contract-backend.js";
import { createTraefikRoute } from "./adapters/traefik-route.js";
import { createUsersBackend } from "./adapters/users-backend.js";
import { registerUsersDiscovery, type UsersDiscovery } from "./adapters/users-discovery.js";
import { buildGateway, type GatewayPlugin } from "./app.js";
import { loadGatewayConfig } from "./gateway-config.js";
import type { GraphqlService } from "./transport/graphql/contract-resolvers.js";
import { registerGraphql } from "./transport/graphql/index.js";
import { loadOpenApiDocument, loadOtherOpenApiDocuments } from "./transport/rest/openapi-document.js";
import type { TranscodedDocument } from "./transport/rest/transcoded-rest.js";

/** Plugins added after REST: GraphQL from the contract's SDL, with GraphiQL wherever the docs are on. */
const plugins: readonly GatewayPlugin[] = [
  (app, { users, audit, docs, budget, transcoded }) =>
    registerGraphql(app, {
      users,
      audit,
      graphiql: docs,
      ...(budget ? { budget } : {}),
      services: graphqlServices(transcoded),
    }),
];

/** The GraphQL schemas of the other services that have one (contracts/graphql/<name>.graphql), with their backends. */
function graphqlServices(transcoded: readonly TranscodedDocument[]): GraphqlService[] {
  return transcoded.flatMap(({ name, backend }) => {
    const file = new URL(`../../contracts/graphql/${name}.graphql`, import.meta.url);
    return existsSync(file) ? [{ name, sdl: readFileSync(file, "utf8"), backend }] : [];
  });
}

runMain("gateway", async () => {
  const tracing = await startTracing("gateway");
  const config = loadGatewayConfig();
  const logger = createLogger("gateway", config.logLevel);
  const document = loadOpenApiDocument();
  const metrics = config.metrics ? createMetricsRegistry("gateway") : undefined;
  // Registered before the client dials: the `etcd` scheme must be known when its channel resolves.
  const discovery: UsersDiscovery | undefined =
    config.etcdEndpoints.length > 0
      ? registerUsersDiscovery({
          endpoints: config.etcdEndpoints,
          etcdTls: config.etcdTls,
          grpcTls: config.grpcTls,
          logger,
        })
      : undefined;
  // Every other service's contract, mounted transcoded: dialled through etcd discovery, or <NAME>_ADDR without it.
  const env = envReader();
  const transcoded: TranscodedDocument[] = [];
  for (const { name, document: other } of loadOtherOpenApiDocuments()) {
    const variable = `${name.toUpperCase()}_ADDR`;
    const target = config.etcdEndpoints.length > 0 ? `etcd:///${name}` : env.string(variable, "");
    if (target === "")
      throw new ConfigError(`${variable} must be the ${name} service's host:port (or set ETCD_ENDPOINTS)`);
    const backend = await createContractBackend({
      name,
      target,
      deadlineMs: config.usersDeadlineMs,
      tls: config.grpcTls,
    });
    transcoded.push({ name, document: other, backend });
  }
  const users = createUsersBackend({
    target: config.usersAddr,
    deadlineMs: config.usersDeadlineMs,
    breaker: { failures: config.usersBreakerFailures, halfOpenAfterMs: config.usersBreakerHalfOpenMs },
    ...(metrics ? { metrics } : {}),
    logger,
    tls: config.grpcTls,
  });
  const discovering = discovery !== undefined && config.usersAddr.startsWith("etcd:");
  if (discovering) discovery.guard(users);
  if (metrics) {
    new Gauge({
      name: "charter_gateway_users_endpoints",
      help: "Users instances the gateway knows: those registered in etcd when it discovers them, else 1 (USERS_ADDR).",
      registers: [metrics],
      collect() {
        this.set(discovering ? (discovery.instances()?.length ?? 0) : 1);
      },
    });
  }
  const audit = createAuditBackend({
    target: config.auditAddr,
    deadlineMs: config.auditDeadlineMs,
    tls: config.grpcTls,
  });
  const { redisUrl, redisCommandTimeoutMs, redisAuth, max, windowMs } = config.rateLimit;
  const budgetRedis = redisUrl
    ? createBudgetRedis({ url: redisUrl, commandTimeoutMs: redisCommandTimeoutMs, auth: redisAuth, logger })
    : undefined;
  const budgetStoreErrors = metrics
    ? new Counter({
        name: "charter_gateway_budget_store_errors_total",
        help: "Requests let through without a budget because its store (Redis) failed.",
        registers: [metrics],
      })
    : undefined;
  // Closed the last first once the server has stopped: the clients, then the discovery.
  const resources: Resource[] = [
    ...(budgetRedis ? [{ name: "budget store", close: () => void budgetRedis.disconnect() }] : []),
    ...(discovery ? [{ name: "users discovery", close: () => discovery.stop() }] : []),
    { name: "audit client", close: () => audit.close() },
    { name: "users client", close: () => users.close() },
    ...transcoded.map(({ name, backend }) => ({ name: `${name} client`, close: () => backend.close() })),
  ];
  // One verifier for the process: its key set (fetched from the issuer, refreshed on rotation) is shared by all requests.
  const verifier = createTokenVerifier(config.auth);
  let app: Awaited<ReturnType<typeof buildGateway>>;
  try {
    app = await buildGateway({
      users,
      audit,
      document,
      logger,
      auth: { verifier, issuer: config.auth.issuer },
      bodyLimit: config.bodyLimit,
      corsOrigins: config.corsOrigins,
      docs: config.docs,
      rateLimit: {
        max,
        windowMs,
        ...(budgetRedis ? { redis: budgetRedis } : {}),
        ...(budgetStoreErrors ? { onStoreError: () => budgetStoreErrors.inc() } : {}),
      },
      trustedProxies: config.trustedProxies,
      ...(metrics ? { metrics } : {}),
      plugins,
      transcoded,
      ...(discovering ? { discovery } : {}),
    });
  } catch (error) {
    await closeResources(resources, logger);
    throw error;
  }
  const host = createServiceHost({
    name: "gateway",
    logger,
    ...(metrics ? { metrics } : {}),
    workers: [
      {
        name: "HTTP server",
        start: () => app.listen({ host: config.host, port: config.port }),
        // In-flight requests may finish; a client that is still reading (or sending) after the shutdown timeout
        // has its connection closed rather than holding the process.
        async stop() {
          const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
          // server.close() closes only the connections idle at that moment: one whose request finishes later
          // (a proxy's keep-alive connection) would stay open until the force. Close each once it is idle.
          const idle = setInterval(() => app.server.closeIdleConnections(), 100);
          await app.close();
          clearInterval(idle);
          clearTimeout(force);
        },
        stopGraceMs: config.shutdownTimeoutMs,
      },
      // After the server (it needs the bound port), so it is stopped before it: out of the rotation, then drain.
      ...(config.traefik.enabled
        ? [
            createTraefikRoute({
              endpoints: config.etcdEndpoints,
              tls: config.etcdTls,
              rootKey: config.traefik.rootKey,
              instanceId: config.instanceId,
              url: () =>
                `http://${advertisedAddress(undefined, config.host, (app.server.address() as AddressInfo).port)}`,
              leaseTtlSeconds: config.traefik.leaseTtlSeconds,
              deregisterWaitMs: config.traefik.deregisterWaitMs,
              logger,
            }),
          ]
        : []),
    ],
    resources,
  });
  await host.listen();
  const { port } = app.server.address() as AddressInfo;
  logger.info(
    {
      port,
      host: config.host,
      usersAddr: config.usersAddr,
      auditAddr: config.auditAddr,
      etcdEndpoints: config.etcdEndpoints,
      instanceId: config.instanceId,
      traefik: config.traefik.enabled ? config.traefik.rootKey : "off",
      docs: config.docs,
      corsOrigins: config.corsOrigins,
      rateLimit: { max, windowMs, store: budgetRedis ? "redis" : "memory" },
      auth: { issuer: config.auth.issuer, audience: config.auth.audience },
    },
    "gateway ready",
  );
  return stopThenFlush(host, tracing, stopBudgetMs(config.shutdownTimeoutMs));
});
