/**
 * Picks the event bus from the configuration: Apache Kafka when brokers are given (KAFKA_BROKERS), else the
 * in-process bus (events flow inside one process, nothing installed, nothing kept).
 */
import type { Logger } from "../logging.js";
import type { EventBus, TopicConfigs } from "./bus.js";
import type { KafkaSecurity } from "./kafka-config.js";
import { createMemoryBus } from "./memory-bus.js";

export * from "./bus.js";
export { createMemoryBus } from "./memory-bus.js";

export interface EventBusOptions {
  /** host:port of the Kafka bootstrap brokers; empty for the in-process bus. */
  readonly brokers: readonly string[];
  /** This process's client id at the broker (e.g. `users-<instance id>`). */
  readonly clientId: string;
  readonly logger: Logger;
  /** TLS and SASL towards the brokers (KAFKA_TLS*, KAFKA_SASL_*); plaintext without. */
  readonly security?: KafkaSecurity;
  /** The topics' configurations (a channel's topicConfiguration in the AsyncAPI contract); Kafka only. */
  readonly topicConfigs?: TopicConfigs;
}

export async function createEventBus(options: EventBusOptions): Promise<EventBus> {
  if (options.brokers.length === 0) return createMemoryBus();
  const { createKafkaBus } = await import("./kafka-bus.js");
  return createKafkaBus(options);
}
