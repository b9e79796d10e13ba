/**
 * The audit service in cluster mode, as real processes on real etcd, Kafka and a MongoDB-compatible store: each
 * instance registers as `audit` once its store answers, the gateway (ETCD_ENDPOINTS and KAFKA_BROKERS set, no
 * AUDIT_ADDR) dials `etcd:///audit` and spreads history calls over the instances; a stopped instance revokes its
 * key and a killed one's key expires, and the history is served throughout by the instances left.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { type RunningServer, startEtcd, startKafka, startMongo } from "../scripts/infra/index.js";
import { metricValue, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const TTL_S = 2;
const AUDIT_KEYS = "/charter/services/audit/";

let etcd: RunningServer;
let kafka: RunningServer;
let mongo: RunningServer;
let etcdClient: Etcd3;
let users: ServiceProcess;
let gateway: ServiceProcess;
const audits = new Map<string, ServiceProcess>();
let baseUrl: string;

const shared = () => ({
  ETCD_ENDPOINTS: etcd.url,
  KAFKA_BROKERS: kafka.url,
  MONGO_URL: mongo.url,
  REGISTRY_LEASE_TTL_S: String(TTL_S),
  REGISTRY_DRAIN_MS: "300",
});

async function startAuditInstance(id: string): Promise<ServiceProcess> {
  const audit = await startService(
    "services/audit/main.ts",
    {
      ...shared(),
      AUDIT_HOST: "127.0.0.1",
      ...issuer.env,
      AUDIT_GRPC_PORT: "0",
      AUDIT_METRICS_PORT: "0",
      AUDIT_INSTANCE_ID: id,
      AUDIT_RETRY_DELAY_MS: "100",
    },
    "audit service ready",
    60_000,
  );
  audits.set(id, audit);
  return audit;
}

/** The registered audit instances: instance id → the value it published. */
async function registered(): Promise<Map<string, { address: string; metricsAddress?: string }>> {
  const values = await etcdClient.getAll().prefix(AUDIT_KEYS).strings();
  return new Map(Object.entries(values).map(([key, value]) => [key.slice(AUDIT_KEYS.length), JSON.parse(value)]));
}

async function history(id: string): Promise<{ status: number; events: { type: string }[] }> {
  const response = await fetch(`${baseUrl}/v1/users/${id}/history`, { headers: { authorization } });
  const body = (await response.json()) as { events?: { type: string }[] };
  return { status: response.status, events: body.events ?? [] };
}

before(async () => {
  [etcd, kafka, mongo] = await Promise.all([startEtcd(), startKafka(), startMongo()]);
  etcdClient = createEtcdClient({ endpoints: [etcd.url], callTimeoutMs: 2_000 });
  users = await startService(
    "services/users/main.ts",
    {
      ...shared(),
      USERS_HOST: "127.0.0.1",
      ...issuer.env,
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      OUTBOX_POLL_INTERVAL_MS: "100",
    },
    "users service ready",
    60_000,
  );
  await Promise.all(["audit-1", "audit-2"].map(startAuditInstance));
  gateway = await startService(
    "services/gateway/main.ts",
    { ...shared(), GATEWAY_HOST: "127.0.0.1", ...issuer.env, GATEWAY_PORT: "0", ...LOAD_BUDGET },
    "gateway ready",
  );
  baseUrl = `http://127.0.0.1:${gateway.ready.port}`;
});

after(async () => {
  await gateway?.stop();
  await Promise.all([users?.stop(), ...[...audits.values()].map((audit) => audit.stop())]);
  etcdClient?.close();
  await Promise.all([etcd?.stop(), kafka?.stop(), mongo?.stop()]);
});

describe("audit instances registered in etcd", () => {
  let userId: string;

  test("each instance registers its gRPC and metrics addresses; the gateway dials etcd:///audit", async () => {
    const instances = await waitFor("both audit instances in etcd", async () => {
      const found = await registered();
      return found.size === 2 ? found : undefined;
    });
    for (const [id, audit] of audits) {
      assert.equal(instances.get(id)?.address, `127.0.0.1:${audit.ready.grpcPort}`);
      assert.equal(instances.get(id)?.metricsAddress, `127.0.0.1:${audit.ready.metricsPort}`);
      assert.equal(await metricValue(audit.ready.metricsPort as number, "charter_audit_registered"), 1);
    }
    assert.equal(gateway.ready.auditAddr, "etcd:///audit");
  });

  test("history calls are spread over the instances", async () => {
    const created = await fetch(`${baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Ada Lovelace", email: `${randomUUID()}@example.com` }),
    });
    assert.equal(created.status, 201);
    userId = ((await created.json()) as { id: string }).id;
    await waitFor("the CREATED event in the history", async () => {
      const found = await history(userId);
      return found.events.length === 1 ? found : undefined;
    });
    for (let i = 0; i < 10; i++) assert.equal((await history(userId)).status, 200);
    for (const [id, audit] of audits) {
      const served = await metricValue(audit.ready.metricsPort as number, "charter_audit_rpc_total", {
        method: "ListUserHistory",
        code: "OK",
      });
      assert.ok(served >= 1, `${id} served no history call`);
    }
  });

  test("a stopped instance revokes its key and a killed one's expires; the others keep serving", async () => {
    const third = await startAuditInstance("audit-3");
    await waitFor("audit-3 in etcd", async () => ((await registered()).has("audit-3") ? true : undefined));

    const first = audits.get("audit-1") as ServiceProcess;
    const stopped = first.stop();
    await waitFor("audit-1's key revoked", async () => ((await registered()).has("audit-1") ? undefined : true));
    await stopped;

    const second = audits.get("audit-2") as ServiceProcess;
    second.signal("SIGKILL");
    await second.exited;
    const killedAt = Date.now();
    await waitFor(
      "audit-2's key expired",
      async () => ((await registered()).has("audit-2") ? undefined : true),
      TTL_S * 1000 * 4,
    );
    console.log(`audit-2's key was gone ${Date.now() - killedAt} ms after SIGKILL`);
    audits.delete("audit-1");
    audits.delete("audit-2");

    assert.deepEqual([...(await registered()).keys()], ["audit-3"]);
    for (let i = 0; i < 10; i++) {
      const found = await history(userId);
      assert.equal(found.status, 200, `history call ${i} after the changes`);
      assert.deepEqual(
        found.events.map((e) => e.type),
        ["CREATED"],
      );
    }
    assert.ok(
      (await metricValue(third.ready.metricsPort as number, "charter_audit_rpc_total", {
        method: "ListUserHistory",
        code: "OK",
      })) >= 10,
      "audit-3 served them",
    );
  });
});
