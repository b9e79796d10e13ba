/**
 * The users service's composition root (main.ts imports it once tracing has started). With KAFKA_BROKERS the
 * outbox relay publishes to Kafka and the audit service runs as its own process (services/audit/main.ts);
 * without, events go on an in-process bus and this process hosts the audit service too, on the users gRPC port (the
 * gateway's AUDIT_ADDR defaults to USERS_ADDR), so that events and history work with nothing installed.
 */

import type { Registry } from "prom-client";
import { createEventBus } from "../../platform/events/index.js";
import { runMain, stopBudgetMs } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startTracing } from "../../platform/tracing.js";
import { AUDIT_SERVICE_NAME, createAuditParts } from "../audit/audit-app.js";
import { loadAuditConfig } from "../audit/audit-config.js";
import { resolveUsersConfig, startUsers } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

runMain("users", async () => {
  const tracing = await startTracing("users");
  const env = loadUsersConfig();
  const auditConfig = env.kafkaBrokers.length === 0 ? loadAuditConfig() : undefined;
  const logger = createLogger("users", env.logLevel);
  const bus = await createEventBus({ brokers: env.kafkaBrokers, clientId: env.instanceId, logger });
  const producer = bus.producer();
  const host = auditConfig
    ? async (registry: Registry) => ({
        ...(await createAuditParts(auditConfig, createLogger("audit", auditConfig.logLevel), { bus, registry })),
        healthName: AUDIT_SERVICE_NAME,
      })
    : undefined;
  try {
    const running = await startUsers(await resolveUsersConfig(env, logger), logger, {
      events: producer,
      ...(host ? { host } : {}),
    });
    return {
      stopTimeoutMs: stopBudgetMs(env.shutdownTimeoutMs, env.drainMs),
      async stop() {
        try {
          await running.stop();
          await producer.close();
          await bus.close();
        } finally {
          await tracing.shutdown(); // the last spans leave before the process does, whatever failed above
        }
      },
    };
  } catch (error) {
    await producer.close();
    await bus.close();
    throw error;
  }
});
