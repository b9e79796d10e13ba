/**
 * `npm start`: the whole platform on one machine, on embedded defaults unless the
 * environment names real backends (MONGO_URL, REDIS_URL, KAFKA_BROKERS). Starts the development OpenID provider
 * (AUTH_DEV_ISSUER_PORT, 9400) that the services trust — unless AUTH_ISSUER names another issuer — then the users service
 * (which, without KAFKA_BROKERS, hosts the audit service on an in-process event bus; with it, the
 * audit service runs as its own process), every other service with a contract of its own (one made by
 * `npm run new:service`), then the gateway pointed at them, waits until all are
 * ready, prints where to reach them, and stops them on Ctrl-C.
 */
import { pino } from "pino";
import { startPlatformIssuer, tokenBanner } from "./lib/platform-issuer.js";
import { type ServiceProcess, startService } from "./lib/processes.js";
import { startOtherServices } from "./lib/start-platform.js";

// The services log at info or finer, so that their "ready" lines are written; once all are ready, their lines
// at LOG_LEVEL (default info) or above are passed on to stdout as they are (pino JSON, one line each).
const wantedLevel = process.env.LOG_LEVEL ?? "info";
const shownFrom = wantedLevel === "silent" ? Number.POSITIVE_INFINITY : (pino.levels.values[wantedLevel] ?? 30);
const started: ServiceProcess[] = [];
const trusted = await startPlatformIssuer().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
const env = { LOG_LEVEL: ["debug", "trace"].includes(wantedLevel) ? wantedLevel : "info", ...trusted.env };
const fail = async (error: Error): Promise<never> => {
  console.error(error.message);
  for (const service of started.reverse()) await service.stop();
  await trusted.close();
  process.exit(1);
};

const kafka = Boolean(process.env.KAFKA_BROKERS?.trim());
const users = await startService("services/users/main.ts", env, "users service ready").catch(fail);
started.push(users);
const audit = kafka ? await startService("services/audit/main.ts", env, "audit service ready").catch(fail) : undefined;
if (audit) started.push(audit);
const auditAddr = `127.0.0.1:${(audit ?? users).ready.grpcPort}`;
const others = await startOtherServices(env).catch(fail);
started.push(...others.services);
const gateway = await startService(
  "services/gateway/main.ts",
  { ...env, USERS_ADDR: `127.0.0.1:${users.ready.grpcPort}`, AUDIT_ADDR: auditAddr, ...others.addresses },
  "gateway ready",
).catch(fail);
started.push(gateway);

const http = `http://127.0.0.1:${gateway.ready.port}`;
const embedded = [
  !process.env.MONGO_URL && "store and history (in-memory)",
  !process.env.REDIS_URL && "cache (in-memory)",
  !kafka && "event bus (in-process)",
].filter(Boolean);
const mtls = ["GRPC_TLS_CERT", "GRPC_TLS_CERT_FILE"].some((name) => (process.env[name] ?? "").trim() !== "");
const links = mtls
  ? "Between the services: gRPC over mutual TLS (GRPC_TLS_*); see docs/operations.md for etcd, Redis and Kafka."
  : "Between the services: plain loopback, no TLS and no credentials (npm run start:cluster runs secured).";
console.log(`
Charter is running.

  REST            ${http}/v1/users
  API docs        ${http}/docs   (Swagger UI; the contract at ${http}/openapi.json)
  GraphQL         ${http}/graphql
  health          ${http}/healthz, ${http}/readyz   metrics ${http}/metrics
  users gRPC      127.0.0.1:${users.ready.grpcPort}   (health + reflection on the same port)
  users metrics   http://127.0.0.1:${users.ready.metricsPort}/metrics
  user history    ${http}/v1/users/{id}/history   (audit gRPC ${auditAddr}${audit ? "" : ", hosted by the users service"})${audit ? `\n  audit metrics   http://127.0.0.1:${audit.ready.metricsPort}/metrics` : ""}${Object.entries(
    others.addresses,
  )
    .map(([variable, address]) => {
      const name = variable.slice(0, -"_ADDR".length).toLowerCase();
      return `\n  ${name.padEnd(15)} ${http}/v1/${name}   (gRPC ${address}; its contract at ${http}/openapi/${name}.json)`;
    })
    .join("")}
${embedded.length > 0 ? `\n  Embedded backends: ${embedded.join(", ")}. In-memory data is lost on exit;\n  set MONGO_URL, REDIS_URL and KAFKA_BROKERS to use real servers.\n` : ""}
${tokenBanner(trusted, http)}

  ${links}

Logs follow: one JSON line per request, RPC and state change (LOG_LEVEL=warn shows problems only).
Press Ctrl-C to stop.
`);
const passOn = (line: string): void => {
  let level: unknown;
  try {
    level = (JSON.parse(line) as { level?: unknown }).level;
  } catch {
    // not a log line (a stack trace a dependency printed): always shown
  }
  if (typeof level !== "number" || level >= shownFrom) process.stdout.write(`${line}\n`);
};
for (const service of started) service.onLine(passOn);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping…");
  const gatewayCode = await gateway.stop();
  const usersCode = await users.stop();
  const auditCode = (await audit?.stop()) ?? 0;
  await trusted.close();
  process.exit(gatewayCode || usersCode || auditCode || 0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
for (const [name, service] of [
  ["users service", users],
  ["gateway", gateway],
  ...(audit ? ([["audit service", audit]] as const) : []),
] as const) {
  void service.exited.then(async (code) => {
    if (stopping) return;
    console.error(`${name} exited unexpectedly (${code}):\n${service.output.slice(-20).join("\n")}`);
    stopping = true;
    for (const other of [gateway, users, ...(audit ? [audit] : [])]) if (other !== service) await other.stop();
    await trusted.close();
    process.exit(1);
  });
}
