/**
 * The Kafka of the event tests, secured as `npm run start:cluster` runs it (docs/operations.md, "Security between
 * services"): the client listener is SASL_SSL with SCRAM-SHA-256, the broker's certificate from the development CA
 * (ensureDevCerts), one SCRAM user per client. The services get it through the variables they read when deployed —
 * KAFKA_TLS, KAFKA_TLS_CA_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE (a file in
 * a private temp dir that stop() removes) — and the test's own clients through the same parser (kafkaSecurity).
 * The SCRAM users are written into the log dir when it is formatted: kill() + restart() keep them.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KafkaConfig } from "kafkajs";
import { envReader } from "../../platform/config.js";
import { type KafkaSecurity, kafkaSecurity } from "../../platform/events/kafka-config.js";
import { ensureDevCerts, type KafkaOptions, type RunningServer, startKafka } from "../../scripts/infra/index.js";

/** Who talks to the broker, each as a SCRAM user of its own (`charter-<who>`). */
type KafkaClientName = "users" | "audit" | "test";
const CLIENTS: readonly KafkaClientName[] = ["users", "audit", "test"];

export interface SecuredKafka extends RunningServer {
  /** A service's environment: KAFKA_BROKERS and the TLS and SASL variables of `who`'s SCRAM user. */
  env(who: Exclude<KafkaClientName, "test">): Record<string, string>;
  /** The test's own clients (createKafkaBus): the test user's variables, read by kafkaSecurity as a service does. */
  readonly security: KafkaSecurity;
  /** The same for a bare kafkajs client (an admin): `ssl` with the CA and `sasl` with the test user. */
  readonly kafkajs: Pick<KafkaConfig, "ssl" | "sasl">;
}

/**
 * Starts Kafka with a SASL_SSL listener and the SCRAM users `charter-users`, `charter-audit`, `charter-test`;
 * `brokerProperties` as startKafka's.
 */
export async function startSecuredKafka(
  brokerProperties: KafkaOptions["brokerProperties"] = {},
): Promise<SecuredKafka> {
  const certs = await ensureDevCerts();
  const secrets = await mkdtemp(join(tmpdir(), "charter-kafka-secrets-"));
  const variables = new Map<KafkaClientName, Record<string, string>>();
  const users = [];
  for (const who of CLIENTS) {
    const username = `charter-${who}`;
    const password = randomBytes(24).toString("base64url");
    const file = join(secrets, `kafka-${who}-password`);
    await writeFile(file, password, { mode: 0o600 });
    users.push({ username, password });
    variables.set(who, {
      KAFKA_TLS: "on",
      KAFKA_TLS_CA_FILE: certs.ca,
      KAFKA_SASL_MECHANISM: "scram-sha-256",
      KAFKA_SASL_USERNAME: username,
      KAFKA_SASL_PASSWORD_FILE: file,
    });
  }
  let server: RunningServer;
  try {
    server = await startKafka({ secure: { tls: { ca: certs.ca, ...certs.server.kafka }, users }, brokerProperties });
  } catch (error) {
    await rm(secrets, { recursive: true, force: true });
    throw error;
  }
  const security = kafkaSecurity(envReader(variables.get("test")));
  const sasl = security.sasl;
  if (!security.tls?.ca || !sasl) throw new Error("the test user's Kafka variables gave no CA or no SASL user");
  return {
    ...server,
    env: (who) => ({ KAFKA_BROKERS: server.url, ...variables.get(who) }),
    security,
    kafkajs: {
      ssl: { ca: [security.tls.ca] },
      sasl: { mechanism: "scram-sha-256", username: sasl.username, password: sasl.password },
    },
    async stop() {
      await server.stop();
      await rm(secrets, { recursive: true, force: true });
    },
  };
}
