import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SAMPLE_RATIO, exportConfigured, serviceNameFromEnv, tracesSampler } from "./tracing.js";

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

test("the sampler is parent-based by trace-id ratio unless the environment names another", () => {
  assert.deepEqual(tracesSampler({}), { name: "parentbased_traceidratio", ratio: DEFAULT_SAMPLE_RATIO });
  assert.ok(DEFAULT_SAMPLE_RATIO > 0 && DEFAULT_SAMPLE_RATIO < 1);
  assert.deepEqual(tracesSampler({ OTEL_TRACES_SAMPLER_ARG: "0.25" }), {
    name: "parentbased_traceidratio",
    ratio: 0.25,
  });
  assert.deepEqual(tracesSampler({ OTEL_TRACES_SAMPLER: "parentbased_always_on" }), {
    name: "parentbased_always_on",
    ratio: 1,
  });
  assert.deepEqual(tracesSampler({ OTEL_TRACES_SAMPLER: " TraceIdRatio ", OTEL_TRACES_SAMPLER_ARG: "1" }), {
    name: "traceidratio",
    ratio: 1,
  });
  assert.throws(
    () => tracesSampler({ OTEL_TRACES_SAMPLER: "jaeger_remote" }),
    /^ConfigError: OTEL_TRACES_SAMPLER must be/,
  );
  assert.throws(() => tracesSampler({ OTEL_TRACES_SAMPLER_ARG: "1.5" }), /OTEL_TRACES_SAMPLER_ARG must be a ratio/);
  assert.throws(() => tracesSampler({ OTEL_TRACES_SAMPLER_ARG: "ten" }), /OTEL_TRACES_SAMPLER_ARG must be a ratio/);
});
