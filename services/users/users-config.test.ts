import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../platform/config.js";
import { advertisedAddress } from "../../platform/registry/registry-config.js";
import { loadUsersConfig, MONGO_URL_KEY, REDIS_URL_KEY, withEtcdInfrastructure } from "./users-config.js";

test("cluster settings: defaults, and each bad value names its variable", () => {
  const config = loadUsersConfig({});
  assert.deepEqual(config.etcdEndpoints, []);
  assert.match(config.instanceId, /^users-[0-9a-f]{8}$/);
  assert.equal(config.workerId, undefined, "unset: leased in cluster mode, 0 otherwise");
  assert.deepEqual(
    [config.zone, config.leaseTtlSeconds, config.drainMs, config.idempotencyTtlMs, config.etcdConnectTimeoutMs],
    ["local", 5, 1_000, 86_400_000, 5_000],
  );
  const set = loadUsersConfig({
    ETCD_ENDPOINTS: " http://127.0.0.1:2379, https://etcd.example:2379 ",
    USERS_INSTANCE_ID: "users-a.1",
    USERS_ADVERTISE_ADDR: "[::1]:50051",
    USERS_WORKER_ID: "0",
  });
  assert.deepEqual(set.etcdEndpoints, ["http://127.0.0.1:2379", "https://etcd.example:2379"]);
  assert.equal(set.advertiseAddr, "[::1]:50051");
  assert.equal(set.workerId, 0);
  for (const [name, value] of [
    ["ETCD_ENDPOINTS", "127.0.0.1:2379"],
    ["USERS_INSTANCE_ID", "a/b"],
    ["USERS_ADVERTISE_ADDR", "no-port"],
    ["REGISTRY_LEASE_TTL_S", "0"],
    ["IDEMPOTENCY_TTL_MS", "-1"],
  ] as const) {
    assert.throws(
      () => loadUsersConfig({ [name]: value }),
      (e) => e instanceof ConfigError && e.message.startsWith(`${name} must be`),
    );
  }
});

test("the advertised address: explicit, loopback for wildcard hosts, otherwise the host", () => {
  assert.equal(advertisedAddress("users-1:9000", "0.0.0.0", 1), "users-1:9000");
  assert.equal(advertisedAddress(undefined, "0.0.0.0", 5001), "127.0.0.1:5001");
  assert.equal(advertisedAddress(undefined, "10.0.0.7", 5001), "10.0.0.7:5001");
  assert.equal(advertisedAddress(undefined, "fd00::7", 5001), "[fd00::7]:5001");
});

test("etcd values fill only what the environment left unset, validated like the variables", () => {
  const values = new Map([
    [MONGO_URL_KEY, "mongodb://db:27017/charter"],
    [REDIS_URL_KEY, undefined],
  ]);
  const fromEtcd = withEtcdInfrastructure(loadUsersConfig({}), values);
  assert.equal(fromEtcd.config.mongoUrl, "mongodb://db:27017/charter");
  assert.equal(fromEtcd.config.redisUrl, undefined);
  assert.deepEqual(fromEtcd.sources, { mongo: "etcd", redis: "default" });
  const envWins = withEtcdInfrastructure(loadUsersConfig({ MONGO_URL: "mongodb://env:1/x" }), values);
  assert.equal(envWins.config.mongoUrl, "mongodb://env:1/x");
  assert.equal(envWins.sources.mongo, "env");
  assert.throws(
    () => withEtcdInfrastructure(loadUsersConfig({}), new Map([[REDIS_URL_KEY, "http://x"]])),
    (e) => e instanceof ConfigError && e.message.startsWith(`${REDIS_URL_KEY} must be a URL`),
  );
});

test("outbox relay settings: defaults, values, and each bad value names its variable", () => {
  assert.deepEqual(loadUsersConfig({}).outbox, { pollIntervalMs: 200, batchSize: 1_000, leaseMs: 10_000 });
  assert.deepEqual(
    loadUsersConfig({ OUTBOX_POLL_INTERVAL_MS: "50", OUTBOX_BATCH_SIZE: "500", OUTBOX_LEASE_MS: "2000" }).outbox,
    { pollIntervalMs: 50, batchSize: 500, leaseMs: 2_000 },
  );
  for (const [name, value] of [
    ["OUTBOX_POLL_INTERVAL_MS", "0"],
    ["OUTBOX_POLL_INTERVAL_MS", "fast"],
    ["OUTBOX_BATCH_SIZE", "0"],
    ["OUTBOX_BATCH_SIZE", "10001"],
    ["OUTBOX_LEASE_MS", "99"],
    ["OUTBOX_LEASE_MS", "1.5"],
  ] as const) {
    assert.throws(
      () => loadUsersConfig({ [name]: value }),
      (e) => e instanceof ConfigError && e.message.startsWith(`${name} must be`),
      `${name}=${value}`,
    );
  }
});
