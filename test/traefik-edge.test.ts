/**
 * Traefik in front of the gateways, its routes read from a real etcd: a users service, gateways in cluster mode
 * with GATEWAY_TRAEFIK=on registering their route in Traefik's KV layout, and Traefik (built from the Go module
 * proxy, see scripts/infra/traefik.ts) reading `traefik/…`. REST reads and writes go through Traefik to both
 * gateways (counted in each gateway's /metrics); a gateway stopped with SIGTERM under a read loop deregisters,
 * waits and drains with no failed read, and leaves Traefik's rotation; a gateway killed with SIGKILL leaves it
 * when its lease ends. Every wait is on a condition, with a deadline; the measured times are printed.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import type { Etcd3 } from "etcd3";
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { type RunningServer, type RunningTraefik, startEtcd, startTraefik } from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET } from "../scripts/lib/start-platform.js";
import { traefikServerKey } from "../services/gateway/adapters/traefik-route.js";
import { startTestIssuer } from "./support/auth.js";
import { runLoop } from "./support/cluster.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

/** The lease TTL of the gateways' server keys here: how long a killed gateway stays in Traefik's rotation. */
const LEASE_TTL_S = 2;
/** Longer than the 200 ms providers throttle startTraefik sets, so Traefik has followed before the drain. */
const DEREGISTER_WAIT_MS = 1_000;
const ROOT = "traefik";
const SERVICE_API = "/api/http/services/charter-gateway@etcd";

interface Gateway {
  readonly id: string;
  readonly process: ServiceProcess;
  readonly base: string;
}

let etcd: RunningServer;
let traefik: RunningTraefik;
let users: ServiceProcess;
let client: Etcd3;
const gateways = new Map<string, Gateway>();

async function startGateway(id: string): Promise<Gateway> {
  const process = await startService(
    "services/gateway/main.ts",
    {
      GATEWAY_HOST: "127.0.0.1",
      ...issuer.env,
      GATEWAY_PORT: "0",
      ETCD_ENDPOINTS: etcd.url,
      GATEWAY_TRAEFIK: "on",
      GATEWAY_INSTANCE_ID: id,
      GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS: String(DEREGISTER_WAIT_MS),
      REGISTRY_LEASE_TTL_S: String(LEASE_TTL_S),
      USERS_DEADLINE_MS: "3000",
      ...LOAD_BUDGET,
    },
    "gateway ready",
    60_000,
  );
  const gateway = { id, process, base: `http://127.0.0.1:${process.ready.port}` };
  gateways.set(id, gateway);
  return gateway;
}

function gateway(id: string): Gateway {
  const found = gateways.get(id);
  if (!found) throw new Error(`gateway ${id} is not running`);
  return found;
}

/** The server URLs Traefik routes the gateway's service to now, from its API. */
async function servers(): Promise<string[]> {
  const response = await fetch(`${traefik.apiUrl}${SERVICE_API}`);
  if (response.status === 404) return [];
  const body = (await response.json()) as { loadBalancer?: { servers?: { url: string }[] } };
  return (body.loadBalancer?.servers ?? []).map((server) => server.url).sort();
}

const sameSet = (a: readonly string[], b: readonly string[]) => [...a].sort().join(" ") === [...b].sort().join(" ");

/** Waits until Traefik routes to exactly these gateways; returns how long it took. */
async function untilRotation(expected: readonly Gateway[], deadlineMs: number): Promise<number> {
  const started = Date.now();
  const urls = expected.map((g) => g.base);
  await waitFor(
    `Traefik to route to exactly ${expected.map((g) => g.id).join(", ") || "no gateway"}`,
    async () => (sameSet(await servers(), urls) ? true : undefined),
    deadlineMs,
  );
  return Date.now() - started;
}

/** GET /v1/users/{id} requests the gateway has answered with 200, from its own /metrics. */
async function readsServed(gateway: Gateway): Promise<number> {
  const text = await (await fetch(`${gateway.base}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith("charter_gateway_http_request_duration_seconds_count{") &&
      line.includes('method="GET"') &&
      line.includes('status="200"') &&
      /route="\/v1\/users\/[^"]+"/.test(line)
    ) {
      total += Number(line.split(" ").pop());
    }
  }
  return total;
}

async function readThroughTraefik(id: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${traefik.url}/v1/users/${id}`, { headers: { authorization } });
    const text = await response.text();
    return response.status === 200 ? undefined : `GET → ${response.status} ${text.slice(0, 160)}`;
  } catch (error) {
    return `GET → network error ${String(error)}`;
  }
}

async function createThroughTraefik(): Promise<{ id: string; email: string }> {
  const email = `edge-${randomUUID().slice(0, 8)}@example.com`;
  const response = await fetch(`${traefik.url}/v1/users`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": randomUUID(), authorization },
    body: JSON.stringify({ name: "Edge Test", email }),
  });
  const body = (await response.json()) as { id?: string };
  assert.equal(response.status, 201, JSON.stringify(body));
  assert.ok(body.id, "the created user has an id");
  return { id: body.id, email };
}

before(async () => {
  const started = Date.now();
  etcd = await startEtcd();
  client = createEtcdClient({ endpoints: [etcd.url], callTimeoutMs: 2_000 });
  const usersReady = startService(
    "services/users/main.ts",
    {
      USERS_HOST: "127.0.0.1",
      ...issuer.env,
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      USERS_INSTANCE_ID: "users-edge",
      ETCD_ENDPOINTS: etcd.url,
      REGISTRY_LEASE_TTL_S: String(LEASE_TTL_S),
    },
    "users service ready",
    60_000,
  );
  [traefik, users] = await Promise.all([startTraefik({ etcdEndpoints: [etcd.url], rootKey: ROOT }), usersReady]);
  const [a, b] = await Promise.all([startGateway("gw-a"), startGateway("gw-b")]);
  await untilRotation([a, b], 15_000);
  console.log(`# fixture up in ${Date.now() - started} ms (etcd, users, Traefik, two gateways in its rotation)`);
});

after(async () => {
  for (const gateway of gateways.values()) await gateway.process.stop();
  await users?.stop();
  client?.close();
  await traefik?.stop();
  await etcd?.stop();
});

describe("Traefik fed from etcd by the gateways", () => {
  let user: { id: string; email: string };

  test("the route is in etcd in Traefik's layout: shared keys without a lease, each server under its lease", async () => {
    const kvs = (await client.getAll().prefix(`${ROOT}/`).exec()).kvs;
    const entries = new Map(kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), lease: kv.lease }]));
    const shared = {
      [`${ROOT}/http/routers/charter-gateway/rule`]: "PathPrefix(`/`)",
      [`${ROOT}/http/routers/charter-gateway/service`]: "charter-gateway",
      [`${ROOT}/http/routers/charter-gateway/entryPoints/0`]: "web",
      [`${ROOT}/http/routers/charter-gateway/middlewares/0`]: "charter-retry",
      [`${ROOT}/http/middlewares/charter-retry/retry/attempts`]: "2",
      [`${ROOT}/http/services/charter-gateway/loadBalancer/passHostHeader`]: "true",
    };
    for (const [key, value] of Object.entries(shared)) {
      assert.deepEqual(entries.get(key), { value, lease: "0" }, key);
    }
    const leases = new Set<string>();
    for (const gateway of gateways.values()) {
      const entry = entries.get(traefikServerKey(ROOT, gateway.id));
      assert.equal(entry?.value, gateway.base, `${gateway.id}'s server key`);
      assert.notEqual(entry?.lease, "0", `${gateway.id}'s server key is under a lease`);
      leases.add(entry?.lease ?? "");
    }
    assert.equal(leases.size, gateways.size, "each gateway has a lease of its own");
    assert.equal(entries.size, Object.keys(shared).length + gateways.size, [...entries.keys()].join("\n"));
  });

  test("REST through Traefik: POST /v1/users creates, GET /v1/users/{id} reads it back", async () => {
    user = await createThroughTraefik();
    const response = await fetch(`${traefik.url}/v1/users/${user.id}`, { headers: { authorization } });
    const body = (await response.json()) as { id?: string; email?: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.id, user.id);
    assert.equal(body.email, user.email);
    assert.ok(response.headers.get("x-request-id"), "the gateway's x-request-id comes through Traefik");
    const log = await readFile(traefik.accessLogPath, "utf8");
    assert.match(log, new RegExp(`"RequestPath":"/v1/users/${user.id}"`), "Traefik's access log has the read");
  });

  test("both gateways serve: the reads sent through Traefik are answered by each, and by them only", async () => {
    const [a, b] = [gateway("gw-a"), gateway("gw-b")];
    const before = [await readsServed(a), await readsServed(b)];
    const reads = 20;
    for (let i = 0; i < reads; i++) assert.equal(await readThroughTraefik(user.id), undefined);
    const served = [(await readsServed(a)) - (before[0] ?? 0), (await readsServed(b)) - (before[1] ?? 0)];
    console.log(`# ${reads} reads through Traefik: gw-a answered ${served[0]}, gw-b ${served[1]}`);
    assert.equal((served[0] ?? 0) + (served[1] ?? 0), reads, "every read was answered by one of the two");
    assert.ok((served[0] ?? 0) > 0 && (served[1] ?? 0) > 0, `both answered: ${served.join(", ")}`);
  });

  test("SIGTERM of a gateway under a read loop: 0 failed reads, and it leaves Traefik's rotation", async () => {
    const [a, b] = [gateway("gw-a"), gateway("gw-b")];
    const loop = runLoop(2, () => readThroughTraefik(user.id), 30_000);
    const servedByB = await readsServed(b);
    await waitFor("the read loop to reach gw-b", async () =>
      (await readsServed(b)) > servedByB + 5 ? true : undefined,
    );
    const signalled = Date.now();
    a.process.signal("SIGTERM");
    await waitFor("gw-a's server key to be deleted", async () =>
      (await client.get(traefikServerKey(ROOT, a.id)).string()) === null ? true : undefined,
    );
    const keyGoneMs = Date.now() - signalled;
    const leftMs = await untilRotation([b], 10_000);
    const code = await a.process.exited;
    const exitedMs = Date.now() - signalled;
    gateways.delete(a.id);
    // Reads keep coming after it has gone, all on gw-b.
    const afterExit = await readsServed(b);
    await waitFor("more reads through Traefik after gw-a exited", async () =>
      (await readsServed(b)) > afterExit + 10 ? true : undefined,
    );
    const { ok, failures } = await loop.stop();
    console.log(
      `# SIGTERM gw-a: server key deleted after ${keyGoneMs} ms, out of Traefik's rotation ` +
        `${keyGoneMs + leftMs} ms after the signal, exited (code ${code}) after ${exitedMs} ms; ` +
        `${ok} reads through Traefik meanwhile, ${failures.length} failed`,
    );
    assert.deepEqual(failures, [], "no read failed while the gateway stopped");
    assert.equal(code, 0, "the gateway stopped cleanly");
    const said = ["left Traefik's rotation; waiting", "deregistered from etcd"].map((text) =>
      a.process.output.findIndex((line) => line.includes(text)),
    );
    assert.ok(
      said.every((index) => index >= 0),
      `it said it left the rotation and waited before it drained:\n${a.process.output.slice(-8).join("\n")}`,
    );
  });

  test("SIGKILL of a gateway: it leaves Traefik's rotation when its lease ends", async () => {
    const b = gateway("gw-b");
    const c = await startGateway("gw-c");
    await untilRotation([b, c], 15_000);
    const loop = runLoop(2, () => readThroughTraefik(user.id), 30_000);
    const servedByC = await readsServed(c);
    await waitFor("the read loop to reach gw-c", async () =>
      (await readsServed(c)) > servedByC + 5 ? true : undefined,
    );
    b.process.signal("SIGKILL");
    await b.process.exited;
    gateways.delete(b.id);
    // Deadline: 3 × (lease TTL + 2 s).
    const leftMs = await untilRotation([c], 3 * (LEASE_TTL_S * 1000 + 2_000));
    const afterLeft = await readsServed(c);
    await waitFor("more reads through Traefik after gw-b left", async () =>
      (await readsServed(c)) > afterLeft + 10 ? true : undefined,
    );
    const { ok, failures } = await loop.stop();
    console.log(
      `# SIGKILL gw-b: out of Traefik's rotation ${leftMs} ms after it died (lease TTL ${LEASE_TTL_S} s); ` +
        `${ok} reads meanwhile, ${failures.length} failed${failures.length > 0 ? `: ${failures[0]}` : ""}`,
    );
    // A request already sent to the killed gateway fails (Traefik retries only what it could not send); once
    // Traefik stops routing there, none does: the reads sent after it left all succeeded.
    const lateFailures = await (async () => {
      const extra = runLoop(2, () => readThroughTraefik(user.id), 10_000);
      const start = await readsServed(c);
      await waitFor("reads after gw-b left", async () => ((await readsServed(c)) > start + 20 ? true : undefined));
      return (await extra.stop()).failures;
    })();
    assert.deepEqual(lateFailures, [], "no read fails once the killed gateway is out of the rotation");
  });
});
