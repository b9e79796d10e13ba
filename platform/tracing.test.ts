import assert from "node:assert/strict";
import { test } from "node:test";
import { exportConfigured, serviceNameFromEnv } from "./tracing.js";

test("spans are exported as the Node SDK reads OTEL_TRACES_EXPORTER and the OTLP endpoints", () => {
  const warnings: string[] = [];
  const exports = (env: NodeJS.ProcessEnv) => exportConfigured(env, (line) => warnings.push(line));
  assert.equal(exports({}), false, "nothing configured: spans stay in the process");
  assert.equal(exports({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }), true);
  assert.equal(exports({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }), true);
  assert.equal(exports({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318" }), false);
  assert.equal(exports({ OTEL_TRACES_EXPORTER: "none,otlp" }), true, "none beside others means otlp");
  assert.equal(exports({ OTEL_TRACES_EXPORTER: " console " }), true);
  assert.deepEqual(warnings, []);
  assert.equal(exports({ OTEL_TRACES_EXPORTER: "jaeger" }), false, "an exporter the SDK lacks: spans stay here");
  assert.match(warnings[0] ?? "", /OTEL_TRACES_EXPORTER=jaeger names no exporter this SDK has/);
});

test("the service name is the environment's when it gives one, in either variable", () => {
  assert.equal(serviceNameFromEnv({}), false);
  assert.equal(serviceNameFromEnv({ OTEL_SERVICE_NAME: "edge" }), true);
  assert.equal(
    serviceNameFromEnv({ OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod, service.name=edge" }),
    true,
  );
  assert.equal(serviceNameFromEnv({ OTEL_RESOURCE_ATTRIBUTES: "service.namespace=charter" }), false);
});
