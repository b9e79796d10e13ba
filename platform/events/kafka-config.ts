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

export type SaslMechanism = "scram-sha-256" | "scram-sha-512";

/** How the Kafka clients reach the brokers: TLS (with a CA, or the system's) and SASL/SCRAM credentials. */
export interface KafkaSecurity {
  /** TLS to the brokers; `ca` unset: the system's CAs. */
  readonly tls?: { readonly ca?: Buffer };
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
}

/**
 * KAFKA_TLS (on when KAFKA_TLS_CA is set), KAFKA_TLS_CA, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and
 * KAFKA_SASL_PASSWORD (the CA and the password also as `*_FILE`). A user without a password, or the other way
 * round, stops start-up naming the missing variable. Nothing set: plaintext without authentication.
 */
export function kafkaSecurity(e: EnvReader): KafkaSecurity {
  const ca = e.secret("KAFKA_TLS_CA");
  if (ca !== undefined && !/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/.test(ca)) {
    throw new ConfigError("KAFKA_TLS_CA (or KAFKA_TLS_CA_FILE) must be PEM text with a CERTIFICATE block");
  }
  const tls = e.oneOf("KAFKA_TLS", ca === undefined ? "off" : "on", ["on", "off"]);
  if (tls === "off" && ca !== undefined) throw new ConfigError("KAFKA_TLS=off contradicts KAFKA_TLS_CA: unset one");
  const mechanism = e.oneOf<SaslMechanism>("KAFKA_SASL_MECHANISM", "scram-sha-256", ["scram-sha-256", "scram-sha-512"]);
  const username = e.string("KAFKA_SASL_USERNAME", "");
  const password = e.secret("KAFKA_SASL_PASSWORD");
  if (username !== "" && password === undefined) {
    throw new ConfigError("KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) must be set when KAFKA_SASL_USERNAME is");
  }
  if (username === "" && password !== undefined) {
    throw new ConfigError("KAFKA_SASL_USERNAME must be set when KAFKA_SASL_PASSWORD is");
  }
  return {
    ...(tls === "on" ? { tls: ca === undefined ? {} : { ca: Buffer.from(ca) } } : {}),
    ...(password !== undefined ? { sasl: { mechanism, username, password } } : {}),
  };
}
