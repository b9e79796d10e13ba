/**
 * The triggers' composition: one delivery (its own consumer group) per configured trigger, over one event bus and
 * one HTTP CloudEvents sink, with their counters on a metrics endpoint, on a service host (no gRPC: the triggers
 * serve nothing but their metrics). serve.ts runs it as a process; tests run it on port 0.
 */
import type { EventBus } from "../../platform/events/bus.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsEndpoint, createMetricsRegistry } from "../../platform/metrics.js";
import { createServiceHost, type Resource } from "../../platform/service-host.js";
import { createHttpCloudEventSink } from "./adapters/cloudevent-http-sink.js";
import { createTriggerDelivery } from "./app/trigger-delivery.js";
import type { TriggersConfig } from "./triggers-config.js";

export interface RunningTriggers {
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/** Builds and starts the deliveries; resolves once every trigger's consumer has joined its group. */
export async function startTriggers(
  config: TriggersConfig,
  logger: Logger,
  deps: { bus: EventBus; resources?: readonly Resource[] },
): Promise<RunningTriggers> {
  const registry = createMetricsRegistry("triggers");
  const sink = createHttpCloudEventSink({ timeoutMs: config.timeoutMs });
  const endpoint = createMetricsEndpoint(registry);
  let metricsPort = 0;
  const deliveries = config.triggers.map((trigger) =>
    createTriggerDelivery({
      bus: deps.bus,
      trigger,
      sink,
      retry: config.retry,
      clientId: `${config.instanceId}-${trigger.name}`,
      logger,
      metrics: registry,
    }),
  );
  const host = createServiceHost({
    name: "triggers",
    logger,
    metrics: registry,
    workers: [
      {
        name: "metrics endpoint",
        start: async () => {
          metricsPort = await endpoint.listen(config.host, config.metricsPort);
        },
        stop: () => endpoint.stop(),
      },
      ...config.triggers.map((trigger, i) => ({
        name: `trigger ${trigger.name}`,
        start: () => deliveries[i]?.start(),
        stop: () => deliveries[i]?.stop(),
      })),
    ],
    resources: deps.resources ?? [],
  });
  await host.listen();
  logger.info(
    {
      metricsPort,
      triggers: config.triggers.map((trigger) => trigger.name),
      bus: config.kafkaBrokers.length > 0 ? "kafka" : "in-process",
    },
    "triggers ready",
  );
  return {
    metricsPort,
    async stop() {
      await host.stop();
      logger.info("triggers stopped");
    },
  };
}
