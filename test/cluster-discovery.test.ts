/**
 * The gateway over users instances registered in and discovered through a real etcd, every piece a real process
 * (etcd, the MongoDB-compatible server and Redis from scripts/infra; users instances and the gateway as started in
 * production). One gateway runs through the whole file while users instances come and go:
 * a new instance gets traffic; a gracefully stopped one is drained without a failed call; a SIGKILLed one under
 * load costs no read and no write is applied twice; the gateway keeps routing while etcd is down; with every
 * instance gone the breaker answers 503 at once, and closes when one comes back.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import { type RunningServer, startEtcd, startMongo, startRedis } from "../scripts/infra/index.js";
import { waitFor } from "../scripts/lib/processes.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
import {
  type Backends,
  createUser,
  etcdClient,
  gatewayMetric,
  LEASE_TTL_S,
  readOnce,
  registeredIds,
  rpcCalls,
  runLoop,
  startClusterGateway,
  startUsersInstance,
  type UsersInstance,
  withRetries,
} from "./support/cluster.js";

describe("gateway over users instances discovered in etcd", () => {
  let etcd: RunningServer;
  let mongo: RunningServer;
  let redis: RunningServer;
  let backends: Backends;
  let client: Etcd3;
  let gateway: Awaited<ReturnType<typeof startClusterGateway>>;
  let issuer: TestIssuer;
  /** The token every request carries, from the issuer the instances and the gateway trust. */
  const auth: Record<string, string> = {};
  const live = new Map<string, UsersInstance>();
  /** Users every read loop reads. */
  const ids: string[] = [];

  const startInstance = async (id: string) => {
    const instance = await startUsersInstance(id, backends);
    live.set(id, instance);
    return instance;
  };
  const waitRegistered = (id: string) =>
    waitFor(
      `${id} to be registered in etcd`,
      async () => ((await registeredIds(client)).includes(id) ? true : undefined),
      20_000,
    );
  const readLoop = (concurrency: number, maxMs: number) =>
    runLoop(concurrency, (worker) => readOnce(gateway.base, ids[worker % ids.length] ?? "", auth), maxMs);

  before(async () => {
    [etcd, mongo, redis] = await Promise.all([startEtcd(), startMongo(), startRedis()]);
    issuer = await startTestIssuer();
    auth.authorization = await issuer.bearer();
    backends = { etcd: [etcd.url], mongoUrl: mongo.url, redisUrl: redis.url, auth: issuer.env };
    client = etcdClient(backends.etcd);
    await Promise.all([startInstance("users-a"), startInstance("users-b")]);
    await Promise.all([waitRegistered("users-a"), waitRegistered("users-b")]);
    gateway = await startClusterGateway(backends);
    await waitFor(
      "/readyz to list both instances",
      async () => {
        const response = await fetch(`${gateway.base}/readyz`);
        const body = (await response.json()) as { instances?: { id: string }[] };
        return response.status === 200 && body.instances?.length === 2 ? true : undefined;
      },
      20_000,
    );
    for (let i = 0; i < 6; i++)
      ids.push((await createUser(gateway.base, `seed.${randomUUID()}@example.com`, undefined, auth)).id);
  });
  after(async () => {
    await gateway?.process.stop();
    await Promise.all([...live.values()].map((instance) => instance.process.stop()));
    client?.close();
    await Promise.all([etcd?.stop(), mongo?.stop(), redis?.stop(), issuer?.close()]);
  });

  test("a new instance receives traffic soon after it registers", async () => {
    const c = await startInstance("users-c");
    await waitRegistered("users-c");
    const registeredAt = Date.now();
    const before = await rpcCalls(c, "GetUser");
    const loop = readLoop(4, 30_000);
    try {
      await waitFor(
        "users-c to take GetUser calls",
        async () => ((await rpcCalls(c, "GetUser")) > before ? true : undefined),
        10_000,
      );
    } finally {
      const result = await loop.stop();
      assert.deepEqual(result.failures, []);
    }
    console.log(`users-c took its first call ${Date.now() - registeredAt} ms after it was registered`);
    const readyz = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
      instances: { id: string; health: string }[];
    };
    assert.deepEqual(
      readyz.instances.map((i) => [i.id, i.health]),
      [
        ["users-a", "SERVING"],
        ["users-b", "SERVING"],
        ["users-c", "SERVING"],
      ],
    );
  });

  test("a gracefully stopped instance is drained: no call fails", async () => {
    const c = live.get("users-c");
    assert.ok(c);
    const loop = readLoop(6, 60_000);
    await waitFor(
      "users-c to take calls in this loop",
      async () => ((await rpcCalls(c, "GetUser")) > 0 ? true : undefined),
      10_000,
    );
    c.process.signal("SIGTERM");
    const code = await c.process.exited;
    live.delete("users-c");
    // Keep reading a while after it is gone: calls must have moved to the others, not failed.
    const countAfter = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
    await waitFor(
      "the other instances to take more calls",
      async () => {
        const now = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
        return now.every((n, i) => n > (countAfter[i] ?? 0) + 20) ? true : undefined;
      },
      20_000,
    );
    const result = await loop.stop();
    assert.equal(code, 0, "users-c exits cleanly");
    assert.deepEqual(result.failures, [], `${result.failures.length} failed of ${result.ok + result.failures.length}`);
    assert.ok(!(await registeredIds(client)).includes("users-c"), "its key is gone");
  });

  test("SIGKILL under load: no failed read, every write applied once, the key expires", async () => {
    await startInstance("users-d");
    await waitRegistered("users-d");
    const victim = live.get("users-b");
    assert.ok(victim);
    const patched = await createUser(gateway.base, `patched.${randomUUID()}@example.com`, undefined, auth);
    let appliedPatches = 0;
    let etag = patched.etag;
    const created = new Map<string, { email: string; id: string }>();
    let patchRetries = 0;
    let postRetries = 0;

    /** One PATCH with If-Match, retried with the same If-Match; a 412 after a retry means the first attempt applied. */
    const patchOnce = async (): Promise<string | undefined> => {
      const name = `Patched ${appliedPatches + 1}`;
      const send = () =>
        fetch(`${gateway.base}/v1/users/${patched.id}`, {
          method: "PATCH",
          headers: { "content-type": "application/merge-patch+json", "if-match": `"${etag}"`, ...auth },
          body: JSON.stringify({ name }),
        });
      const answer = await withRetries(send);
      patchRetries += answer.retries;
      if (answer.status === 200) {
        etag = (JSON.parse(answer.text) as { etag: string }).etag;
        appliedPatches += 1;
        return undefined;
      }
      if (answer.status === 412 && answer.retries > 0) {
        const current = await withRetries(() => fetch(`${gateway.base}/v1/users/${patched.id}`, { headers: auth }));
        const user = JSON.parse(current.text) as { name: string; etag: string };
        if (user.name !== name || Number(user.etag) !== Number(etag) + 1)
          return `PATCH 412 but not applied: ${current.text}`;
        etag = user.etag;
        appliedPatches += 1;
        return undefined;
      }
      return `PATCH → ${answer.status} ${answer.text.slice(0, 200)}`;
    };
    const postOnce = async (): Promise<string | undefined> => {
      const key = randomUUID();
      const email = `load.${key}@example.com`;
      const send = () =>
        fetch(`${gateway.base}/v1/users`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": key, ...auth },
          body: JSON.stringify({ name: "Load", email }),
        });
      const answer = await withRetries(send);
      postRetries += answer.retries;
      if (answer.status !== 201)
        return `POST (${answer.retries} retries) → ${answer.status} ${answer.text.slice(0, 200)}`;
      created.set(key, { email, id: (JSON.parse(answer.text) as { id: string }).id });
      return undefined;
    };

    const readFailures: string[] = [];
    let reads = 0;
    const loadStarted = Date.now();
    const loop = runLoop(
      20,
      async (worker) => {
        // One worker PATCHes one user: each PATCH names the version the last one produced.
        if (worker === 0) return patchOnce();
        if (worker <= 3) return postOnce();
        reads += 1;
        const failure = await readOnce(gateway.base, ids[worker % ids.length] ?? "", auth);
        if (failure) readFailures.push(failure);
        return failure;
      },
      30_000,
    );
    await waitFor(
      "the load to reach users-b",
      async () => ((await rpcCalls(victim, "GetUser")) > 50 ? true : undefined),
      15_000,
    );
    victim.process.signal("SIGKILL");
    const killedAt = Date.now();
    live.delete("users-b");
    await victim.process.exited;
    await waitFor(
      `users-b's key to expire (lease TTL ${LEASE_TTL_S} s)`,
      async () => (!(await registeredIds(client)).includes("users-b") ? true : undefined),
      (LEASE_TTL_S + 2) * 1000,
    );
    console.log(`users-b's key was gone ${Date.now() - killedAt} ms after SIGKILL`);
    // Keep the load on past the key's expiry, until every survivor has taken a good share more.
    const base = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
    await waitFor(
      "the survivors to take more calls",
      async () => {
        const now = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
        return now.every((n, i) => n > (base[i] ?? 0) + 300) ? true : undefined;
      },
      25_000,
    );
    const result = await loop.stop();
    const seconds = (Date.now() - loadStarted) / 1000;
    const total = reads + created.size + appliedPatches;
    console.log(
      `load: ${total} requests in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s): ${reads} reads, ${created.size} creates (${postRetries} retries), ${appliedPatches} patches (${patchRetries} retries)`,
    );
    assert.deepEqual(readFailures, [], "no read failed");
    assert.deepEqual(result.failures, [], "no write failed for good");

    // Exactly once: one user per key, found by its email, with the id the client was given.
    for (const { email, id } of created.values()) {
      const page = await withRetries(() => fetch(`${gateway.base}/v1/users/${id}`, { headers: auth }));
      assert.equal(page.status, 200);
      assert.equal((JSON.parse(page.text) as { email: string }).email, email);
    }
    const emails = new Map<string, number>();
    let pageToken = "";
    do {
      const page = await withRetries(() =>
        fetch(`${gateway.base}/v1/users?pageSize=1000${pageToken ? `&pageToken=${pageToken}` : ""}`, { headers: auth }),
      );
      const body = JSON.parse(page.text) as { users: { email: string }[]; nextPageToken?: string };
      for (const user of body.users) emails.set(user.email, (emails.get(user.email) ?? 0) + 1);
      pageToken = body.nextPageToken ?? "";
    } while (pageToken);
    for (const { email } of created.values()) assert.equal(emails.get(email), 1, `one user with ${email}`);
    const final = JSON.parse(
      (await withRetries(() => fetch(`${gateway.base}/v1/users/${patched.id}`, { headers: auth }))).text,
    ) as {
      etag: string;
    };
    assert.equal(Number(final.etag), 1 + appliedPatches, "the version went up by one per applied patch");
  });

  test("while etcd is down the gateway keeps routing to the known instances", async () => {
    const loop = readLoop(4, 60_000);
    await etcd.kill("SIGKILL");
    const before = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
    // An outage of about a lease TTL, measured by calls served, not by sleeping.
    await waitFor(
      "every known instance to serve calls while etcd is down",
      async () => {
        const now = await Promise.all([...live.values()].map((i) => rpcCalls(i, "GetUser")));
        return now.every((n, i) => n > (before[i] ?? 0) + 100) ? true : undefined;
      },
      20_000,
    );
    const readyz = await fetch(`${gateway.base}/readyz`);
    const body = (await readyz.json()) as { instances: unknown[]; discovery: { watching: boolean } };
    const during = await loop.stop();
    assert.deepEqual(during.failures, [], "no read failed while etcd was down");
    assert.equal(readyz.status, 200);
    assert.equal(body.instances.length, live.size);
    await etcd.restart();
    await waitFor(
      "every live instance to be registered again",
      async () => {
        const registered = await registeredIds(client);
        return [...live.keys()].every((id) => registered.includes(id)) ? true : undefined;
      },
      4 * LEASE_TTL_S * 1000 + 10_000,
    );
  });

  test("every instance gone → fast 503 with Retry-After from the breaker; one back → served again", async () => {
    for (const instance of live.values()) instance.process.signal("SIGKILL");
    await Promise.all([...live.values()].map((instance) => instance.process.exited));
    live.clear();
    const down = await waitFor(
      "the breaker to answer 503",
      async () => {
        const started = Date.now();
        const response = await fetch(`${gateway.base}/v1/users/${ids[0]}`, { headers: auth });
        const text = await response.text();
        const breaker = await gatewayMetric(gateway.base, "charter_gateway_users_breaker_open");
        return response.status === 503 && breaker === 1
          ? { elapsed: Date.now() - started, retryAfter: response.headers.get("retry-after"), text }
          : undefined;
      },
      (LEASE_TTL_S + 10) * 1000,
    );
    assert.equal(down.retryAfter, "1");
    assert.equal((JSON.parse(down.text) as { code: string }).code, "UNAVAILABLE");
    assert.ok(down.elapsed < 3_000, `answered without waiting for the 3 s deadline (${down.elapsed} ms)`);
    const readyz = await fetch(`${gateway.base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.equal(readyz.headers.get("retry-after"), "1");

    await startInstance("users-e");
    await waitFor(
      "reads to be served again",
      async () => ((await readOnce(gateway.base, ids[0] ?? "", auth)) === undefined ? true : undefined),
      20_000,
    );
    await waitFor(
      "the breaker to close",
      async () => ((await gatewayMetric(gateway.base, "charter_gateway_users_breaker_open")) === 0 ? true : undefined),
      10_000,
    );
    assert.equal((await fetch(`${gateway.base}/readyz`)).status, 200);
  });
});
