/**
 * The users service on real Redis: Redis killed while a client reads and writes in a
 * loop (zero failed calls, no stale read), then restarted with its old data on disk
 * (the cache is used again, and nothing written before the outage is served).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { type RunningServer, startRedis } from "../scripts/infra/index.js";
import { metricValue, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
import { type ContractUser, type UsersClient, usersClient } from "./support/contract-client.js";

let redis: RunningServer;
let service: ServiceProcess;
let client: UsersClient;
let issuer: TestIssuer;
const reads = (result: string) =>
  metricValue(Number(service.ready.metricsPort), "charter_users_cache_reads_total", { result });

before(async () => {
  redis = await startRedis({ persist: true });
  issuer = await startTestIssuer();
  service = await startService(
    "services/users/main.ts",
    {
      ...issuer.env,
      USERS_HOST: "127.0.0.1",
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: "200",
      CACHE_PROBE_INTERVAL_MS: "100",
    },
    "users service ready",
  );
  client = usersClient(`127.0.0.1:${service.ready.grpcPort}`, await issuer.bearer());
  await waitFor("the cache to be up", async () =>
    (await metricValue(Number(service.ready.metricsPort), "charter_users_cache_up")) === 1 ? true : undefined,
  );
});

after(async () => {
  client?.close();
  await service?.stop();
  await redis?.stop();
  await issuer?.close();
});

test("Redis killed and restarted with old data: zero failed calls, no stale read, cache used again", async () => {
  const people: ContractUser[] = [];
  for (let i = 0; i < 10; i++) {
    people.push(
      (await client.call("CreateUser", { user: { name: `Chaos ${i}`, email: `${randomUUID()}@example.com` } })).user,
    );
  }
  const acknowledged = new Map(people.map((u) => [u.id, u]));
  let failures = 0;
  let staleReads = 0;
  let step = 0;
  /** One write and one read of the same user: the read must show that write or a later one. */
  const round = async (): Promise<void> => {
    const user = people[step % people.length] as ContractUser;
    step++;
    try {
      const updated: ContractUser = (
        await client.call("UpdateUser", { user: { id: user.id, name: `Chaos step ${step}` } })
      ).user;
      acknowledged.set(user.id, updated);
      const read: ContractUser = (await client.call("GetUser", { id: user.id })).user;
      if (Number(read.etag) < Number(updated.etag)) staleReads++;
    } catch {
      failures++;
    }
  };

  // Warm the cache, then snapshot it to disk: this is the "old data" Redis will come back with.
  for (let i = 0; i < 50; i++) await round();
  for (const u of people) await client.call("GetUser", { id: u.id });
  const direct = new Redis(redis.url);
  await direct.save();
  direct.disconnect();
  const hitsBefore = await reads("hit");
  assert.ok(hitsBefore > 0, "the cache served hits while Redis was up");

  await redis.kill("SIGKILL");
  const bypassBefore = await reads("bypass");
  for (let i = 0; i < 100; i++) await round();
  assert.ok((await reads("bypass")) > bypassBefore, "reads bypassed the cache while Redis was down");
  assert.equal(await metricValue(Number(service.ready.metricsPort), "charter_users_cache_up"), 0);

  await redis.restart();
  await waitFor("the cache to be used again", async () =>
    (await metricValue(Number(service.ready.metricsPort), "charter_users_cache_up")) === 1 ? true : undefined,
  );
  for (const u of people) {
    const read: ContractUser = (await client.call("GetUser", { id: u.id })).user;
    assert.equal(read.etag, acknowledged.get(u.id)?.etag, "Redis's old data is never served");
  }
  const hitsAfterRestart = await reads("hit");
  for (let i = 0; i < 50; i++) await round();
  assert.ok((await reads("hit")) > hitsAfterRestart, "hits resume after Redis is back");

  assert.equal(failures, 0, "no call failed because of the cache");
  assert.equal(staleReads, 0, "no read returned a version older than an acknowledged write");
});
