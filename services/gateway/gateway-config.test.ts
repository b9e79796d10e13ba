import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../platform/config.js";
import { loadGatewayConfig } from "./gateway-config.js";

test("defaults", () => {
  const config = loadGatewayConfig({});
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 8080);
  assert.equal(config.usersAddr, "127.0.0.1:50051");
  assert.equal(config.usersDeadlineMs, 2000);
  assert.equal(config.bodyLimit, 65536);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.docs, true);
  assert.equal(loadGatewayConfig({ NODE_ENV: "production" }).docs, false);
  assert.equal(loadGatewayConfig({ NODE_ENV: "production", GATEWAY_DOCS: "on" }).docs, true);
});

test("CORS origins: none, any, or a list of origins", () => {
  assert.deepEqual(loadGatewayConfig({ GATEWAY_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
  assert.deepEqual(
    loadGatewayConfig({ GATEWAY_CORS_ORIGINS: "https://app.example.com, http://localhost:3000" }).corsOrigins,
    ["https://app.example.com", "http://localhost:3000"],
  );
});

test("ETCD_ENDPOINTS: users discovered at etcd:///users unless USERS_ADDR says otherwise", () => {
  const discovered = loadGatewayConfig({ ETCD_ENDPOINTS: "http://127.0.0.1:2379, http://127.0.0.1:22379" });
  assert.equal(discovered.usersAddr, "etcd:///users");
  assert.deepEqual(discovered.etcdEndpoints, ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]);
  assert.equal(discovered.usersBreakerFailures, 5);
  assert.equal(discovered.usersBreakerHalfOpenMs, 1000);
  const pinned = loadGatewayConfig({ ETCD_ENDPOINTS: "http://127.0.0.1:2379", USERS_ADDR: "127.0.0.1:50051" });
  assert.equal(pinned.usersAddr, "127.0.0.1:50051");
  assert.deepEqual(loadGatewayConfig({}).etcdEndpoints, []);
});

test("AUDIT_ADDR: the users target without Kafka (the users process hosts the audit service), else its own port", () => {
  const embedded = loadGatewayConfig({ USERS_ADDR: "127.0.0.1:41000" });
  assert.equal(embedded.auditAddr, "127.0.0.1:41000");
  assert.equal(embedded.auditDeadlineMs, 2000);
  assert.equal(loadGatewayConfig({}).auditAddr, "127.0.0.1:50051");
  assert.equal(loadGatewayConfig({ KAFKA_BROKERS: "127.0.0.1:9092" }).auditAddr, "127.0.0.1:50061");
  assert.equal(
    loadGatewayConfig({ KAFKA_BROKERS: "127.0.0.1:9092", ETCD_ENDPOINTS: "http://127.0.0.1:2379" }).auditAddr,
    "etcd:///audit",
    "with Kafka and etcd: the audit instances registered in etcd",
  );
  assert.equal(
    loadGatewayConfig({ ETCD_ENDPOINTS: "http://127.0.0.1:2379" }).auditAddr,
    "etcd:///users",
    "with etcd but no Kafka: the users instances, which host the audit service",
  );
  assert.equal(
    loadGatewayConfig({ KAFKA_BROKERS: "127.0.0.1:9092", AUDIT_ADDR: "audit:7000" }).auditAddr,
    "audit:7000",
  );
  assert.equal(loadGatewayConfig({ USERS_DEADLINE_MS: "750" }).auditDeadlineMs, 750, "the users deadline by default");
  assert.equal(loadGatewayConfig({ USERS_DEADLINE_MS: "750", AUDIT_DEADLINE_MS: "300" }).auditDeadlineMs, 300);
});

test("a bad value fails naming the variable", () => {
  const cases: Record<string, string> = {
    GATEWAY_PORT: "eighty",
    USERS_ADDR: "no port here",
    USERS_DEADLINE_MS: "0",
    GATEWAY_BODY_LIMIT: "-5",
    GATEWAY_CORS_ORIGINS: "https://app.example.com/path",
    GATEWAY_DOCS: "maybe",
    NODE_ENV: "staging",
    LOG_LEVEL: "loud",
    ETCD_ENDPOINTS: "127.0.0.1:2379",
    USERS_BREAKER_FAILURES: "0",
    USERS_BREAKER_HALF_OPEN_MS: "soon",
    AUDIT_ADDR: "audit service",
    AUDIT_DEADLINE_MS: "5",
  };
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(
      () => loadGatewayConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(name),
      name,
    );
  }
});

test("an etcd target without ETCD_ENDPOINTS fails naming USERS_ADDR", () => {
  assert.throws(
    () => loadGatewayConfig({ USERS_ADDR: "etcd:///users" }),
    (error: unknown) => error instanceof ConfigError && error.message.startsWith("USERS_ADDR"),
  );
});

test("GATEWAY_TRAEFIK: off by default; on needs ETCD_ENDPOINTS; root key, wait and TTL read", () => {
  const off = loadGatewayConfig({}).traefik;
  assert.deepEqual(off, { enabled: false, rootKey: "traefik", leaseTtlSeconds: 5, deregisterWaitMs: 3000 });
  const on = loadGatewayConfig({
    ETCD_ENDPOINTS: "http://127.0.0.1:2379",
    GATEWAY_TRAEFIK: "on",
    GATEWAY_TRAEFIK_ROOT_KEY: "edge/traefik",
    GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS: "700",
    REGISTRY_LEASE_TTL_S: "2",
    GATEWAY_INSTANCE_ID: "gw-1",
  });
  assert.deepEqual(on.traefik, { enabled: true, rootKey: "edge/traefik", leaseTtlSeconds: 2, deregisterWaitMs: 700 });
  assert.equal(on.instanceId, "gw-1");
  assert.match(loadGatewayConfig({}).instanceId, /^gateway-[0-9a-f]{8}$/);
  const refused = {
    GATEWAY_TRAEFIK: { GATEWAY_TRAEFIK: "on" },
    GATEWAY_TRAEFIK_ROOT_KEY: { GATEWAY_TRAEFIK_ROOT_KEY: "/traefik/" },
    GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS: { GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS: "-1" },
    GATEWAY_INSTANCE_ID: { GATEWAY_INSTANCE_ID: "a/b" },
  };
  for (const [name, env] of Object.entries(refused)) {
    assert.throws(
      () => loadGatewayConfig(env),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(name),
      name,
    );
  }
});

test("the request budget: 600 a minute per client in memory by default, in Redis with REDIS_URL", () => {
  const { rateLimit, trustedProxies } = loadGatewayConfig({});
  assert.deepEqual(rateLimit, {
    max: 600,
    windowMs: 60_000,
    redisUrl: undefined,
    redisCommandTimeoutMs: 250,
    redisAuth: {},
  });
  assert.deepEqual(trustedProxies, []);
  const shared = loadGatewayConfig({
    GATEWAY_RATE_LIMIT_MAX: "5",
    GATEWAY_RATE_LIMIT_WINDOW_MS: "2000",
    REDIS_URL: "redis://127.0.0.1:6379",
  }).rateLimit;
  assert.deepEqual([shared.max, shared.windowMs, shared.redisUrl], [5, 2000, "redis://127.0.0.1:6379"]);
  for (const [name, value] of [
    ["GATEWAY_RATE_LIMIT_MAX", "0"],
    ["GATEWAY_RATE_LIMIT_WINDOW_MS", "10"],
    ["REDIS_URL", "http://127.0.0.1:6379"],
  ] as const) {
    assert.throws(
      () => loadGatewayConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(name),
    );
  }
});

test("GATEWAY_TRUSTED_PROXIES: addresses and CIDRs of IPv4 and IPv6, anything else fails naming it", () => {
  assert.deepEqual(
    loadGatewayConfig({ GATEWAY_TRUSTED_PROXIES: "10.0.0.0/8, 127.0.0.1,::1, 2001:db8::/32" }).trustedProxies,
    ["10.0.0.0/8", "127.0.0.1", "::1", "2001:db8::/32"],
  );
  for (const bad of ["loopback", "10.0.0.0/33", "10.0.0.0/8/1", "::1/129", "10.0.0.1,"]) {
    assert.throws(
      () => loadGatewayConfig({ GATEWAY_TRUSTED_PROXIES: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith("GATEWAY_TRUSTED_PROXIES"),
      bad,
    );
  }
});

test("AUTH_*: the development issuer by default; the issuer, audience and key cache as set", () => {
  const defaults = loadGatewayConfig({}).auth;
  assert.equal(defaults.issuer, "http://127.0.0.1:9400");
  assert.equal(defaults.audience, "urn:charter:api");
  assert.equal(defaults.jwksUri, undefined);
  const set = loadGatewayConfig({
    AUTH_ISSUER: "https://id.example.com/realms/charter",
    AUTH_AUDIENCE: "urn:example:api",
    AUTH_JWKS_CACHE_MS: "1000",
    AUTH_CLOCK_SKEW_S: "5",
  }).auth;
  assert.equal(set.issuer, "https://id.example.com/realms/charter");
  assert.equal(set.audience, "urn:example:api");
  assert.equal(set.jwksCacheMs, 1000);
  assert.equal(set.clockSkewS, 5);
  assert.throws(() => loadGatewayConfig({ AUTH_ISSUER: "ftp://id.example.com" }), /AUTH_ISSUER/);
  assert.throws(() => loadGatewayConfig({ AUTH_AUDIENCE: "two words" }), /AUTH_AUDIENCE/);
});
