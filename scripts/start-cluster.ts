/**
 * `npm run start:cluster`: the platform as a small, secured cluster on one machine, every piece a real process on
 * loopback — a 3-member etcd cluster, the MongoDB-compatible server, Redis and Kafka (scripts/infra), three users
 * instances that read the store and cache URLs from etcd (/charter/config/mongo-url, /charter/config/redis-url),
 * register themselves in etcd and lease their worker ids there, the audit service as its own process (the history,
 * from Kafka), one gateway that discovers both through etcd and balances round-robin, and the functions
 * (docs/functions.md): the erasure function (and the notification function when SMTP_URL names a mail server) on
 * faas-js-runtime, with the triggers process delivering the user events to them from Kafka. Prints the endpoints;
 * Ctrl-C stops all of it (triggers, functions, gateway, audit, users, then the servers).
 *
 * Secured (docs/operations.md, "Security between services"), with the development CA of scripts/infra/dev-certs.ts:
 * gRPC between the gateway and users/audit is mutual TLS; etcd is https with client certificates (peers too); Redis
 * is TLS only with an ACL user; Kafka's client listener is SASL_SSL with SCRAM-SHA-256. The passwords are new on
 * every run and reach the services as *_FILE files in a private temp dir, removed on exit.
 *
 * Every call needs a token: the development OpenID provider runs on AUTH_DEV_ISSUER_PORT (9400) and the gateway and
 * services trust it, unless AUTH_ISSUER names another issuer (then none is started).
 *
 * Ports: the gateway on GATEWAY_PORT (8080); users instance i (0, 1, 2) on USERS_GRPC_PORT + i (50051…) and
 * USERS_METRICS_PORT + i (9464…); the audit service on AUDIT_GRPC_PORT (50061) and USERS_METRICS_PORT + 3 (9467).
 * A port of 0 picks free ports everywhere. The functions and the triggers' metrics take free ports. The erasure
 * function erases a deleted user's history ERASURE_RETENTION_S after the deletion: at once (0) unless set.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { CONFIG_PREFIX } from "../platform/registry/etcd-config.js";
import { ensureDevCerts, type KeyPair, startEtcdCluster, startKafka, startMongo, startRedis } from "./infra/index.js";
import { startPlatformIssuer, tokenBanner } from "./lib/platform-issuer.js";
import { type ServiceProcess, startService } from "./lib/processes.js";
import { LOAD_BUDGET } from "./lib/start-platform.js";

const readPem = (file: string) => readFileSync(file);

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
const auditGrpcPort = portSetting("AUDIT_GRPC_PORT", 50061);
const nth = (base: number, i: number) => (base === 0 ? 0 : base + i);

// The users instances must read the store and cache from etcd: the environment would win over it. Nor may the
// caller's addresses or security settings leak into the services: this script sets all of them.
const SECURITY = /^(GRPC_TLS_|ETCD_TLS_|REDIS_|KAFKA_|MONGO_|FUNCTION_|TRIGGER)/;
for (const name of Object.keys(process.env)) if (SECURITY.test(name)) delete process.env[name];
for (const name of ["USERS_ADDR", "AUDIT_ADDR", "USERS_WORKER_ID", "ETCD_ENDPOINTS"]) delete process.env[name];
// The services' logs are captured (shown only if one fails); info or finer, so their "ready" lines are logged.
const logLevel = ["debug", "trace"].includes(process.env.LOG_LEVEL ?? "") ? (process.env.LOG_LEVEL ?? "") : "info";

const servers: { readonly name: string; stop(): Promise<unknown> }[] = [];
// The passwords of this run, as files the services read through REDIS_PASSWORD_FILE and KAFKA_SASL_PASSWORD_FILE.
const secrets = mkdtempSync(join(tmpdir(), "charter-cluster-secrets-"));
process.on("exit", () => rmSync(secrets, { recursive: true, force: true }));
function secretFile(name: string): { file: string; value: string } {
  const value = randomBytes(24).toString("base64url");
  const file = join(secrets, name);
  writeFileSync(file, value, { mode: 0o600 });
  return { file, value };
}
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
  const trusted = await startPlatformIssuer();
  servers.push({ name: "token issuer", stop: () => trusted.close() });
  const auth = trusted.env;
  const certs = await ensureDevCerts();
  const redisUser = { username: "charter-users", password: secretFile("redis-password").value };
  const kafkaUsers = { users: "charter-users", audit: "charter-audit", triggers: "charter-triggers" };
  const kafkaPasswords = {
    users: secretFile("kafka-users-password"),
    audit: secretFile("kafka-audit-password"),
    triggers: secretFile("kafka-triggers-password"),
  };
  console.log("Starting a 3-member etcd cluster, the MongoDB-compatible server, Redis and Kafka (secured)…");
  const [etcd, mongo, redis, kafka] = await Promise.all([
    startEtcdCluster(3, { tls: { ca: certs.ca, ...certs.server.etcd } }),
    startMongo(),
    startRedis({ secure: { tls: { ca: certs.ca, ...certs.server.redis }, user: redisUser } }),
    startKafka({
      secure: {
        tls: { ca: certs.ca, ...certs.server.kafka },
        users: [
          { username: kafkaUsers.users, password: kafkaPasswords.users.value },
          { username: kafkaUsers.audit, password: kafkaPasswords.audit.value },
          { username: kafkaUsers.triggers, password: kafkaPasswords.triggers.value },
        ],
      },
    }),
  ]);
  servers.push({ name: "etcd cluster", stop: () => etcd.stop() }, mongo, redis, kafka);
  const endpoints = etcd.endpoints.join(",");

  const pem = (pair: KeyPair, prefix: string) => ({
    [`${prefix}_CA_FILE`]: certs.ca,
    [`${prefix}_CERT_FILE`]: pair.cert,
    [`${prefix}_KEY_FILE`]: pair.key,
  });
  const kafkaEnv = (who: keyof typeof kafkaUsers) => ({
    KAFKA_BROKERS: kafka.url,
    KAFKA_TLS_CA_FILE: certs.ca,
    KAFKA_SASL_USERNAME: kafkaUsers[who],
    KAFKA_SASL_PASSWORD_FILE: kafkaPasswords[who].file,
  });

  const client = createEtcdClient({
    endpoints: etcd.endpoints,
    tls: { ca: readPem(certs.ca), cert: readPem(certs.client.users.cert), key: readPem(certs.client.users.key) },
  });
  try {
    await client.put(`${CONFIG_PREFIX}mongo-url`).value(mongo.url).exec();
    await client.put(`${CONFIG_PREFIX}redis-url`).value(redis.url).exec();
  } finally {
    client.close();
  }

  console.log(`Starting ${USERS_INSTANCES} users instances, the audit service and the gateway…`);
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
          ...pem(certs.server.users, "GRPC_TLS"),
          ...pem(certs.client.users, "ETCD_TLS"),
          REDIS_USERNAME: redisUser.username,
          REDIS_PASSWORD_FILE: join(secrets, "redis-password"),
          REDIS_TLS_CA_FILE: certs.ca,
          ...kafkaEnv("users"),
          ...auth,
        },
        "users service ready",
        60_000,
      ),
    ),
  );
  users.forEach((service, i) => {
    services.push({ name: `users-${i + 1}`, process: service });
  });
  const audit = await startService(
    "services/audit/main.ts",
    {
      LOG_LEVEL: logLevel,
      ETCD_ENDPOINTS: endpoints,
      MONGO_URL: mongo.url,
      AUDIT_HOST: "127.0.0.1",
      AUDIT_INSTANCE_ID: "audit-1",
      AUDIT_GRPC_PORT: String(auditGrpcPort),
      AUDIT_METRICS_PORT: String(nth(usersMetricsBase, USERS_INSTANCES)),
      ...pem(certs.server.audit, "GRPC_TLS"),
      ...pem(certs.client.audit, "ETCD_TLS"),
      ...kafkaEnv("audit"),
      ...auth,
    },
    "audit service ready",
    60_000,
  );
  services.push({ name: "audit", process: audit });
  const gateway = await startService(
    "services/gateway/main.ts",
    {
      LOG_LEVEL: logLevel,
      ETCD_ENDPOINTS: endpoints,
      GATEWAY_PORT: String(gatewayPort),
      // Only whether it is set counts for the gateway: the audit service runs on its own, found as etcd:///audit.
      KAFKA_BROKERS: kafka.url,
      ...pem(certs.client.gateway, "GRPC_TLS"),
      ...pem(certs.client.gateway, "ETCD_TLS"),
      ...LOAD_BUDGET,
      ...auth,
    },
    "gateway ready",
    60_000,
  );
  services.push({ name: "gateway", process: gateway });

  console.log("Starting the functions and the triggers…");
  const functionsClient = trusted.dev?.clients.find((c) => c.clientId === "charter-functions");
  const smtpUrl = process.env.SMTP_URL?.trim() || undefined;
  const functionEnv = { LOG_LEVEL: logLevel, FUNCTION_HOST: "127.0.0.1", FUNCTION_PORT: "0", ...auth };
  const functions: { name: string; process: ServiceProcess }[] = [
    {
      name: "erasure",
      process: await startService(
        "functions/main.ts",
        {
          ...functionEnv,
          FUNCTION_NAME: "erasure",
          AUDIT_ADDR: `127.0.0.1:${audit.ready.grpcPort}`,
          ...pem(certs.client.functions, "GRPC_TLS"),
          ERASURE_RETENTION_S: process.env.ERASURE_RETENTION_S?.trim() || "0",
          // Another issuer (AUTH_ISSUER) knows the function's client by what the caller sets.
          FUNCTION_CLIENT_ID: functionsClient?.clientId ?? process.env.FUNCTION_CLIENT_ID ?? "charter-functions",
          FUNCTION_CLIENT_SECRET: functionsClient?.clientSecret ?? process.env.FUNCTION_CLIENT_SECRET ?? "",
        },
        "function ready",
        60_000,
      ),
    },
  ];
  if (smtpUrl !== undefined) {
    functions.push({
      name: "notify",
      process: await startService(
        "functions/main.ts",
        { ...functionEnv, FUNCTION_NAME: "notify", SMTP_URL: smtpUrl },
        "function ready",
        60_000,
      ),
    });
  }
  for (const fn of functions) services.push({ name: `function ${fn.name}`, process: fn.process });
  const triggers = await startService(
    "services/triggers/main.ts",
    {
      LOG_LEVEL: logLevel,
      TRIGGERS: functions.map((fn) => `${fn.name}=http://127.0.0.1:${fn.process.ready.port}`).join(" "),
      TRIGGER_FILTERS: "erasure=USER_EVENT_TYPE_DELETED notify=USER_EVENT_TYPE_CREATED+USER_EVENT_TYPE_UPDATED"
        .split(" ")
        .filter((filter) => functions.some((fn) => filter.startsWith(`${fn.name}=`)))
        .join(" "),
      TRIGGERS_HOST: "127.0.0.1",
      TRIGGERS_METRICS_PORT: "0",
      TRIGGERS_INSTANCE_ID: "triggers-1",
      ...kafkaEnv("triggers"),
    },
    "triggers ready",
    60_000,
  );
  services.push({ name: "triggers", process: triggers });

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
    row("Redis", `${redis.url}   (TLS, ACL user ${redisUser.username})`),
    row("Kafka", `${kafka.url}   (SASL_SSL, SCRAM-SHA-256 users ${Object.values(kafkaUsers).join(", ")})`),
  ];
  const auditRow = row(
    "audit",
    `gRPC 127.0.0.1:${audit.ready.grpcPort}   metrics http://127.0.0.1:${audit.ready.metricsPort}/metrics`,
  );
  const functionRows = [
    ...functions.map((fn) =>
      row(fn.name, `function http://127.0.0.1:${fn.process.ready.port}   (CloudEvents over HTTP, faas-js-runtime)`),
    ),
    ...(smtpUrl === undefined ? [row("notify", "function not started: set SMTP_URL to a mail server to run it")] : []),
    row(
      "triggers",
      `charter.users.v1.events → ${functions.map((fn) => fn.name).join(", ")}   metrics http://127.0.0.1:${triggers.ready.metricsPort}/metrics`,
    ),
  ];
  console.log(`
Charter is running as a cluster, secured: mTLS gRPC, etcd over TLS with client certificates, Redis over TLS
with an ACL user, Kafka with SASL/SCRAM over TLS (development CA in ${certs.dir}).

${row("REST", `${http}/v1/users`)}
${row("API docs", `${http}/docs   (Swagger UI; the contract at ${http}/openapi.json)`)}
${row("GraphQL", `${http}/graphql`)}
${row("health", `${http}/healthz, ${http}/readyz (lists the discovered users instances)   metrics ${http}/metrics`)}
${usersRows.join("\n")}
${auditRow}
${functionRows.join("\n")}
${serverRows.join("\n")}

${tokenBanner(trusted, http)}

  ETCD_ENDPOINTS=${endpoints}
  Instances register under /charter/services/users/ and /charter/services/audit/; the gateway dials
  etcd:///users and etcd:///audit (round-robin). Passwords of this run: ${secrets} (removed on exit).
  The MongoDB-compatible server keeps its data in memory: it is lost on exit.

Press Ctrl-C to stop.`);

  for (const { name, process: service } of services) {
    void service.exited.then(async (code) => {
      if (stopping) return;
      // A users or audit instance, a function or the triggers may come and go; the gateway may not.
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
