import { ConfigError, type EnvReader } from "../config.js";

const BROKER = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\],]+):\d{1,5}$/;

/** KAFKA_BROKERS: comma-separated host:port of bootstrap brokers; empty (unset) means the in-process bus. */
export function kafkaBrokers(e: EnvReader): string[] {
  const brokers = e
    .string("KAFKA_BROKERS", "")
    .split(",")
    .map((broker) => broker.trim())
    .filter((broker) => broker !== "");
  for (const broker of brokers) {
    if (!BROKER.test(broker)) {
      throw new ConfigError(`KAFKA_BROKERS must be comma-separated host:port, got ${JSON.stringify(broker)}`);
    }
  }
  return brokers;
}
