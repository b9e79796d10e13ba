/**
 * The audit service's composition root (main.ts imports it once tracing has started): configuration → event bus
 * (Kafka with KAFKA_BROKERS; else the in-process bus, which only makes sense when the users service runs in this
 * process — `npm start` hosts the audit service inside the users process for that) → startAudit.
 */
import { userEventTopicConfigs } from "../../generated/asyncapi/users-events.js";
import { createEventBus } from "../../platform/events/index.js";
import { runMain, stopBudgetMs, stopThenFlush } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startTracing } from "../../platform/tracing.js";
import { startAudit } from "./audit-app.js";
import { loadAuditConfig } from "./audit-config.js";

runMain("audit", async () => {
  const tracing = await startTracing("audit");
  const config = loadAuditConfig();
  const logger = createLogger("audit", config.logLevel);
  if (config.kafkaBrokers.length === 0) {
    logger.warn("KAFKA_BROKERS is not set: this process only sees events published on its own in-process bus");
  }
  const bus = await createEventBus({
    brokers: config.kafkaBrokers,
    clientId: config.instanceId,
    logger,
    security: config.kafkaSecurity,
    topicConfigs: userEventTopicConfigs,
  });
  // The bus is the host's too: closed after everything else (on a failed start as well).
  const running = await startAudit(config, logger, {
    bus,
    resources: [{ name: "event bus", close: () => bus.close() }],
  });
  return stopThenFlush(running, tracing, stopBudgetMs(config.shutdownTimeoutMs, config.drainMs));
});
