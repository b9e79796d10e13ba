import { randomUUID } from "node:crypto";
import { after, before } from "node:test";
import { busSpec } from "../../test/specs/bus-spec.js";
import { type SecuredKafka, startSecuredKafka } from "../../test/support/secured-kafka.js";
import { createLogger } from "../logging.js";
import { createKafkaBus } from "./kafka-bus.js";

// Secured as the services run it (test/support/secured-kafka.ts): SASL_SSL with SCRAM-SHA-256 and the development CA.
let kafka: SecuredKafka;
before(async () => {
  kafka = await startSecuredKafka();
});
after(async () => {
  await kafka?.stop();
});

busSpec("Apache Kafka", {
  bus: async () =>
    createKafkaBus({
      brokers: [kafka.url],
      clientId: `spec-${randomUUID().slice(0, 8)}`,
      logger: createLogger("test", "warn"),
      security: kafka.security,
    }),
  deadlineMs: 60_000,
});
