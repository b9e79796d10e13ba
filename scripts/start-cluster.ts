/**
 * `npm run start:cluster`: the platform as a small cluster on one machine, every piece a real process on
 * loopback — a 3-member etcd cluster, the MongoDB-compatible server and Redis (scripts/infra), three users
 * instances that read the store and cache URLs from etcd (/charter/config/mongo-url, /charter/config/redis-url),
 * register themselves in etcd and lease their worker ids there, and one gateway that discovers them through etcd
 * and balances round-robin. Prints the endpoints; Ctrl-C stops all of it (gateway, users, then the servers).
 *
 * Ports: the gateway on GATEWAY_PORT (8080); users instance i (0, 1, 2) on USERS_GRPC_PORT + i (50051…) and
 * USERS_METRICS_PORT + i (9464…). A port of 0 picks free ports everywhere.
 */
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { CONFIG_PREFIX } from "../platform/registry/etcd-config.js";
import { startEtcdCluster, startMongo, startRedis } from "./infra/index.js";
import { type ServiceProcess, startService } from "./lib/processes.js";
import { LOAD_BUDGET } from "./lib/start-platform.js";

const USERS_INSTANCES = 3;

function portSetting(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535 - USERS_INSTANCES) {
    console.error(`${name} must be a port number, got "${raw}"`);
    process.exit(1);
  }
  return value;
}
const gatewayPort = portSetting("GATEWAY_PORT", 8080);
const usersGrpcBase = portSetting("USERS_GRPC_PORT", 50051);
const usersMetricsBase = portSetting("USERS_METRICS_PORT", 9464);
const nth = (base: number, i: number) => (base === 0 ? 0 : base + i);

// The users instances must read the store and cache from etcd: the environment would win over it.
for (const name of ["MONGO_URL", "REDIS_URL", "USERS_ADDR", "USERS_WORKER_ID", "ETCD_ENDPOINTS"])
  delete process.env[name];
// The services' logs are captured (shown only if one fails); info or finer, so their "ready" lines are logged.
const logLevel = ["debug", "trace"].includes(process.env.LOG_LEVEL ?? "") ? (process.env.LOG_LEVEL ?? "") : "info";

const servers: { readonly name: string; stop(): Promise<unknown> }[] = [];
const services: { readonly name: string; readonly process: ServiceProcess }[] = [];
let stopping = false;

async function stopAll(): Promise<void> {
  for (const { process: service } of [...services].reverse()) await service.stop();
  for (const server of [...servers].reverse()) await server.stop().catch(() => {});
}

async function fail(error: unknown): Promise<never> {
  stopping = true;
  console.error(error instanceof Error ? error.message : String(error));
  await stopAll();
  process.exit(1);
}

async function start(): Promise<void> {
  console.log("Starting a 3-member etcd cluster, the MongoDB-compatible server and Redis…");
  const [etcd, mongo, redis] = await Promise.all([startEtcdCluster(3), startMongo(), startRedis()]);
  servers.push({ name: "etcd cluster", stop: () => etcd.stop() }, mongo, redis);
  const endpoints = etcd.endpoints.join(",");

  const client = createEtcdClient({ endpoints: etcd.endpoints });
  try {
    await client.put(`${CONFIG_PREFIX}mongo-url`).value(mongo.url).exec();
    await client.put(`${CONFIG_PREFIX}redis-url`).value(redis.url).exec();
  } finally {
    client.close();
  }

  console.log(`Starting ${USERS_INSTANCES} users instances and the gateway…`);
  const users = await Promise.all(
    Array.from({ length: USERS_INSTANCES }, (_, i) =>
      startService(
        "services/users/main.ts",
        {
          LOG_LEVEL: logLevel,
          ETCD_ENDPOINTS: endpoints,
          USERS_HOST: "127.0.0.1",
          USERS_INSTANCE_ID: `users-${i + 1}`,
          USERS_GRPC_PORT: String(nth(usersGrpcBase, i)),
          USERS_METRICS_PORT: String(nth(usersMetricsBase, i)),
        },
        "users service ready",
        60_000,
      ),
    ),
  );
  users.forEach((service, i) => {
    services.push({ name: `users-${i + 1}`, process: service });
  });
  const gateway = await startService(
    "services/gateway/main.ts",
    {
      LOG_LEVEL: logLevel,
      ETCD_ENDPOINTS: endpoints,
      GATEWAY_PORT: String(gatewayPort),
      REDIS_URL: redis.url,
      ...LOAD_BUDGET,
    },
    "gateway ready",
    60_000,
  );
  services.push({ name: "gateway", process: gateway });

  const http = `http://127.0.0.1:${gateway.ready.port}`;
  const row = (label: string, value: string) => `  ${label.padEnd(16)}${value}`;
  const usersRows = users.map((service, i) =>
    row(
      `users-${i + 1}`,
      `gRPC 127.0.0.1:${service.ready.grpcPort}   metrics http://127.0.0.1:${service.ready.metricsPort}/metrics` +
        `   worker id ${String(service.ready.workerId ?? "pending")}`,
    ),
  );
  const serverRows = [
    ...etcd.members.map((member) => row(`etcd ${member.name.replace(/^etcd-/, "")}`, member.url)),
    row("MongoDB", `${mongo.url}   (mongo-java-server, in memory)`),
    row("Redis", redis.url),
  ];
  console.log(`
Charter is running as a cluster.

${row("REST", `${http}/v1/users`)}
${row("API docs", `${http}/docs   (Swagger UI; the contract at ${http}/openapi.json)`)}
${row("GraphQL", `${http}/graphql`)}
${row("health", `${http}/healthz, ${http}/readyz (lists the discovered users instances)   metrics ${http}/metrics`)}
${usersRows.join("\n")}
${serverRows.join("\n")}

  ETCD_ENDPOINTS=${endpoints}
  Instances register under /charter/services/users/; the gateway dials etcd:///users (round-robin).
  The MongoDB-compatible server keeps its data in memory: it is lost on exit.

Press Ctrl-C to stop.`);

  for (const { name, process: service } of services) {
    void service.exited.then(async (code) => {
      if (stopping) return;
      // A users instance may come and go (that is what the cluster is for); the gateway may not.
      if (name !== "gateway") {
        console.error(`${name} exited (${code}); the others keep serving:\n${service.output.slice(-10).join("\n")}`);
        return;
      }
      console.error(`gateway exited unexpectedly (${code}):\n${service.output.slice(-20).join("\n")}`);
      stopping = true;
      await stopAll();
      process.exit(1);
    });
  }
}

const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping…");
  await stopAll();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
await start().catch(fail);
