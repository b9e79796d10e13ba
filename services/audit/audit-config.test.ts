import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../platform/config.js";
import { loadAuditConfig } from "./audit-config.js";

test("defaults: the embedded history, the in-process bus, the documented ports and group", () => {
  const config = loadAuditConfig({});
  assert.deepEqual(
    {
      host: config.host,
      grpcPort: config.grpcPort,
      metricsPort: config.metricsPort,
      mongoUrl: config.mongoUrl,
      kafkaBrokers: config.kafkaBrokers,
      groupId: config.groupId,
      retryDelayMs: config.retryDelayMs,
      batchSize: config.batchSize,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      logLevel: config.logLevel,
    },
    {
      host: "0.0.0.0",
      grpcPort: 50061,
      metricsPort: 9465,
      mongoUrl: undefined,
      kafkaBrokers: [],
      groupId: "charter-audit",
      retryDelayMs: 500,
      batchSize: 500,
      shutdownTimeoutMs: 10_000,
      logLevel: "info",
    },
  );
  assert.equal(config.instanceId, `audit-${process.pid}`);
});

test("values from the environment, KAFKA_BROKERS trimmed and split", () => {
  const config = loadAuditConfig({
    AUDIT_HOST: "127.0.0.1",
    AUDIT_GRPC_PORT: "0",
    AUDIT_METRICS_PORT: "19465",
    MONGO_URL: "mongodb://db-1:27017,db-2:27017/charter?replicaSet=rs0",
    KAFKA_BROKERS: " kafka-1:9092, [::1]:9093 ,",
    AUDIT_GROUP_ID: "charter-audit.v2",
    AUDIT_INSTANCE_ID: "audit-a_1",
    AUDIT_RETRY_DELAY_MS: "50",
    AUDIT_BATCH_SIZE: "64",
    AUDIT_ERASURE_SWEEP_MS: "250",
    SHUTDOWN_TIMEOUT_MS: "0",
    LOG_LEVEL: "silent",
  });
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.grpcPort, 0);
  assert.equal(config.metricsPort, 19465);
  assert.equal(config.mongoUrl, "mongodb://db-1:27017,db-2:27017/charter?replicaSet=rs0");
  assert.deepEqual(config.kafkaBrokers, ["kafka-1:9092", "[::1]:9093"]);
  assert.equal(config.groupId, "charter-audit.v2");
  assert.equal(config.instanceId, "audit-a_1");
  assert.equal(config.retryDelayMs, 50);
  assert.equal(config.batchSize, 64);
  assert.equal(config.erasureSweepMs, 250);
  assert.equal(config.shutdownTimeoutMs, 0);
  assert.equal(config.logLevel, "silent");
});

test("each bad value stops start-up with one line naming its variable", () => {
  for (const [name, value] of [
    ["AUDIT_GRPC_PORT", "65536"],
    ["AUDIT_GRPC_PORT", "fifty"],
    ["AUDIT_METRICS_PORT", "-1"],
    ["MONGO_URL", "http://db:27017"],
    ["MONGO_CONNECT_TIMEOUT_MS", "10"],
    ["KAFKA_BROKERS", "kafka-1"],
    ["AUDIT_GROUP_ID", "charter audit"],
    ["AUDIT_BATCH_SIZE", "0"],
    ["AUDIT_ERASURE_SWEEP_MS", "5"],
    ["AUDIT_GROUP_ID", "x".repeat(129)],
    ["AUDIT_INSTANCE_ID", "a/b"],
    ["AUDIT_RETRY_DELAY_MS", "0"],
    ["SHUTDOWN_TIMEOUT_MS", "1.5"],
    ["LOG_LEVEL", "loud"],
  ] as const) {
    assert.throws(
      () => loadAuditConfig({ [name]: value }),
      (e) => e instanceof ConfigError && e.message.startsWith(`${name} must be`) && !e.message.includes("\n"),
      `${name}=${value}`,
    );
  }
});
