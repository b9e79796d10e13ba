import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Etcd3 } from "etcd3";
import type { RunningServer } from "../../scripts/infra/index.js";
import { captureLogs, delay, etcdTestKit, holdsFor, waitFor } from "../../test/support/registry.js";
import { createEtcdDiscovery } from "./etcd-discovery.js";
import { createEtcdRegistrar, createLeasedEntries, type EtcdRegistrar } from "./etcd-registrar.js";
import { type InstanceValue, instanceKey } from "./instance.js";

const TTL = 2;
const TTL_MS = TTL * 1000;
const SERVICE = "users";

const { cleanups, etcdServer, reader } = etcdTestKit();

const instanceValue = (port: number): InstanceValue => ({
  address: `127.0.0.1:${port}`,
  version: "1.2.3",
  zone: "zone-a",
  startedAt: "2026-01-01T00:00:00.000Z",
});

function registrar(etcd: RunningServer, instanceId: string, logs = captureLogs()): EtcdRegistrar {
  const created = createEtcdRegistrar({
    endpoints: [etcd.url],
    service: SERVICE,
    instanceId,
    value: instanceValue(50_000),
    leaseTtlSeconds: TTL,
    logger: logs.logger,
  });
  cleanups.push(() => created.stop());
  return created;
}

/** The key is in etcd, held by the registrar's current lease, and that lease is alive in etcd. */
async function registeredNow(client: Etcd3, r: EtcdRegistrar): Promise<boolean> {
  const { status, key, leaseId } = r.state();
  if (status !== "registered" || leaseId === undefined) return false;
  const kv = (await client.get(key).exec()).kvs[0];
  if (!kv || kv.lease !== leaseId) return false;
  const alive = await client.leaseClient.leaseTimeToLive({ ID: leaseId });
  return Number(alive.TTL) > 0;
}

describe("etcd registrar", () => {
  test("registers the JSON value under a lease on start, and stop() revokes it: the key goes at once", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const logs = captureLogs();
    const r = registrar(etcd, "instance-1", logs);
    assert.equal(r.state().status, "idle");
    assert.equal(await client.get(instanceKey(SERVICE, "instance-1")).string(), null, "nothing before start()");

    await r.start();
    const state = r.state();
    assert.equal(state.status, "registered");
    assert.equal(state.key, "/charter/services/users/instance-1");
    assert.equal(state.registrations, 1);
    assert.deepEqual(JSON.parse((await client.get(state.key).string()) ?? "null"), instanceValue(50_000));
    const kv = (await client.get(state.key).exec()).kvs[0];
    assert.equal(kv?.lease, state.leaseId);
    const granted = await client.leaseClient.leaseTimeToLive({ ID: state.leaseId ?? "" });
    assert.equal(Number(granted.grantedTTL), TTL);

    await r.stop();
    assert.equal(await client.get(state.key).string(), null, "revoked: gone as soon as stop() resolves");
    const revoked = await client.leaseClient.leaseTimeToLive({ ID: state.leaseId ?? "" });
    assert.equal(Number(revoked.TTL), -1, "the lease itself is gone");
    assert.equal(r.state().status, "stopped");
    await r.stop(); // idempotent
    assert.equal(logs.count("registered in etcd"), 1);
    assert.equal(logs.count("deregistered from etcd"), 1);
  });

  test("a process killed with SIGKILL (no revoke) leaves a key that expires within TTL + 2 s", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const key = instanceKey(SERVICE, "doomed");
    const script = fileURLToPath(new URL("./registrar-process.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, etcd.url, SERVICE, "doomed", "127.0.0.1:50001", String(TTL)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor("the child to register", () => out.includes("REGISTERED"), { timeoutMs: 30_000 });
    assert.ok(await client.get(key).string(), "registered by the child");

    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await waitFor("the dead instance's key to expire", async () => (await client.get(key).string()) === null, {
      timeoutMs: TTL_MS + 2_000,
    });
    assert.ok(Date.now() - killedAt <= TTL_MS + 2_000);
  });

  for (const [label, outageMs, lost] of [
    ["TTL/2", TTL_MS / 2, false],
    ["3×TTL", 3 * TTL_MS, true],
  ] as const) {
    test(`etcd SIGKILLed and restarted with its data after an outage of ${label}: registered again within 2×TTL`, async () => {
      const etcd = await etcdServer();
      const client = reader(etcd);
      const logs = captureLogs();
      const r = registrar(etcd, "survivor", logs);
      await r.start();
      const firstLease = r.state().leaseId;

      await etcd.kill();
      await delay(outageMs); // the length of the outage is what is tested, not a synchronisation
      await etcd.restart();
      const answeredAt = Date.now();
      await waitFor("the registration to be live again", () => registeredNow(client, r), {
        timeoutMs: 2 * TTL_MS,
        intervalMs: 100,
      });
      assert.ok(Date.now() - answeredAt <= 2 * TTL_MS);
      // The old lease, restored by etcd, expires within a TTL of the restart: the key must outlive it.
      await holdsFor("the registration", () => registeredNow(client, r), 2 * TTL_MS);

      const state = r.state();
      if (lost) {
        assert.notEqual(state.leaseId, firstLease, "a new lease after the old one was lost");
        assert.equal(state.registrations, 2);
        assert.equal(logs.count("registration in etcd lost; registering again"), 1, "the loss is logged once");
        assert.equal(logs.count("re-registered in etcd"), 1, "the recovery is logged once");
      } else {
        assert.equal(state.leaseId, firstLease, "a short outage is survived by the same lease");
        assert.equal(state.registrations, 1);
        assert.equal(logs.count("registration in etcd lost; registering again"), 0);
      }
    });
  }

  test("etcd restarted with a wiped data dir: registered again, and discovery sees it (revision went backwards)", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const logs = captureLogs();
    const r = registrar(etcd, "wiped", logs);
    await r.start();
    // Push the revision well above what the wiped etcd will reach by the time everything reconnects.
    for (let i = 0; i < 30; i++) await client.put(`/charter/other/${i}`).value("x");
    const discovery = createEtcdDiscovery({ endpoints: [etcd.url], service: SERVICE, logger: logs.logger });
    cleanups.push(() => discovery.stop());
    await discovery.start();
    assert.deepEqual(
      discovery.endpoints().map((i) => i.id),
      ["wiped"],
    );
    const revisionBefore = discovery.state().revision;

    await etcd.restart({ wipe: true });
    await waitFor("the registration to be live in the wiped etcd", () => registeredNow(client, r), {
      timeoutMs: 4 * TTL_MS,
      intervalMs: 100,
    });
    assert.equal(r.state().registrations, 2);
    // A second instance registered only in the new etcd: discovery must see it despite the lower revisions.
    const late = registrar(etcd, "late", logs);
    await late.start();
    await waitFor(
      "discovery to list both instances",
      () =>
        discovery
          .endpoints()
          .map((i) => i.id)
          .join() === "late,wiped",
      { timeoutMs: 4 * TTL_MS },
    );
    assert.ok(discovery.state().revision < revisionBefore, "the list reflects the new, lower revision");
    assert.ok(discovery.state().syncs >= 2, "discovery resynced");
  });

  test("the key deleted by hand while the lease lives: registered again", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const r = registrar(etcd, "deleted");
    await r.start();
    await client.delete().key(r.state().key);
    await waitFor("the key to be back", () => registeredNow(client, r), { timeoutMs: 4 * TTL_MS, intervalMs: 100 });
    assert.equal(r.state().registrations, 2);
  });

  test("started while etcd is down: keeps trying without a ceiling, registers once etcd answers", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    await etcd.kill();
    const logs = captureLogs();
    const r = registrar(etcd, "early", logs);
    let started = false;
    void r.start().then(() => {
      started = true;
    });
    await waitFor("a few failed attempts", () => logs.count("registration attempt failed") >= 3, {
      timeoutMs: 20_000,
    });
    assert.equal(started, false);
    assert.equal(logs.count("cannot register in etcd yet; retrying"), 1, "logged once, then at debug level");
    await etcd.restart();
    await waitFor("the registration", () => started && registeredNow(client, r), { timeoutMs: 2 * TTL_MS });
  });

  test("leased entries: all under one lease of their own, shared ones without a lease, put again after a wipe", async () => {
    const etcd = await etcdServer();
    const client = reader(etcd);
    const entries = createLeasedEntries({
      endpoints: [etcd.url],
      entries: [
        { key: "edge/servers/a/url", value: "http://127.0.0.1:1" },
        { key: "edge/servers/a/weight", value: "1" },
      ],
      sharedEntries: [{ key: "edge/routers/r/rule", value: "PathPrefix(`/`)" }],
      leaseTtlSeconds: TTL,
      logger: captureLogs().logger,
    });
    cleanups.push(() => entries.stop());
    const stored = async () =>
      new Map(
        (await client.getAll().prefix("edge/").exec()).kvs.map((kv) => [
          kv.key.toString(),
          { value: kv.value.toString(), lease: kv.lease },
        ]),
      );
    await entries.start();
    const { leaseId } = entries.state();
    assert.ok(leaseId !== undefined && leaseId !== "0");
    assert.deepEqual(
      await stored(),
      new Map([
        ["edge/servers/a/url", { value: "http://127.0.0.1:1", lease: leaseId }],
        ["edge/servers/a/weight", { value: "1", lease: leaseId }],
        ["edge/routers/r/rule", { value: "PathPrefix(`/`)", lease: "0" }],
      ]),
    );

    await etcd.restart({ wipe: true });
    await waitFor("the entries to be back in the wiped etcd", async () => (await stored()).size === 3, {
      timeoutMs: 4 * TTL_MS,
      intervalMs: 100,
    });
    assert.equal((await stored()).get("edge/routers/r/rule")?.lease, "0", "the shared key is put again, no lease");

    await entries.stop();
    assert.deepEqual(
      [...(await stored()).keys()],
      ["edge/routers/r/rule"],
      "stop() takes the leased entries away at once and leaves the shared one",
    );
  });
});
