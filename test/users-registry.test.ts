/**
 * The users service in cluster mode, as real processes against a real etcd: registration after SERVING and
 * revocation before the server stops, infrastructure URLs from etcd (the environment wins), leased snowflake
 * worker ids (unique, and refused while unconfirmed), and idempotent creates across instances sharing MongoDB.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { freePorts, type RunningServer, startEtcd, startMongo, startRedis } from "../scripts/infra/index.js";
import { metricValue, runToExit, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { startTestIssuer } from "./support/auth.js";
import { grpc, statusDetails, type UsersClient, usersClient } from "./support/contract-client.js";

const users = "services/users/main.ts";
const TTL_S = 2;
const TTL_MS = TTL_S * 1000;
const base = {
  USERS_GRPC_PORT: "0",
  USERS_METRICS_PORT: "0",
  USERS_HOST: "127.0.0.1",
  REGISTRY_LEASE_TTL_S: String(TTL_S),
  REGISTRY_DRAIN_MS: "300",
  USERS_HEALTH_INTERVAL_MS: "200",
  ETCD_CONNECT_TIMEOUT_MS: "5000",
};
const email = (tag = "") => `${tag}${randomUUID().slice(0, 12)}@example.com`;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
/** The issuer every instance trusts; the test's calls bring its tokens. */
const issuer = await startTestIssuer();
cleanups.push(() => issuer.close());

async function etcdServer(): Promise<{ server: RunningServer; client: Etcd3 }> {
  const server = await startEtcd();
  const client = createEtcdClient({ endpoints: [server.url], callTimeoutMs: 2_000 });
  cleanups.push(
    () => server.stop(),
    () => client.close(),
  );
  return { server, client };
}

async function startUsers(env: Record<string, string>): Promise<{ service: ServiceProcess; client: UsersClient }> {
  const service = await startService(users, { ...base, ...issuer.env, ...env }, "users service ready");
  const client = usersClient(`127.0.0.1:${service.ready.grpcPort}`, await issuer.bearer());
  cleanups.push(
    () => service.stop(),
    () => client.close(),
  );
  return { service, client };
}

async function grpcError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  assert.fail("expected the call to fail");
}

const create = (client: UsersClient, name: string, mail: string, requestId = "") =>
  client.call<{ user: { id: string; name: string; email: string } }>("CreateUser", {
    user: { name, email: mail },
    requestId,
  });

/** A port nothing listens on. */
const freePort = async (): Promise<number> => {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free port");
  return port;
};

describe("users registration in etcd", () => {
  let etcd: { server: RunningServer; client: Etcd3 };
  before(async () => {
    etcd = await etcdServer();
  });

  test("registers once SERVING with the documented value; SIGTERM revokes first, serves through the drain, exits 0", async () => {
    const instanceId = `users-reg-${randomUUID().slice(0, 8)}`;
    const { service, client } = await startUsers({
      ETCD_ENDPOINTS: etcd.server.url,
      USERS_INSTANCE_ID: instanceId,
      USERS_ZONE: "zone-a",
      USERS_WORKER_ID: "7",
      REGISTRY_DRAIN_MS: "1000",
    });
    assert.equal(service.ready.instanceId, instanceId);
    assert.equal(service.ready.registry, "etcd");
    assert.equal(service.ready.workerId, 7, "USERS_WORKER_ID wins over a leased id");
    const key = `/charter/services/users/${instanceId}`;
    const raw = await waitFor("the instance key", async () => (await etcd.client.get(key).string()) ?? undefined);
    const value = JSON.parse(raw) as Record<string, unknown>;
    assert.deepEqual(Object.keys(value).sort(), ["address", "metricsAddress", "startedAt", "version", "zone"]);
    assert.equal(value.address, `127.0.0.1:${service.ready.grpcPort}`);
    assert.equal(value.metricsAddress, `127.0.0.1:${service.ready.metricsPort}`);
    assert.equal(value.version, "0.1.0");
    assert.equal(value.zone, "zone-a");
    assert.ok(!Number.isNaN(Date.parse(String(value.startedAt))));
    assert.equal(await client.health(), "SERVING");
    await waitFor("the registry health entry", async () =>
      (await client.health("charter.users.v1.UsersService/registry")) === "SERVING" ? true : undefined,
    );
    assert.equal(await metricValue(Number(service.ready.metricsPort), "charter_users_registered"), 1);
    const created = await create(client, "Ada", email());

    let exited = false;
    void service.exited.then(() => {
      exited = true;
    });
    service.signal("SIGTERM");
    await waitFor("the key to be revoked", async () =>
      (await etcd.client.get(key).string()) === null ? true : undefined,
    );
    assert.equal(exited, false, "the key is gone before the process exits");
    // Still serving during the drain, for clients that have not dropped the instance yet.
    assert.equal((await client.call("GetUser", { id: created.user.id })).user.id, created.user.id);
    assert.equal(await service.exited, 0);
  });

  test("without etcd: no registration, the ready line says so", async () => {
    const { service } = await startUsers({});
    assert.equal(service.ready.registry, "none");
    assert.match(String(service.ready.instanceId), /^users-[0-9a-f]{8}$/);
    assert.equal(service.ready.workerId, 0);
    assert.equal(await metricValue(Number(service.ready.metricsPort), "charter_users_registered"), 0);
  });
});

describe("infrastructure URLs from etcd", () => {
  let etcd: { server: RunningServer; client: Etcd3 };
  let redis: RunningServer;
  let mongo: RunningServer;
  before(async () => {
    [etcd, redis, mongo] = await Promise.all([etcdServer(), startRedis(), startMongo()]);
    cleanups.push(
      () => redis.stop(),
      () => mongo.stop(),
    );
  });

  test("unset MONGO_URL/REDIS_URL are read from etcd; the environment wins; absent keys leave the defaults", async () => {
    await etcd.client.put("/charter/config/redis-url").value(redis.url);
    // If the etcd value were used, start-up would fail: nothing listens there.
    await etcd.client.put("/charter/config/mongo-url").value(`mongodb://127.0.0.1:${await freePort()}/charter`);
    const { service, client } = await startUsers({
      ETCD_ENDPOINTS: etcd.server.url,
      MONGO_URL: mongo.url,
      USERS_WORKER_ID: "1",
    });
    assert.equal(service.ready.cache, "redis", "REDIS_URL from etcd");
    assert.equal(service.ready.store, "mongodb", "MONGO_URL from the environment");
    const sources = service.output
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .find((line) => line?.msg?.toString().startsWith("infrastructure configuration"));
    assert.equal(sources?.mongo, "env");
    assert.equal(sources?.redis, "etcd");
    await create(client, "Ada", email());
    await service.stop();

    await etcd.client.delete().all();
    const defaults = await startUsers({ ETCD_ENDPOINTS: etcd.server.url, USERS_WORKER_ID: "1" });
    assert.equal(defaults.service.ready.cache, "memory");
    assert.equal(defaults.service.ready.store, "memory");
  });

  test("a bad value in etcd stops start-up naming the key; so does an etcd that does not answer", async () => {
    await etcd.client.put("/charter/config/redis-url").value("http://not-redis");
    const bad = await runToExit(users, { ...base, ETCD_ENDPOINTS: etcd.server.url });
    await etcd.client.delete().key("/charter/config/redis-url");
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr.trim(),
      /^users: configuration error: \/charter\/config\/redis-url must be a URL starting with redis:\/\//,
    );

    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const down = await runToExit(users, { ...base, ETCD_ENDPOINTS: nowhere, ETCD_CONNECT_TIMEOUT_MS: "500" });
    assert.equal(down.code, 1);
    const lines = down.stderr.trim().split("\n");
    assert.equal(lines.length, 1, down.stderr);
    assert.match(lines[0] ?? "", /^users: cannot start: etcd at http:\/\/127\.0\.0\.1:\d+ \(ETCD_ENDPOINTS\) /);

    const malformed = await runToExit(users, { ...base, ETCD_ENDPOINTS: "127.0.0.1:2379" });
    assert.match(malformed.stderr.trim(), /^users: configuration error: ETCD_ENDPOINTS must be/);
  });
});

describe("leased snowflake worker ids", () => {
  test("two instances started at once hold different worker ids; 500 ids minted by each never collide", async () => {
    const etcd = await etcdServer();
    const env = { ETCD_ENDPOINTS: etcd.server.url };
    const [a, b] = await Promise.all([startUsers(env), startUsers(env)]);
    const idA = a.service.ready.workerId;
    const idB = b.service.ready.workerId;
    assert.equal(typeof idA, "number");
    assert.equal(typeof idB, "number");
    assert.notEqual(idA, idB);
    assert.equal(a.service.ready.workerIdSource, "etcd");
    const held = await etcd.client.getAll().prefix("/charter/workers/users/").keys();
    assert.deepEqual(held.sort(), [`/charter/workers/users/${idA}`, `/charter/workers/users/${idB}`].sort());

    const mint = async (client: UsersClient, tag: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let batch = 0; batch < 25; batch++) {
        const created = await Promise.all(
          Array.from({ length: 20 }, (_, i) => create(client, `${tag} ${batch}-${i}`, email(tag))),
        );
        ids.push(...created.map((c) => c.user.id));
      }
      return ids;
    };
    const [fromA, fromB] = await Promise.all([mint(a.client, "a"), mint(b.client, "b")]);
    const all = new Set([...fromA, ...fromB]);
    assert.equal(all.size, 1000, "no id minted twice");
    const workerOf = (id: string) => Number((BigInt(id) >> 12n) & 1023n);
    assert.ok(fromA.every((id) => workerOf(id) === idA));
    assert.ok(fromB.every((id) => workerOf(id) === idB));

    await a.service.stop();
    await waitFor("the stopped instance's worker id to be released", async () => {
      const keys = await etcd.client.getAll().prefix("/charter/workers/users/").keys();
      return keys.length === 1 ? true : undefined;
    });
  });

  test("etcd gone longer than the TTL: creates are UNAVAILABLE, reads work; etcd back: creates and registration resume", async () => {
    const etcd = await etcdServer();
    const instanceId = `users-outage-${randomUUID().slice(0, 8)}`;
    const { service, client } = await startUsers({ ETCD_ENDPOINTS: etcd.server.url, USERS_INSTANCE_ID: instanceId });
    const key = `/charter/services/users/${instanceId}`;
    await waitFor("registration", async () => ((await etcd.client.get(key).string()) ? true : undefined));
    const before = await create(client, "Before", email());

    await etcd.server.kill();
    const refused = await waitFor(
      "CreateUser to be refused",
      async () => {
        const error = await create(client, "During", email()).then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        );
        return error?.code === grpc.status.UNAVAILABLE ? error : undefined;
      },
      TTL_MS * 5,
      100,
    );
    assert.match(refused.details, /worker id/);
    assert.equal((await client.call("GetUser", { id: before.user.id })).user.id, before.user.id, "reads still work");
    assert.equal(await client.health(), "SERVING", "the instance keeps serving");
    await waitFor(
      "the worker id gauge to show no usable id",
      async () =>
        (await metricValue(Number(service.ready.metricsPort), "charter_users_worker_id")) === -1 ? true : undefined,
      TTL_MS * 5,
    );
    // Keep etcd down a while longer (an outage length, not a wait for anything): well past the TTL, so the
    // lease is given up and a worker id is leased afresh when etcd returns.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS));

    await etcd.server.restart();
    const after = await waitFor(
      "CreateUser to work again",
      () => create(client, "After", email()).catch(() => undefined),
      TTL_MS * 10,
      100,
    );
    assert.ok(BigInt(after.user.id) > BigInt(before.user.id), "ids keep increasing");
    await waitFor(
      "registration again",
      async () => ((await etcd.client.get(key).string()) ? true : undefined),
      TTL_MS * 10,
    );
    assert.equal(await service.stop(), 0);
  });
});

describe("idempotent CreateUser across instances sharing MongoDB", () => {
  let mongo: RunningServer;
  let a: UsersClient;
  let b: UsersClient;
  before(async () => {
    mongo = await startMongo();
    cleanups.push(() => mongo.stop());
    const [first, second] = await Promise.all([
      startUsers({ MONGO_URL: mongo.url, USERS_WORKER_ID: "1" }),
      startUsers({ MONGO_URL: mongo.url, USERS_WORKER_ID: "2" }),
    ]);
    a = first.client;
    b = second.client;
  });

  test("a retry on another instance returns the first user; another user with the key is FAILED_PRECONDITION", async () => {
    const key = `req-${randomUUID()}`;
    const mail = email("idem");
    const first = await create(a, "Ada Lovelace", mail, key);
    const retry = await create(b, "Ada Lovelace", mail, key);
    assert.deepEqual(retry.user, first.user);

    const reused = await grpcError(create(b, "Grace Hopper", email(), key));
    assert.equal(reused.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(statusDetails(reused).reason, "IDEMPOTENCY_KEY_REUSED");

    const long = await grpcError(create(a, "Ada", email(), "k".repeat(129)));
    assert.equal(long.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      statusDetails(long).fieldViolations.map((v) => v.field),
      ["request_id"],
    );
  });

  test("10 concurrent creates with one key, spread over both instances, make one user", async () => {
    const key = `req-${randomUUID()}`;
    const mail = email("race");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => create(i % 2 === 0 ? a : b, "Racer", mail, key)),
    );
    assert.equal(new Set(results.map((r) => r.user.id)).size, 1);
    const without = await grpcError(create(a, "Racer", mail));
    assert.equal(without.code, grpc.status.ALREADY_EXISTS, "without the key it is a new create: the email is taken");
  });
});
