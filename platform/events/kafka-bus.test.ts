import { randomUUID } from "node:crypto";
import { after, before } from "node:test";
import { type RunningServer, startKafka } from "../../scripts/infra/index.js";
import { busSpec } from "../../test/specs/bus-spec.js";
import { createLogger } from "../logging.js";
import { createKafkaBus } from "./kafka-bus.js";

let kafka: RunningServer;
before(async () => {
  kafka = await startKafka();
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
    }),
  deadlineMs: 60_000,
});
