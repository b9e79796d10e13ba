/**
 * The deployed system, brought up once (scripts/lib/stack.ts, what `npm run stack` runs) and shown on that one
 * stack: the images' health, user and read-only root; the REST probe through Traefik; a write's trace in Jaeger
 * with every hop, edge to audit; that request's log lines in OpenSearch by its trace id; then, under a fixed
 * moderate load through Traefik with the SDK (its retries of idempotent calls on), the faults — a gateway, a users
 * and an audit container killed, a rolling update of all seven to an image of a new version, an etcd member
 * stopped and restarted — with no failed read and every write applied once; and no Docker network beyond host and
 * none. Secured inside as start:cluster is: a plaintext gRPC call to a users container, an etcd client without a
 * client certificate and a Redis client without the password are refused, and no container's environment holds a
 * password (only paths of files mounted read-only). The console routes (Jaeger, Prometheus, OpenSearch through Traefik) answer 401 without the stack's login;
 * every console request below sends it. Every wait is on a condition with a deadline; the measured times are printed. Heavy: a few minutes.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { credentials } from "@grpc/grpc-js";
import { grpcClientCredentials } from "../platform/grpc-credentials.js";
import { createHealthProbe } from "../platform/grpc-health-probe.js";
import { createEtcdClient } from "../platform/registry/etcd-client.js";
import { buildImages, SERVICES, type Service } from "../scripts/images/build.js";
import { waitFor } from "../scripts/lib/processes.js";
import { type Stack, type StackContainer, startStack } from "../scripts/lib/stack.js";
import { clientCredentials, createUsersClient, type UsersClient } from "../sdk/index.js";

const LEASE_TTL_S = 2;
/** The deadline of "leaves the rotation": 3 × (lease TTL + 2 s). */
const ROTATION_DEADLINE_MS = 3 * (LEASE_TTL_S + 2) * 1000;
const MAX_IMAGE_BYTES = 200e6;
/** Requests a second through Traefik while the faults happen: reads of known users and creates. */
const READS_PER_S = 20;
const WRITES_PER_S = 4;

let stack: Stack;
let client: UsersClient;
let token: () => Promise<string>;
const known: string[] = [];
const timings: string[] = [];

before(async () => {
  const started = Date.now();
  stack = await startStack({ httpPort: 0, consolePort: 0, issuerPort: 0, leaseTtlSeconds: LEASE_TTL_S });
  timings.push(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The containers trust the development issuer the stack runs on the host: tokens come from it.
  const issuer = stack.issuer.dev;
  const dev = issuer?.clients[0];
  assert.ok(issuer && dev, "the stack runs a development issuer");
  assert.match(stack.describe(), new RegExp(`Token issuer\\s+${issuer.issuer}`));
  token = clientCredentials({
    tokenUrl: issuer.tokenEndpoint,
    clientId: dev.clientId,
    clientSecret: dev.clientSecret,
    scopes: dev.scopes,
  });
  client = createUsersClient({ baseUrl: stack.url, token });
  for (let i = 0; i < 10; i++) {
    const created = await client.create({ name: `Known ${i}`, email: `known-${i}-${randomUUID()}@example.com` });
    assert.ok(created.ok, JSON.stringify(created));
    known.push(created.data.id);
  }
});

after(async () => {
  console.log(timings.join("\n"));
  await stack?.stop();
});

/** A request to a console route through Traefik, with the stack's basic-auth login. */
const consoleFetch = (path: string, init: RequestInit = {}) =>
  fetch(`${stack.consoleUrl}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), authorization: stack.consoleAuthorization },
  });

const byService = (service: Service) => [...stack.containers.values()].filter((c) => c.service === service);
const inspect = async (name: string, format: string) => stack.engine.ok(["inspect", "--format", format, name]);

describe("the images in the stack", () => {
  test("each is at most 200 MB, healthy by its HEALTHCHECK, runs as UID 10001 on a read-only root", async () => {
    for (const service of SERVICES) {
      const container = byService(service)[0] as StackContainer;
      const size = Number(await stack.engine.ok(["image", "inspect", "--format", "{{.Size}}", container.image]));
      assert.ok(size <= MAX_IMAGE_BYTES, `${container.image} is ${(size / 1e6).toFixed(1)} MB`);
      // The image's own HEALTHCHECK (every 5 s) passes: Docker counts the container healthy.
      await waitFor(
        `${container.name} healthy`,
        async () => ((await inspect(container.name, "{{.State.Health.Status}}")) === "healthy" ? true : undefined),
        30_000,
      );
      assert.equal(await inspect(container.name, "{{.Config.User}}"), "10001:10001");
      assert.equal(await inspect(container.name, "{{.HostConfig.ReadonlyRootfs}}"), "true");
      const pid = await inspect(container.name, "{{.State.Pid}}");
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      assert.equal(uid, "10001", `${container.name}'s node runs as 10001 on the host too`);
      const write = await stack.engine.run([
        ...["exec", container.name, "node", "-e"],
        "try { require('fs').writeFileSync('/app/probe', 'x'); console.log('written') } catch (e) { console.log(e.code) }",
      ]);
      assert.equal(write.stdout.trim(), "EROFS", `${container.name}: writing under / fails`);
    }
  });
});

/** The first reply line of Redis to `commands` (RESP inline commands) over TLS trusting the development CA. */
function redisReply(port: number, commands: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: "127.0.0.1", ca: readFileSync(stack.certs.ca), servername: "localhost" });
    let reply = "";
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`Redis did not answer ${JSON.stringify(commands)}`));
    });
    socket.once("error", reject);
    socket.once("secureConnect", () => socket.write(commands));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.split("\r\n")[0] ?? "");
      }
    });
  });
}

describe("secured inside", () => {
  test("gRPC to a users container is mutual TLS: plaintext and TLS without a client certificate are refused", async () => {
    const users = byService("users")[0] as StackContainer;
    const pem = (file: string) => readFileSync(file);
    const gateway = stack.certs.client.gateway;
    const check = async (creds: ReturnType<typeof credentials.createInsecure>) => {
      const probe = createHealthProbe(`127.0.0.1:${users.port}`, {}, creds);
      try {
        return await probe.check("", 5_000);
      } finally {
        probe.close();
      }
    };
    assert.equal(await check(credentials.createInsecure()), "UNREACHABLE", "plaintext gRPC is refused");
    assert.equal(await check(credentials.createSsl(pem(stack.certs.ca))), "UNREACHABLE", "no client certificate");
    const mtls = { ca: pem(stack.certs.ca), cert: pem(gateway.cert), key: pem(gateway.key) };
    assert.equal(await check(grpcClientCredentials(mtls)), "SERVING", "the gateway's certificate is let in");
  });

  test("etcd asks for a client certificate: without one a read fails, with the operator's it succeeds", async () => {
    const key = "/charter/config/redis-url";
    const withoutCert = createEtcdClient({ endpoints: stack.etcd.endpoints, tls: { ca: stack.etcdTls.ca } });
    try {
      await assert.rejects(
        Promise.race([
          withoutCert.get(key).string(),
          delay(10_000).then(() => {
            throw new Error("timed out");
          }),
        ]).then((value) => assert.fail(`read ${String(value)} without a client certificate`)),
        (error: Error) => !/read .* without a client certificate/.test(error.message),
      );
    } finally {
      withoutCert.close();
    }
    const withCert = createEtcdClient({ endpoints: stack.etcd.endpoints, tls: stack.etcdTls });
    try {
      assert.equal(await withCert.get(key).string(), stack.redis.url);
    } finally {
      withCert.close();
    }
    assert.match(stack.redis.url, /^rediss:\/\//);
  });

  test("Redis: TLS only, and nothing without the ACL user's password (NOAUTH, WRONGPASS)", async () => {
    assert.match(await redisReply(stack.redis.port, "PING\r\n"), /^-NOAUTH/);
    assert.match(await redisReply(stack.redis.port, "AUTH charter not-the-password\r\n"), /^-WRONGPASS/);
    const [password] = stack.passwords;
    assert.equal(await redisReply(stack.redis.port, `AUTH charter ${password}\r\nPING\r\n`), "+OK");
  });

  test("no container's environment holds a password: only paths of files mounted read-only", async () => {
    assert.ok(stack.passwords.length >= 3);
    for (const container of stack.containers.values()) {
      const env = JSON.parse(await inspect(container.name, "{{json .Config.Env}}")) as string[];
      for (const password of stack.passwords)
        assert.ok(!env.some((entry) => entry.includes(password)), `${container.name}'s env holds a password`);
      const files = env.filter((entry) => /_FILE=/.test(entry)).map((entry) => entry.split("=")[1] ?? "");
      assert.ok(files.length >= 6, `${container.name}: ${files.length} *_FILE variables`);
      const mounts = JSON.parse(await inspect(container.name, "{{json .Mounts}}")) as {
        Destination: string;
        RW: boolean;
      }[];
      for (const file of files) {
        const mount = mounts.find((m) => m.Destination === file);
        assert.ok(mount && !mount.RW, `${container.name}: ${file} is a read-only mount`);
      }
    }
  });
});

describe("requests through Traefik", () => {
  let traceId = "";
  let email = "";

  test("the REST probe: a create and a read through Traefik, answered by both gateways in turn", async () => {
    email = `traced-${randomUUID()}@example.com`;
    const response = await fetch(`${stack.url}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await token()}` },
      body: JSON.stringify({ name: "Traced Through The Edge", email }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const created = (await response.json()) as { id: string };
    traceId = /^00-([0-9a-f]{32})-/.exec(response.headers.get("traceparent") ?? "")?.[1] ?? "";
    assert.match(traceId, /^[0-9a-f]{32}$/);
    const read = await client.get(created.id);
    assert.ok(read.ok && read.data.email === email);
    const servers = await waitFor(
      "Traefik's charter-gateway service with both gateways",
      async () => {
        const service = (await (
          await fetch(`${stack.traefik.apiUrl}/api/http/services/charter-gateway@etcd`)
        ).json()) as {
          serverStatus?: Record<string, string>;
        };
        const up = Object.entries(service.serverStatus ?? {}).filter(([, status]) => status === "UP");
        return up.length === 2 ? up.map(([url]) => url) : undefined;
      },
      10_000,
    );
    assert.deepEqual(
      servers.sort(),
      byService("gateway")
        .map((g) => `http://127.0.0.1:${g.port}`)
        .sort(),
    );
  });

  test("that write is one trace in Jaeger: Traefik → gateway → users → Redis and MongoDB, and the audit's processing", async () => {
    interface Span {
      spanID: string;
      operationName: string;
      processID: string;
      references: { spanID: string }[];
      tags: { key: string; value: unknown }[];
    }
    interface Trace {
      spans: Span[];
      processes: Record<string, { serviceName: string }>;
    }
    const hops = (trace: Trace) => {
      const service = (span: Span) => trace.processes[span.processID]?.serviceName ?? "";
      // db.system, or db.system.name in the newer semantic conventions.
      const database = (span: Span) =>
        span.tags.find((t) => t.key === "db.system" || t.key === "db.system.name")?.value;
      const kind = (span: Span) => span.tags.find((t) => t.key === "span.kind")?.value;
      return {
        edge: trace.spans.some((s) => service(s) === "traefik"),
        gateway: trace.spans.some((s) => service(s) === "gateway" && s.operationName === "POST /v1/users"),
        users: trace.spans.some((s) => service(s) === "users" && kind(s) === "server"),
        redis: trace.spans.some((s) => service(s) === "users" && database(s) === "redis"),
        mongo: trace.spans.some((s) => service(s) === "users" && database(s) === "mongodb"),
        audit: trace.spans.some((s) => service(s) === "audit" && s.operationName.startsWith("process ")),
        complete: trace.spans.every((s) => s.references.every((r) => trace.spans.some((p) => p.spanID === r.spanID))),
      };
    };
    const started = Date.now();
    let last: unknown = "no trace";
    const found = await waitFor(
      `trace ${traceId} with every hop in Jaeger`,
      async () => {
        const response = await consoleFetch(`/jaeger/api/traces/${traceId}`);
        if (!response.ok) return undefined;
        const [trace] = ((await response.json()) as { data: Trace[] }).data;
        if (!trace) return undefined;
        const seen = hops(trace);
        last = {
          seen,
          spans: trace.spans.map((s) => `${trace.processes[s.processID]?.serviceName} ${s.operationName}`),
        };
        return Object.values(seen).every(Boolean) ? seen : undefined;
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${JSON.stringify(last, null, 1)}`);
    });
    timings.push(`the write's trace complete in Jaeger after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(found.edge && found.gateway && found.users && found.redis && found.mongo && found.audit);
  });

  test("that request's log lines are found in OpenSearch by its trace id, from the containers, without the email", async () => {
    const search = async (query: unknown) => {
      const response = await consoleFetch("/opensearch/charter-logs-*/_search", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(query),
      });
      assert.equal(response.status, 200, await response.clone().text());
      return ((await response.json()) as { hits: { hits: { _source: Record<string, unknown> }[] } }).hits.hits.map(
        (hit) => hit._source,
      );
    };
    const started = Date.now();
    const lines = await waitFor(
      `log lines of trace ${traceId} from the gateway and users containers`,
      async () => {
        const found = await search({ query: { term: { trace_id: traceId } }, size: 100 });
        const services = new Set(found.map((line) => line.service));
        return services.has("gateway") && services.has("users") ? found : undefined;
      },
      30_000,
    );
    timings.push(`the request's log lines in OpenSearch after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The edge's access log line carries the trace id too; every other line comes from a container, by its name.
    const instances = new Set([...stack.containers.keys(), "traefik"]);
    for (const line of lines) assert.ok(instances.has(String(line.instance)), `instance ${line.instance}`);
    assert.ok(
      lines.some((line) => line.service === "gateway" && String(line.instance).startsWith("charter-gateway-")),
      JSON.stringify(lines.map((line) => [line.service, line.instance, line.msg])),
    );
    assert.equal((await search({ query: { query_string: { query: `"${email}"` } } })).length, 0, "no email in clear");
    const access = await waitFor(
      "Traefik's access log line of the request",
      async () => {
        const found = await search({ query: { term: { service: "traefik" } }, size: 100 });
        return found.length > 0 ? found : undefined;
      },
      30_000,
    );
    assert.ok(access.some((line) => line.RequestPath === "/v1/users" && line.RequestMethod === "POST"));
  });
});

test("the console routes ask for the stack's login: 401 without it or with a wrong password, 200 with it", async () => {
  const wrong = `Basic ${Buffer.from(`${stack.consoleCredentials.username}:not-the-password`).toString("base64")}`;
  for (const path of ["/jaeger/api/services", "/prometheus/api/v1/targets", "/opensearch/_cluster/health"]) {
    const anonymous = await fetch(`${stack.consoleUrl}${path}`);
    assert.equal(anonymous.status, 401, `${path} without credentials`);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic realm="Charter consoles"/);
    const guessed = await fetch(`${stack.consoleUrl}${path}`, { headers: { authorization: wrong } });
    assert.equal(guessed.status, 401, `${path} with a wrong password`);
    assert.equal((await consoleFetch(path)).status, 200, `${path} with the login`);
  }
});

test("Prometheus, through Traefik's console route, scrapes every instance, Traefik and Jaeger", async () => {
  const expected = {
    "charter-gateway": byService("gateway").length,
    "charter-users": byService("users").length,
    "charter-audit": byService("audit").length,
    traefik: 1,
    jaeger: 1,
  };
  const started = Date.now();
  let up: Record<string, number> = {};
  await waitFor(
    "every scrape target up",
    async () => {
      const response = await consoleFetch("/prometheus/api/v1/targets?state=active");
      const body = (await response.json()) as {
        data: { activeTargets: { labels: { job: string }; health: string }[] };
      };
      up = {};
      for (const target of body.data.activeTargets)
        if (target.health === "up") up[target.labels.job] = (up[target.labels.job] ?? 0) + 1;
      return Object.entries(expected).every(([job, count]) => up[job] === count) ? true : undefined;
    },
    60_000,
    500,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; expected ${JSON.stringify(expected)}, last up ${JSON.stringify(up)}`);
  });
  timings.push(`every scrape target up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const query = await consoleFetch("/prometheus/api/v1/query?query=traefik_entrypoint_requests_total");
  const result = (await query.json()) as { data: { result: unknown[] } };
  assert.ok(result.data.result.length > 0, "Traefik's own request counters are in Prometheus");
});

interface Load {
  stop(): Promise<{ reads: number; writes: number; failedReads: string[]; failedWrites: string[] }>;
  readonly created: Map<string, string>;
}

/** Reads and creates at a fixed rate (open loop: a slow answer does not slow the rate), creates with a key. */
function startLoad(): Load {
  const inFlight = new Set<Promise<void>>();
  const created = new Map<string, string>();
  let reads = 0;
  let writes = 0;
  const failedReads: string[] = [];
  const failedWrites: string[] = [];
  const fire = (work: () => Promise<void>) => {
    const promise = work().finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };
  const read = async () => {
    const id = known[Math.floor(Math.random() * known.length)] as string;
    try {
      const result = await client.get(id, { signal: AbortSignal.timeout(10_000) });
      if (result.ok) reads += 1;
      else failedReads.push(`GET ${id}: ${result.status} ${result.problem.detail}`);
    } catch (error) {
      failedReads.push(`GET ${id}: ${String(error)}`);
    }
  };
  const write = async () => {
    const email = `load-${randomUUID()}@example.com`;
    try {
      const result = await client.create(
        { name: "Under Load", email },
        { idempotencyKey: randomUUID(), signal: AbortSignal.timeout(10_000) },
      );
      if (result.ok) {
        writes += 1;
        created.set(email, result.data.id);
      } else failedWrites.push(`POST ${email}: ${result.status} ${result.problem.detail}`);
    } catch (error) {
      failedWrites.push(`POST ${email}: ${String(error)}`);
    }
  };
  const timers = [
    setInterval(() => fire(read), 1000 / READS_PER_S),
    setInterval(() => fire(write), 1000 / WRITES_PER_S),
  ];
  return {
    created,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await Promise.all(inFlight);
      return { reads, writes, failedReads, failedWrites };
    },
  };
}

/** Under load, `fault` happens; then no read failed, every create succeeded, and each was applied once. */
async function underLoad(label: string, fault: () => Promise<void>): Promise<void> {
  const load = startLoad();
  const started = Date.now();
  try {
    await delay(1_000);
    await fault();
    await delay(1_000);
  } finally {
    const result = await load.stop();
    timings.push(
      `${label}: ${result.reads} reads, ${result.writes} writes in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.deepEqual(result.failedReads, [], `${label}: no read fails`);
    assert.deepEqual(result.failedWrites, [], `${label}: every create succeeds, retried with its key`);
  }
  // Applied once: each email is one user, the one the create answered with.
  for (const [email, id] of load.created) {
    const found = await client.lookupUser(email);
    assert.ok(found.ok && found.data.id === id, `${email} is user ${id}`);
  }
}

const measured = async (label: string, condition: () => Promise<boolean>) => {
  const started = Date.now();
  await waitFor(label, async () => ((await condition()) ? true : undefined), ROTATION_DEADLINE_MS, 100);
  timings.push(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
};

const traefikServers = async (): Promise<string[]> => {
  const response = await fetch(`${stack.traefik.apiUrl}/api/http/services/charter-gateway@etcd`);
  const service = (await response.json()) as { loadBalancer?: { servers?: { url: string }[] } };
  return (service.loadBalancer?.servers ?? []).map((server) => server.url);
};
const gatewayInstances = async (gateway: StackContainer): Promise<string[]> => {
  const response = await fetch(`http://127.0.0.1:${gateway.port}/readyz`);
  const body = (await response.json()) as { instances?: { address: string }[] };
  return (body.instances ?? []).map((instance) => instance.address);
};
const registered = async (service: Service): Promise<string[]> => {
  const etcd = createEtcdClient({ endpoints: stack.etcd.endpoints, tls: stack.etcdTls });
  try {
    return (await etcd.getAll().prefix(`/charter/services/${service}/`).keys()).map(
      (key) => key.split("/").pop() ?? "",
    );
  } finally {
    etcd.close();
  }
};

describe("faults under load through Traefik", () => {
  test("docker kill of a gateway: it leaves Traefik's rotation when its lease ends, no read fails", async () => {
    const victim = byService("gateway")[0] as StackContainer;
    await underLoad("gateway killed", async () => {
      await stack.killContainer(victim.name);
      await measured("the killed gateway out of Traefik's rotation", async () =>
        (await traefikServers()).every((url) => !url.endsWith(`:${victim.port}`)),
      );
    });
    await stack.startContainer("gateway");
  });

  test("docker kill of a users container: it leaves the gateways' rotation, no read fails", async () => {
    const victim = byService("users")[0] as StackContainer;
    await underLoad("users killed", async () => {
      await stack.killContainer(victim.name);
      await measured("the killed users instance out of every gateway's rotation", async () => {
        const views = await Promise.all(byService("gateway").map(gatewayInstances));
        return views.every((view) => view.length > 0 && view.every((address) => !address.endsWith(`:${victim.port}`)));
      });
    });
    await stack.startContainer("users");
  });

  test("docker kill of an audit container: its events are processed by the other one, each once", async () => {
    const victim = byService("audit")[0] as StackContainer;
    const load = startLoad();
    await delay(1_000);
    await stack.killContainer(victim.name);
    await measured(
      "the killed audit instance out of etcd",
      async () => !(await registered("audit")).includes(victim.name),
    );
    await delay(1_000);
    const result = await load.stop();
    assert.deepEqual([...result.failedReads, ...result.failedWrites], []);
    // Every create's event reaches the history exactly once, whichever audit instance took it.
    await waitFor(
      "one CREATED event in the history of every user created while an audit instance was killed",
      async () => {
        for (const id of load.created.values()) {
          const history = await client.listUserHistory(id);
          if (!history.ok) return undefined;
          const createdEvents = history.data.events.filter((event) => event.type === "CREATED");
          assert.ok(createdEvents.length <= 1, `user ${id}: ${createdEvents.length} CREATED events`);
          if (createdEvents.length === 0) return undefined;
        }
        return true;
      },
      60_000,
      500,
    );
    await stack.startContainer("audit");
  });

  test("a rolling update of every container to a new version, one at a time: no request fails, each old one stops by itself within its drain timeout", async () => {
    const images = Object.fromEntries(
      (await buildImages(stack.engine, { version: "0.0.0-rolling" })).map((image) => [image.service, image.ref]),
    ) as Record<Service, string>;
    await underLoad("rolling update", async () => {
      for (const service of ["users", "audit", "gateway"] as const) {
        for (const old of byService(service)) {
          await stack.startContainer(service, images[service]);
          const stopped = await stack.stopContainer(old.name);
          timings.push(`rolling update: ${old.name} replaced, its docker stop took ${stopped.seconds.toFixed(1)} s`);
          assert.equal(stopped.exitCode, 0, `${old.name} drained and exited by itself on SIGTERM, not killed`);
        }
      }
    });
    for (const container of stack.containers.values()) assert.equal(container.image, images[container.service]);
    await stack.engine.run([
      "image",
      "rm",
      ...Object.values(images),
      ...SERVICES.map((s) => `charter/${s}:0.0.0-rolling`),
    ]);
  });

  test("one etcd member stopped and restarted: routing continues", async () => {
    const member = stack.etcd.members[0];
    assert.ok(member);
    await underLoad("etcd member restart", async () => {
      await member.kill("SIGTERM");
      await delay(2_000);
      await member.restart();
    });
    const views = await Promise.all(byService("gateway").map(gatewayInstances));
    for (const view of views) assert.equal(view.length, byService("users").length);
  });
});

test("Docker has no network beyond host and none", async () => {
  const networks = (await stack.engine.ok(["network", "ls", "--format", "{{.Name}}"])).split("\n").sort();
  assert.deepEqual(networks, ["host", "none"]);
});
