import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import type { Etcd3 } from "etcd3";
import { type RunningServer, startEtcd } from "../../scripts/infra/index.js";
import { captureLogs, waitFor } from "../../test/support/registry.js";
import { createEtcdClient } from "./etcd-client.js";
import { createEtcdDiscovery, type EtcdDiscovery } from "./etcd-discovery.js";
import type { Instance } from "./instance.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setup(): Promise<{ etcd: RunningServer; client: Etcd3 }> {
  const etcd = await startEtcd();
  cleanups.push(() => etcd.stop());
  const client = createEtcdClient({ endpoints: [etcd.url], callTimeoutMs: 2_000 });
  cleanups.push(() => client.close());
  return { etcd, client };
}

function discover(
  etcd: RunningServer,
  service = "users",
  logs = captureLogs(),
  verifyIntervalMs?: number,
): EtcdDiscovery {
  const discovery = createEtcdDiscovery({
    endpoints: [etcd.url],
    service,
    logger: logs.logger,
    ...(verifyIntervalMs === undefined ? {} : { verifyIntervalMs }),
  });
  cleanups.push(() => discovery.stop());
  return discovery;
}

const value = (port: number) =>
  JSON.stringify({ address: `127.0.0.1:${port}`, version: "1", zone: "z", startedAt: "2026-01-01T00:00:00Z" });
const ids = (instances: readonly Instance[]) => instances.map((instance) => instance.id).join();
const WAIT = { timeoutMs: 10_000 };

describe("etcd discovery", () => {
  test("lists what is there, then applies puts and deletes by key; other services and bad values are ignored", async () => {
    const { etcd, client } = await setup();
    await client.put("/charter/services/users/a").value(value(1));
    await client.put("/charter/services/users-admin/x").value(value(9)); // a longer name, same leading text
    await client.put("/charter/services/orders/o").value(value(8));
    const discovery = discover(etcd);
    const seen: string[] = [];
    discovery.onChange((instances) => seen.push(ids(instances)));
    await discovery.start();
    assert.deepEqual(discovery.endpoints(), [
      {
        id: "a",
        key: "/charter/services/users/a",
        address: "127.0.0.1:1",
        version: "1",
        zone: "z",
        startedAt: "2026-01-01T00:00:00Z",
      },
    ]);

    await client.put("/charter/services/users/b").value(value(2));
    await waitFor("b", () => ids(discovery.endpoints()) === "a,b", WAIT);
    await client.put("/charter/services/users/a").value(value(3)); // same key, new address: replaced, not added
    await waitFor("a's new address", () => discovery.endpoints()[0]?.address === "127.0.0.1:3", WAIT);
    assert.equal(discovery.endpoints().length, 2);
    await client.put("/charter/services/users/bad").value("not json");
    await client.delete().key("/charter/services/users/a"); // the delete event carries no value
    await waitFor("a deleted", () => ids(discovery.endpoints()) === "b", WAIT);
    await client.put("/charter/services/users/b").value(value(2)); // unchanged: no notification
    await client.put("/charter/services/users/c").value(value(4));
    await waitFor("c", () => ids(discovery.endpoints()) === "b,c", WAIT);
    assert.deepEqual(seen, ["a", "a,b", "a,b", "b", "b,c"]);
    assert.equal(discovery.state().watching, true);
  });

  test("etcd down: the last known instances stay; back with its data: changes made meanwhile are applied", async () => {
    const { etcd, client } = await setup();
    await client.put("/charter/services/users/a").value(value(1));
    await client.put("/charter/services/users/b").value(value(2));
    const logs = captureLogs();
    const discovery = discover(etcd, "users", logs);
    await discovery.start();
    assert.equal(ids(discovery.endpoints()), "a,b");
    await waitFor("the watch to be open", () => discovery.state().watching, WAIT);

    await etcd.kill();
    await waitFor("the watch to notice", () => !discovery.state().watching, { timeoutMs: 15_000 });
    assert.equal(ids(discovery.endpoints()), "a,b", "kept while etcd is unreachable");
    assert.equal(logs.count("etcd watch disconnected; keeping the known instances"), 1);

    await etcd.restart();
    await client.delete().key("/charter/services/users/a");
    await client.put("/charter/services/users/c").value(value(3));
    await waitFor("the changes", () => ids(discovery.endpoints()) === "b,c", WAIT);
    await waitFor("watching again", () => discovery.state().watching, WAIT);
  });

  test("etcd back with a wiped data dir: old entries dropped, new ones seen despite lower revisions", async () => {
    const { etcd, client } = await setup();
    for (let i = 0; i < 20; i++) await client.put(`/charter/services/users/old-${i % 3}`).value(value(i));
    const logs = captureLogs();
    const discovery = discover(etcd, "users", logs);
    await discovery.start();
    assert.equal(ids(discovery.endpoints()), "old-0,old-1,old-2");
    const before = discovery.state().revision;

    await etcd.restart({ wipe: true });
    await client.put("/charter/services/users/new").value(value(7));
    await waitFor("only the new instance", () => ids(discovery.endpoints()) === "new", WAIT);
    assert.ok(discovery.state().revision < before);
    assert.ok(
      logs.lines().some((line) => line.msg === "resyncing from etcd" && /backwards/.test(String(line.reason))),
      "the resync says why",
    );
    // And the watch started after the resync works at the new, low revisions.
    await client.put("/charter/services/users/newer").value(value(8));
    await waitFor("newer", () => ids(discovery.endpoints()) === "new,newer", WAIT);
  });

  test("a watcher stalled while etcd compacts past it: resynced, not left stale", async () => {
    const { etcd } = await setup();
    const logs = captureLogs();
    const discovery = discover(etcd, "users", logs, 500);
    await discovery.start();
    await waitFor("the watch to be open", () => discovery.state().watching, WAIT);
    const syncsBefore = discovery.state().syncs;

    // This thread stops reading its watch stream while a worker thread floods the prefix with large values
    // (filling etcd's buffers for this watcher), deletes one key and compacts at the current revision; then it
    // wakes this thread. etcd either cancels the watch (compacted) or, being 3.4.23, drops the pending events
    // without a word (etcd issue #17529): either way the list must end up right.
    const done = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const { workerData } = require("node:worker_threads");
       const { Etcd3 } = require(workerData.etcd3);
       (async () => {
         const client = new Etcd3({ hosts: workerData.url });
         const pad = "x".repeat(100000);
         for (let i = 0; i < 400; i++) {
           const address = "127.0.0.1:" + (i + 1);
           await client.put("/charter/services/users/k" + (i % 5)).value(JSON.stringify({ address, pad }));
         }
         await client.delete().key("/charter/services/users/k0");
         const { header } = await client.get("/charter/services/users/k1").exec();
         await client.kv.compact({ revision: header.revision, physical: true });
         client.close();
         Atomics.store(workerData.done, 0, 1);
       })().catch((error) => {
         console.error(error);
         Atomics.store(workerData.done, 0, 2);
       }).finally(() => Atomics.notify(workerData.done, 0));`,
      { eval: true, workerData: { etcd3: createRequire(import.meta.url).resolve("etcd3"), url: etcd.url, done } },
    );
    cleanups.push(() => worker.terminate());
    Atomics.wait(done, 0, 0, 60_000); // returns when the worker notifies
    assert.equal(done[0], 1, "the worker wrote, deleted and compacted");

    await waitFor("the list to match etcd", () => ids(discovery.endpoints()) === "k1,k2,k3,k4", WAIT);
    assert.deepEqual(
      discovery.endpoints().map((i) => i.address),
      ["127.0.0.1:397", "127.0.0.1:398", "127.0.0.1:399", "127.0.0.1:400"],
    );
    assert.ok(discovery.state().syncs > syncsBefore, "resynced");
    const reasons = logs
      .lines()
      .filter((line) => line.msg === "resyncing from etcd")
      .map((line) => String(line.reason));
    assert.ok(
      reasons.some((reason) => /cancelled|differed/.test(reason)),
      reasons.join("; "),
    );
  });

  test("started while etcd is down: start() resolves once etcd answers, with what is there", async () => {
    const { etcd, client } = await setup();
    await client.put("/charter/services/users/a").value(value(1));
    await etcd.kill();
    const discovery = discover(etcd);
    let started = false;
    void discovery.start().then(() => {
      started = true;
    });
    await waitFor("a failed read", () => discovery.state().lastError !== undefined, WAIT);
    assert.equal(started, false);
    assert.equal(discovery.state().synced, false);
    await etcd.restart();
    await waitFor("the first sync", () => started, WAIT);
    assert.equal(ids(discovery.endpoints()), "a");
    await client.put("/charter/services/users/b").value(value(2));
    await waitFor("b", () => ids(discovery.endpoints()) === "a,b", WAIT);
  });

  test("stop() cancels the watch and closes the client; nothing is notified afterwards", async () => {
    const { etcd, client } = await setup();
    const discovery = createEtcdDiscovery({ endpoints: [etcd.url], service: "users", logger: captureLogs().logger });
    let calls = 0;
    discovery.onChange(() => {
      calls += 1;
    });
    await discovery.start();
    await discovery.stop();
    await discovery.stop();
    await client.put("/charter/services/users/a").value(value(1));
    assert.equal(calls, 0);
    assert.deepEqual(discovery.endpoints(), []);
    await assert.rejects(discovery.start(), /stopped/);
  });
});
