import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, envReader } from "./config.js";
import { kafkaSecurity } from "./events/kafka-config.js";
import { etcdTls } from "./registry/registry-config.js";
import { clientTls, mutualTls } from "./tls-config.js";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY\n-----END PRIVATE KEY-----\n";

/** A ConfigError of one line that names `variable` and shows none of `secrets`. */
const refuses =
  (variable: string, ...secrets: string[]) =>
  (error: unknown) =>
    error instanceof ConfigError &&
    !error.message.includes("\n") &&
    error.message.includes(variable) &&
    secrets.every((secret) => !error.message.includes(secret));

test("a secret comes from the variable or from the file its _FILE twin names, never from both", () => {
  const dir = mkdtempSync(join(tmpdir(), "charter-secret-"));
  try {
    writeFileSync(join(dir, "password"), "s3cret-from-file\n");
    assert.equal(envReader({}).secret("PASSWORD"), undefined);
    assert.equal(envReader({ PASSWORD: "s3cret" }).secret("PASSWORD"), "s3cret");
    assert.equal(envReader({ PASSWORD_FILE: join(dir, "password") }).secret("PASSWORD"), "s3cret-from-file");
    assert.throws(
      () => envReader({ PASSWORD: "s3cret", PASSWORD_FILE: join(dir, "password") }).secret("PASSWORD"),
      refuses("PASSWORD_FILE", "s3cret"),
    );
    assert.throws(
      () => envReader({ PASSWORD_FILE: join(dir, "missing") }).secret("PASSWORD"),
      refuses("PASSWORD_FILE"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("TLS groups: all or nothing, and a half-configured group names the missing variable", () => {
  assert.equal(mutualTls(envReader({}), "GRPC_TLS"), undefined);
  const full = mutualTls(envReader({ GRPC_TLS_CA: CERT, GRPC_TLS_CERT: CERT, GRPC_TLS_KEY: KEY }), "GRPC_TLS");
  assert.equal(full?.key.toString(), KEY);
  assert.throws(() => mutualTls(envReader({ GRPC_TLS_CERT: CERT }), "GRPC_TLS"), refuses("GRPC_TLS_CA"));
  assert.throws(
    () => mutualTls(envReader({ GRPC_TLS_CA: CERT, GRPC_TLS_CERT: CERT }), "GRPC_TLS"),
    refuses("GRPC_TLS_KEY"),
  );
  assert.throws(
    () => mutualTls(envReader({ GRPC_TLS_CA: CERT, GRPC_TLS_CERT: KEY, GRPC_TLS_KEY: CERT }), "GRPC_TLS"),
    refuses("GRPC_TLS_CERT", "TOP-SECRET-KEY"),
  );
  assert.deepEqual(clientTls(envReader({ ETCD_TLS_CA: CERT }), "ETCD_TLS"), { ca: Buffer.from(CERT) });
  assert.throws(
    () => clientTls(envReader({ ETCD_TLS_CA: CERT, ETCD_TLS_KEY: KEY }), "ETCD_TLS"),
    refuses("ETCD_TLS_CERT"),
  );
  assert.throws(() => etcdTls(envReader({ ETCD_TLS_CA: CERT }), ["http://127.0.0.1:2379"]), refuses("ETCD_ENDPOINTS"));
});

test("Kafka security: plaintext by default, TLS with a CA, SCRAM credentials only in pairs", () => {
  assert.deepEqual(kafkaSecurity(envReader({})), {});
  assert.deepEqual(kafkaSecurity(envReader({ KAFKA_TLS: "on" })), { tls: {} });
  const secured = kafkaSecurity(
    envReader({ KAFKA_TLS_CA: CERT, KAFKA_SASL_USERNAME: "charter", KAFKA_SASL_PASSWORD: "pw-123" }),
  );
  assert.deepEqual(secured.sasl, { mechanism: "scram-sha-256", username: "charter", password: "pw-123" });
  assert.equal(secured.tls?.ca?.toString(), CERT);
  assert.throws(() => kafkaSecurity(envReader({ KAFKA_SASL_USERNAME: "charter" })), refuses("KAFKA_SASL_PASSWORD"));
  assert.throws(
    () => kafkaSecurity(envReader({ KAFKA_SASL_PASSWORD: "pw-123" })),
    refuses("KAFKA_SASL_USERNAME", "pw-123"),
  );
  assert.throws(() => kafkaSecurity(envReader({ KAFKA_TLS: "off", KAFKA_TLS_CA: CERT })), refuses("KAFKA_TLS"));
});
