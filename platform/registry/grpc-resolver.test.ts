import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { type RunningServer, startEtcd } from "../../scripts/infra/index.js";
import { captureLogs, waitFor } from "../../test/support/registry.js";
import { createEtcdDiscovery, type EtcdDiscovery } from "./etcd-discovery.js";
import { createEtcdRegistrar, type EtcdRegistrar } from "./etcd-registrar.js";
import { registerEtcdResolver } from "./grpc-resolver.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// A one-method service on raw bytes: the answer is the name of the server that took the call.
const METHOD = "/charter.test.v1.Whoami/Name";
const identity = (buffer: Buffer) => buffer;
const whoami: ServiceDefinition = {
  Name: {
    path: METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function startNamedServer(name: string): Promise<{ port: number; calls: () => number }> {
  const server = new Server();
  let calls = 0;
  server.addService(whoami, {
    Name: (_call: unknown, callback: (error: null, response: Buffer) => void) => {
      calls += 1;
      callback(null, Buffer.from(name));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  return { port, calls: () => calls };
}

function callName(client: Client, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      METHOD,
      identity,
      identity,
      Buffer.alloc(0),
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null, response?: Buffer) => (error ? reject(error) : resolve(response?.toString() ?? "")),
    ),
  );
}

function register(etcd: RunningServer, service: string, id: string, port: number): EtcdRegistrar {
  const registrar = createEtcdRegistrar({
    endpoints: [etcd.url],
    service,
    instanceId: id,
    value: { address: `127.0.0.1:${port}`, version: "1", zone: "z", startedAt: new Date().toISOString() },
    leaseTtlSeconds: 2,
    logger: captureLogs("warn").logger,
  });
  cleanups.push(() => registrar.stop());
  return registrar;
}

describe("etcd:/// grpc-js resolver", () => {
  test("round-robin over the registered instances; a deregistered one gets no more calls", async () => {
    const etcd = await startEtcd();
    cleanups.push(() => etcd.stop());
    const one = await startNamedServer("one");
    const two = await startNamedServer("two");
    const registrarOne = register(etcd, "whoami", "one", one.port);
    await registrarOne.start();
    await register(etcd, "whoami", "two", two.port).start();

    const logs = captureLogs("warn");
    const registration = registerEtcdResolver({ endpoints: [etcd.url], logger: logs.logger });
    cleanups.push(() => registration.stop());
    const client = new Client("etcd:///whoami", credentials.createInsecure());
    cleanups.push(() => client.close());

    // Both instances answer once the channel has connected to both.
    const seen = new Set<string>();
    await waitFor("calls on both instances", async () => seen.add(await callName(client)).size === 2, {
      timeoutMs: 15_000,
      intervalMs: 10,
    });
    const counts = { one: 0, two: 0 };
    for (let i = 0; i < 40; i++) counts[(await callName(client)) as keyof typeof counts] += 1;
    assert.deepEqual(counts, { one: 20, two: 20 }, "round_robin alternates between two ready instances");
    assert.equal(one.calls() + two.calls() >= 42, true);

    // Instance one deregisters (its server still runs): once discovery drops it, calls go to two only.
    await registrarOne.stop();
    await waitFor("discovery to drop instance one", () => registration.discovery("whoami")?.endpoints().length === 1, {
      timeoutMs: 10_000,
    });
    const before = one.calls();
    const after40: string[] = [];
    for (let i = 0; i < 40; i++) after40.push(await callName(client));
    assert.deepEqual(new Set(after40), new Set(["two"]));
    assert.equal(one.calls(), before, "instance one took no call after it was dropped");
  });

  test("no instances: calls fail at their deadline, without a re-resolution loop; a new instance gets calls", async () => {
    const etcd = await startEtcd();
    cleanups.push(() => etcd.stop());
    const logs = captureLogs("warn");
    let reads = 0;
    let discovery: EtcdDiscovery | undefined;
    const registration = registerEtcdResolver({
      logger: logs.logger,
      discovery: (service) => {
        const inner = createEtcdDiscovery({ endpoints: [etcd.url], service, logger: logs.logger });
        discovery = inner;
        return {
          ...inner,
          endpoints: () => {
            reads += 1;
            return inner.endpoints();
          },
        };
      },
    });
    cleanups.push(() => registration.stop());
    const client = new Client("etcd:///empty", credentials.createInsecure());
    cleanups.push(() => client.close());

    for (let i = 0; i < 3; i++) {
      await assert.rejects(callName(client, 300), (error: ServiceError) => {
        assert.ok([status.DEADLINE_EXCEEDED, status.UNAVAILABLE].includes(error.code), String(error));
        return true;
      });
    }
    assert.ok(discovery?.state().synced);
    assert.ok(reads <= 2, `the resolver read the list ${reads} times for an unchanged empty list`);

    const late = await startNamedServer("late");
    await register(etcd, "empty", "late", late.port).start();
    assert.equal(await callName(client, 10_000), "late");
  });
});
