/**
 * `npm run start:cluster` as a user runs it (free ports instead of the defaults): a 3-member etcd cluster, the
 * MongoDB-compatible server, Redis, Kafka, three users instances configured from etcd, the audit service and a
 * gateway that finds them through etcd — all of it secured (docs/operations.md, "Security between services").
 * One cluster for every test here: REST and GraphQL through discovery across all three instances, an event through
 * SASL/SCRAM Kafka into the history, a deleted user's history erased by the erasure function, and the refusals — users, audit and etcd without a client certificate, Redis
 * without a password, Kafka without SASL credentials — each beside the same call with the right credentials, so a
 * refusal is the missing credential's doing. Passwords appear in no log line, error or metric. Ctrl-C (SIGINT) stops
 * everything. Heavy: about 30–40 s on two cores.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ChannelCredentials, Client, credentials, type ServiceError, status } from "@grpc/grpc-js";
import { Etcd3, type IOptions } from "etcd3";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { type DevCerts, ensureDevCerts } from "../scripts/infra/index.js";
import { startService, waitFor } from "../scripts/lib/processes.js";
import { type Launcher, launch, tokenFromBanner } from "./support/launcher.js";

/** The JSON content type, and (once the banner is out) a token from the development issuer the cluster runs. */
const json: Record<string, string> = { "content-type": "application/json" };

let cluster: Launcher;
let certs: DevCerts;
let base: string;
let usersAddrs: string[];
let auditAddr: string;
let etcdEndpoints: string[];
let redisUrl: string;
let kafkaBroker: string;
let passwords: { redis: string; kafkaUsers: string; kafkaTriggers: string };

const pem = (file: string) => readFileSync(file);
const match = (pattern: RegExp) => {
  const found = pattern.exec(cluster.output());
  assert.ok(found?.[1], `${pattern} in:\n${cluster.output()}`);
  return found[1];
};

before(async () => {
  certs = await ensureDevCerts();
  cluster = launch("scripts/start-cluster.ts", { AUDIT_GRPC_PORT: "0" });
  base = (
    await cluster.waitForOutput("the cluster banner", /REST\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/users/, 120_000)
  )[1] as string;
  await cluster.waitForOutput("the end of the banner", /Press Ctrl-C to stop/, 5_000);
  const output = cluster.output();
  json.authorization = `Bearer ${await tokenFromBanner(output)}`;
  usersAddrs = [...output.matchAll(/users-\d\s+gRPC (127\.0\.0\.1:\d+)/g)].map((m) => m[1] as string);
  auditAddr = match(/audit\s+gRPC (127\.0\.0\.1:\d+)/);
  etcdEndpoints = match(/ETCD_ENDPOINTS=(\S+)/).split(",");
  redisUrl = match(/Redis\s+(rediss:\/\/\S+)/);
  kafkaBroker = match(/Kafka\s+(127\.0\.0\.1:\d+)/);
  const secrets = match(/Passwords of this run: (\S+)/);
  passwords = {
    redis: readFileSync(join(secrets, "redis-password"), "utf8"),
    kafkaUsers: readFileSync(join(secrets, "kafka-users-password"), "utf8"),
    kafkaTriggers: readFileSync(join(secrets, "kafka-triggers-password"), "utf8"),
  };
});

after(async () => {
  const code = await cluster.interrupt();
  assert.equal(code, 0, cluster.output().slice(-2000));
  assert.match(cluster.output(), /Stopping/);
});

describe("npm run start:cluster, secured", () => {
  test("serves REST and GraphQL through etcd discovery across the three users instances", async () => {
    const output = cluster.output();
    assert.match(output, /running as a cluster, secured/);
    const metricsUrls = [...output.matchAll(/metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)\s+worker id/g)].map(
      (m) => m[1],
    );
    assert.equal(metricsUrls.length, 3, output);

    await waitFor(
      "/readyz to list three SERVING instances and every check SERVING",
      async () => {
        const response = await fetch(`${base}/readyz`);
        const body = (await response.json()) as { instances?: { health: string }[]; checks?: object };
        const serving = body.instances?.filter((i) => i.health === "SERVING").length;
        const checks = Object.values(body.checks ?? {});
        return response.status === 200 && serving === 3 && checks.every((c) => c === "SERVING") ? true : undefined;
      },
      30_000,
    );
    const email = `cluster.${randomUUID()}@example.com`;
    const created = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { ...json, "idempotency-key": randomUUID() },
      body: JSON.stringify({ name: "Cluster Smoke", email }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const user = (await created.json()) as { id: string };
    for (let i = 0; i < 9; i++) {
      const read = await fetch(`${base}/v1/users/${user.id}`, { headers: json });
      assert.equal(read.status, 200);
    }
    const graphql = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ query: "query($id: ID!) { user(id: $id) { id email } }", variables: { id: user.id } }),
    });
    assert.deepEqual(await graphql.json(), { data: { user: { id: user.id, email } } });

    // Round-robin: each of the three instances served some of the reads.
    for (const url of metricsUrls) {
      const text = await (await fetch(url ?? "")).text();
      const served = text
        .split("\n")
        .filter((line) => line.startsWith("charter_users_rpc_total{") && /method="(GetUser|BatchGetUsers)"/.test(line))
        .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
      assert.ok(served > 0, `${url} served reads`);
      for (const secret of Object.values(passwords)) assert.ok(!text.includes(secret), `a password in ${url}`);
    }
  });

  test("an event reaches the history through Kafka over SASL/SCRAM and TLS", async () => {
    const created = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { ...json, "idempotency-key": randomUUID() },
      body: JSON.stringify({ name: "Event Through Kafka", email: `kafka.${randomUUID()}@example.com` }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = (await created.json()) as { id: string };
    const events = await waitFor(
      "the CREATED event in the history",
      async () => {
        const response = await fetch(`${base}/v1/users/${id}/history`, { headers: json });
        const body = (await response.json()) as { events?: { type: string }[] };
        return response.status === 200 && body.events?.length ? body.events : undefined;
      },
      20_000,
      100,
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ["CREATED"],
    );
  });

  test("a deleted user's history is erased: the triggers read Kafka over SASL/SCRAM, the erasure function calls the audit service over mutual TLS", async () => {
    const output = cluster.output();
    assert.match(output, /erasure\s+function http:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /triggers\s+charter\.users\.v1\.events → erasure/);
    const created = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { ...json, "idempotency-key": randomUUID() },
      body: JSON.stringify({ name: "Erased Soon", email: `erased.${randomUUID()}@example.com` }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = (await created.json()) as { id: string };
    assert.equal(
      (
        await fetch(`${base}/v1/users/${id}`, {
          method: "DELETE",
          headers: { authorization: json.authorization ?? "" },
        })
      ).status,
      204,
    );
    const events = await waitFor(
      "the history erased",
      async () => {
        const response = await fetch(`${base}/v1/users/${id}/history`, { headers: json });
        const body = (await response.json()) as { events?: { type: string; redactedAt?: string; user?: unknown }[] };
        return body.events?.length === 2 && body.events.every((e) => e.redactedAt !== undefined)
          ? body.events
          : undefined;
      },
      20_000,
      100,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.user]),
      [
        ["CREATED", undefined],
        ["DELETED", undefined],
      ],
    );
  });

  /** grpc.health.v1 Check of "" with these credentials: SERVING, or the call's status code. */
  async function healthCheck(address: string, creds: ChannelCredentials): Promise<string | number> {
    const client = new Client(address, creds);
    try {
      return await new Promise((resolve) => {
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (request: Buffer) => request,
          (response: Buffer) => response,
          Buffer.alloc(0),
          { deadline: Date.now() + 3_000 },
          (error: ServiceError | null, response?: Buffer) => {
            // HealthCheckResponse { status = 1 (SERVING) }: field 1, varint 1.
            resolve(error ? error.code : response?.equals(Buffer.from([8, 1])) ? "SERVING" : "other");
          },
        );
      });
    } finally {
      client.close();
    }
  }

  test("users and audit refuse gRPC without a client certificate of the platform's CA", async () => {
    const ca = pem(certs.ca);
    const withCert = credentials.createSsl(ca, pem(certs.client.gateway.key), pem(certs.client.gateway.cert));
    assert.equal(usersAddrs.length, 3);
    for (const address of [usersAddrs[0] as string, auditAddr]) {
      assert.equal(await healthCheck(address, withCert), "SERVING", `${address} with the gateway's certificate`);
      assert.equal(
        await healthCheck(address, credentials.createInsecure()),
        status.UNAVAILABLE,
        `${address} plaintext`,
      );
      assert.equal(
        await healthCheck(address, credentials.createSsl(ca)),
        status.UNAVAILABLE,
        `${address} TLS, no cert`,
      );
    }
  });

  test("etcd refuses a client without a certificate, and plain http", async () => {
    const client = (options: IOptions) =>
      new Etcd3({ ...options, defaultCallOptions: () => ({ deadline: Date.now() + 3_000 }) });
    const ca = pem(certs.ca);
    const good = client({
      hosts: etcdEndpoints,
      credentials: {
        rootCertificate: ca,
        certChain: pem(certs.client.users.cert),
        privateKey: pem(certs.client.users.key),
      },
    });
    const noCert = client({ hosts: etcdEndpoints, credentials: { rootCertificate: ca } });
    const plain = client({ hosts: etcdEndpoints.map((url) => url.replace("https:", "http:")) });
    try {
      assert.match(String(await good.get("/charter/config/redis-url").string()), /^rediss:\/\//);
      await assert.rejects(noCert.get("/charter/config/redis-url").string(), /UNAVAILABLE|bad certificate|handshake/i);
      await assert.rejects(plain.get("/charter/config/redis-url").string());
    } finally {
      for (const c of [good, noCert, plain]) c.close();
    }
  });

  test("Redis refuses a connection without the ACL user's password (NOAUTH, WRONGPASS)", async () => {
    const tls = { ca: pem(certs.ca) };
    const connectPlain = async () => {
      const redis = new Redis(redisUrl.replace("rediss:", "redis:"), {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
      });
      redis.on("error", () => {});
      try {
        await redis.connect().catch(() => {});
        return await redis.ping().catch((error: Error) => error.message);
      } finally {
        redis.disconnect();
      }
    };
    const connect = async (options: { username?: string; password?: string }) => {
      const redis = new Redis(redisUrl, {
        ...options,
        tls,
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      const errors: string[] = [];
      redis.on("error", (error: Error) => errors.push(error.message));
      try {
        await redis.connect().catch((error: Error) => errors.push(error.message));
        const reply = await redis.ping().catch((error: Error) => error.message);
        return [...errors, reply].join("; ");
      } finally {
        redis.disconnect();
      }
    };
    assert.equal(await connect({ username: "charter-users", password: passwords.redis }), "PONG");
    // Redis speaks TLS only: a plaintext client gets no answer at all.
    assert.match(await connectPlain(), /closed|ECONNRESET|timed out|Connection/i);
    assert.match(await connect({}), /NOAUTH/);
    const wrong = await connect({ username: "charter-users", password: "not-the-password" });
    assert.match(wrong, /WRONGPASS/);
    assert.ok(!wrong.includes("not-the-password"));
  });

  test("Kafka refuses a client without SASL credentials, or with a wrong password", async () => {
    const attempt = async (sasl?: { username: string; password: string }) => {
      const admin = new Kafka({
        brokers: [kafkaBroker],
        ssl: { ca: [pem(certs.ca)] },
        ...(sasl ? { sasl: { mechanism: "scram-sha-256" as const, ...sasl } } : {}),
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        connectionTimeout: 3_000,
        requestTimeout: 3_000,
      }).admin();
      try {
        await admin.connect();
        return (await admin.listTopics()).length >= 0 ? "listed" : "none";
      } catch (error) {
        return (error as Error).name;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    };
    assert.equal(await attempt({ username: "charter-users", password: passwords.kafkaUsers }), "listed");
    assert.notEqual(await attempt(), "listed");
    assert.equal(
      await attempt({ username: "charter-users", password: "not-the-password" }),
      "KafkaJSSASLAuthenticationError",
    );
  });

  test("a wrong Redis password shows in no log line, error or metric", async () => {
    const wrong = `wrong-${randomBytes(12).toString("hex")}`;
    const users = await startService(
      "services/users/main.ts",
      {
        LOG_LEVEL: "debug",
        USERS_HOST: "127.0.0.1",
        USERS_GRPC_PORT: "0",
        USERS_METRICS_PORT: "0",
        REDIS_URL: redisUrl,
        REDIS_USERNAME: "charter-users",
        REDIS_PASSWORD: wrong,
        REDIS_TLS_CA_FILE: certs.ca,
      },
      "users service ready",
      60_000,
    );
    try {
      const metrics = `http://127.0.0.1:${String(users.ready.metricsPort)}/metrics`;
      // The cache stays bypassed (the store serves): Redis refused the login.
      await waitFor(
        "the cache to be reported down",
        async () => ((await (await fetch(metrics)).text()).includes("charter_users_cache_up") ? true : undefined),
        10_000,
      );
      const text = await (await fetch(metrics)).text();
      assert.match(text, /charter_users_cache_up\{[^}]*\} 0/);
      const everything = [...users.output, text, cluster.output()].join("\n");
      assert.match(everything, /WRONGPASS/, "the refused login is reported");
      for (const secret of [wrong, passwords.redis, passwords.kafkaUsers, passwords.kafkaTriggers]) {
        assert.ok(!everything.includes(secret), "a password in the logs or metrics");
      }
    } finally {
      await users.stop();
    }
  });
});
