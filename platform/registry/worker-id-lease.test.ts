import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import type { RunningServer } from "../../scripts/infra/index.js";
import { captureLogs, etcdTestKit, waitFor } from "../../test/support/registry.js";
import { isAppError } from "../errors.js";
import { createLeasedSnowflake, createWorkerIdLease, WORKERS_PREFIX, type WorkerIdLease } from "./worker-id-lease.js";

const TTL = 2;
const TTL_MS = TTL * 1000;

const { cleanups, etcdServer, reader } = etcdTestKit();

function workerLease(etcd: RunningServer, instanceId: string, maxWorkerId?: number): WorkerIdLease {
  const created = createWorkerIdLease({
    endpoints: [etcd.url],
    service: "users",
    instanceId,
    leaseTtlSeconds: TTL,
    logger: captureLogs().logger,
    ...(maxWorkerId === undefined ? {} : { maxWorkerId }),
  });
  cleanups.push(() => created.stop());
  return created;
}

const heldKeys = async (client: Etcd3) => client.getAll().prefix(`${WORKERS_PREFIX}users/`).strings();

describe("worker id lease", () => {
  test("instances started at once hold different ids, each key under its own lease; stop() frees the id", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const leases = Array.from({ length: 6 }, (_, i) => workerLease(etcd, `instance-${i}`, 7));
    await Promise.all(leases.map((l) => l.start()));
    const ids = leases.map((l) => l.current()?.workerId);
    assert.equal(new Set(ids).size, 6, `ids ${ids}`);
    for (const id of ids) assert.ok(id !== undefined && id >= 0 && id <= 7);
    const keys = await heldKeys(client);
    assert.equal(Object.keys(keys).length, 6);
    const first = leases[0];
    assert.ok(first);
    const firstId = first.current()?.workerId;
    assert.deepEqual(JSON.parse(keys[`${WORKERS_PREFIX}users/${firstId}`] ?? "null"), { instanceId: "instance-0" });
    await first.stop();
    assert.equal(first.current(), undefined);
    assert.equal(Object.keys(await heldKeys(client)).length, 5, "the stopped instance's id is free at once");
  });

  test("when every id is taken, a new instance waits and gets the first one freed", async () => {
    const etcd = await etcdServer();
    const [a, b] = [workerLease(etcd, "a", 1), workerLease(etcd, "b", 1)];
    await Promise.all([a.start(), b.start()]);
    const late = workerLease(etcd, "late", 1);
    void late.start();
    await waitFor("the late instance to report that it is acquiring", () => late.state().lastError !== undefined, {
      timeoutMs: 10_000,
    });
    assert.equal(late.current(), undefined);
    const freed = b.current()?.workerId;
    await b.stop();
    const got = await waitFor("the late instance to hold the freed id", () => late.current(), { timeoutMs: 10_000 });
    assert.equal(got.workerId, freed);
  });

  test("etcd gone: the id stops being usable within TTL, ids are refused; etcd back: a new holding, ids resume", async () => {
    const etcd = await etcdServer();
    const lease = workerLease(etcd, "solo");
    await lease.start();
    const ids = createLeasedSnowflake(lease);
    const before = BigInt(ids.next());
    const generation = lease.current()?.generation;
    assert.equal(generation, 1);

    await etcd.kill();
    await waitFor("the worker id to become unusable", () => lease.current() === undefined, {
      timeoutMs: TTL_MS * 3,
    });
    // The id was usable at most TTL − 1 s after its last confirmation, which came before the kill.
    assert.throws(
      () => ids.next(),
      (e) => isAppError(e) && e.code === "UNAVAILABLE",
    );

    // A whole TTL without confirmation: the holding is given up (etcd may have expired the lease by now).
    await waitFor("the holding to be given up", () => lease.state().status === "acquiring", { timeoutMs: TTL_MS * 3 });
    await etcd.restart();
    const next = await waitFor("a new holding", () => lease.current(), { timeoutMs: TTL_MS * 10 });
    assert.equal(next.generation, 2);
    const afterId = BigInt(ids.next());
    assert.ok(afterId > before, "ids keep increasing across holdings");
  });
});
