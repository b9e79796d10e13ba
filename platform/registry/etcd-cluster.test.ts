import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import { type EtcdCluster, startEtcdCluster } from "../../scripts/infra/index.js";
import { captureLogs, holdsFor, waitFor } from "../../test/support/registry.js";
import { createEtcdClient } from "./etcd-client.js";
import { createEtcdDiscovery } from "./etcd-discovery.js";
import { createEtcdRegistrar } from "./etcd-registrar.js";
import type { Instance } from "./instance.js";

const TTL = 2;
const TTL_MS = TTL * 1000;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function cluster(): Promise<EtcdCluster> {
  const started = await startEtcdCluster(3);
  cleanups.push(() => started.stop());
  return started;
}

function clientOf(endpoints: readonly string[]): Etcd3 {
  const client = createEtcdClient({ endpoints, callTimeoutMs: 2_000 });
  cleanups.push(() => client.close());
  return client;
}

/** Index of the member that is the raft leader. */
async function leaderIndex(c: EtcdCluster): Promise<number> {
  const statuses = await Promise.all(c.members.map((member) => clientOf([member.url]).maintenance.status({})));
  const leader = statuses[0]?.leader;
  const index = statuses.findIndex((s) => s.header.member_id === leader);
  assert.ok(index >= 0, "a leader is known");
  return index;
}

const ids = (instances: readonly Instance[]) => instances.map((instance) => instance.id).join();
const value = (port: number) =>
  JSON.stringify({ address: `127.0.0.1:${port}`, version: "1", zone: "z", startedAt: "2026-01-01T00:00:00Z" });

describe("3-member etcd cluster", () => {
  test("the leader is SIGKILLed: the registration stays, new ones work, discovery follows; the member rejoins", async () => {
    const c = await cluster();
    assert.equal(c.endpoints.length, 3);
    assert.equal(new Set(c.endpoints).size, 3);
    const logs = captureLogs();
    const register = (id: string) => {
      const registrar = createEtcdRegistrar({
        endpoints: c.endpoints,
        service: "users",
        instanceId: id,
        value: { address: `127.0.0.1:${id === "one" ? 1 : 2}`, version: "1", zone: "z", startedAt: "t" },
        leaseTtlSeconds: TTL,
        logger: logs.logger,
      });
      cleanups.push(() => registrar.stop());
      return registrar;
    };
    const one = register("one");
    await one.start();
    const discovery = createEtcdDiscovery({ endpoints: c.endpoints, service: "users", logger: logs.logger });
    cleanups.push(() => discovery.stop());
    await discovery.start();
    assert.equal(ids(discovery.endpoints()), "one");

    const leader = await leaderIndex(c);
    const killed = c.members[leader];
    assert.ok(killed);
    await killed.kill();
    const survivors = clientOf(c.endpoints.filter((_, i) => i !== leader));
    const key = one.state().key;
    const present = async () => (await survivors.get(key).exec()).kvs[0]?.lease === one.state().leaseId;
    // Through the election and well past the lease's TTL, the key never goes away.
    await holdsFor("instance one's registration", present, 3 * TTL_MS);
    assert.equal(one.state().status, "registered");

    const two = register("two");
    await two.start();
    await waitFor("discovery to see both", () => ids(discovery.endpoints()) === "one,two", { timeoutMs: 10_000 });

    await killed.restart();
    const rejoined = clientOf([killed.url]);
    await waitFor(
      "the restarted member to have both keys",
      async () => (await rejoined.getAll().prefix("/charter/services/users/").keys()).length === 2,
      { timeoutMs: 15_000 },
    );
    await two.stop();
    await waitFor("discovery to drop two", () => ids(discovery.endpoints()) === "one", { timeoutMs: 10_000 });
  });

  test("compaction past the revision of a watch that is behind: a resync, not a stale or empty list", async () => {
    const c = await cluster();
    const [first, ...others] = c.members;
    assert.ok(first);
    const writer = clientOf(others.map((member) => member.url));
    await writer.put("/charter/services/users/stays").value(value(1));
    await writer.put("/charter/services/users/goes").value(value(2));
    const logs = captureLogs();
    // Discovery talks to the first member only, so that it can be held behind while the others move on.
    const discovery = createEtcdDiscovery({ endpoints: [first.url], service: "users", logger: logs.logger });
    cleanups.push(() => discovery.stop());
    await discovery.start();
    await waitFor("the watch to be open", () => discovery.state().watching, { timeoutMs: 10_000 });
    assert.equal(ids(discovery.endpoints()), "goes,stays");
    const syncsBefore = discovery.state().syncs;

    await first.kill();
    await writer.delete().key("/charter/services/users/goes");
    await writer.put("/charter/services/users/comes").value(value(3));
    for (let i = 0; i < 10; i++) await writer.put(`/charter/other/${i}`).value("x");
    const current = await writer.get("/charter/other/9").exec();
    await writer.kv.compact({ revision: current.header.revision, physical: true });
    assert.equal(ids(discovery.endpoints()), "goes,stays", "while its member is down, discovery keeps what it knew");

    await first.restart();
    await waitFor("discovery to converge", () => ids(discovery.endpoints()) === "comes,stays", {
      timeoutMs: 15_000,
    });
    assert.ok(discovery.state().syncs > syncsBefore, "the list was replaced by a fresh get");
    const reasons = logs
      .lines()
      .filter((line) => line.msg === "resyncing from etcd")
      .map((line) => String(line.reason));
    assert.ok(reasons.length > 0);
    // And the new watch works.
    await writer.put("/charter/services/users/later").value(value(4));
    await waitFor("later", () => ids(discovery.endpoints()) === "comes,later,stays", { timeoutMs: 10_000 });
  });
});
