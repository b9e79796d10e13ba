/**
 * The users service's composition root (main.ts imports it once tracing has started). With KAFKA_BROKERS the
 * outbox relay publishes to Kafka and the audit service runs as its own process (services/audit/main.ts);
 * without, events go on an in-process bus and this process hosts the audit service too, on the users gRPC port (the
 * gateway's AUDIT_ADDR defaults to USERS_ADDR), so that events and history work with nothing installed.
 */
import { userEventTopicConfigs } from "../../generated/asyncapi/users-events.js";
import { createEventBus } from "../../platform/events/index.js";
import { runMain, stopBudgetMs, stopThenFlush } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startTracing } from "../../platform/tracing.js";
import { createAuditParts } from "../audit/audit-app.js";
import { loadAuditConfig } from "../audit/audit-config.js";
import { resolveUsersConfig, startUsers } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

runMain("users", async () => {
  const tracing = await startTracing("users");
  const env = loadUsersConfig();
  const auditConfig = env.kafkaBrokers.length === 0 ? loadAuditConfig() : undefined;
  const logger = createLogger("users", env.logLevel);
  const config = await resolveUsersConfig(env, logger);
  const bus = await createEventBus({
    brokers: env.kafkaBrokers,
    clientId: env.instanceId,
    logger,
    security: env.kafkaSecurity,
    topicConfigs: userEventTopicConfigs,
  });
  const producer = bus.producer();
  // The bus and its producer are the host's too: closed after everything else (on a failed start as well).
  const running = await startUsers(config, logger, {
    events: producer,
    resources: [
      { name: "event bus", close: () => bus.close() },
      { name: "event producer", close: () => producer.close() },
    ],
    ...(auditConfig
      ? {
          alongside: (registry, verifier) =>
            createAuditParts(auditConfig, createLogger("audit", auditConfig.logLevel), { bus, registry, verifier }),
        }
      : {}),
  });
  return stopThenFlush(running, tracing, stopBudgetMs(env.shutdownTimeoutMs, env.drainMs));
});
