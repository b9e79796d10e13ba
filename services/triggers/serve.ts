/**
 * The triggers' composition root (main.ts imports it once tracing has started): configuration → event bus (Kafka
 * with KAFKA_BROKERS; else the in-process bus, which sees only this process's events) → startTriggers.
 */
import { userEventTopicConfigs } from "../../generated/asyncapi/users-events.js";
import { createEventBus } from "../../platform/events/index.js";
import { runMain, stopBudgetMs, stopThenFlush } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startTracing } from "../../platform/tracing.js";
import { startTriggers } from "./triggers-app.js";
import { loadTriggersConfig } from "./triggers-config.js";

runMain("triggers", async () => {
  const tracing = await startTracing("triggers");
  const config = loadTriggersConfig();
  const logger = createLogger("triggers", config.logLevel);
  if (config.kafkaBrokers.length === 0) {
    logger.warn("KAFKA_BROKERS is not set: this process only sees events published on its own in-process bus");
  }
  const bus = await createEventBus({
    brokers: config.kafkaBrokers,
    clientId: config.instanceId,
    logger,
    security: config.kafkaSecurity,
    // The dead-letter topic, if this process makes it first, is made as the contract configures it.
    topicConfigs: userEventTopicConfigs,
  });
  const running = await startTriggers(config, logger, {
    bus,
    resources: [{ name: "event bus", close: () => bus.close() }],
  });
  // A send in flight may take its timeout, and a retry's backoff is cut short by the stop.
  return stopThenFlush(running, tracing, stopBudgetMs(config.timeoutMs));
});
