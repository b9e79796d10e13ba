/**
 * The service host on real sockets (127.0.0.1): a build binds nothing and starts nothing; listen() serves the
 * declared service with grpc.health.v1 and reflection, and the metrics endpoint; stop() runs its steps in reverse
 * of the start, bounded, and still runs the later steps when one fails; a part that fails to start stops the
 * parts already started. The service served is a one-method echo from a proto written for the test.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { freePorts } from "../scripts/infra/index.js";
import { waitFor } from "../scripts/lib/processes.js";
import { createLogger } from "./logging.js";
import { createMetricsRegistry } from "./metrics.js";
import type { RegistrationConfig } from "./registry/registry-config.js";
import { createServiceHost, type GrpcHosting, type Resource, type Worker } from "./service-host.js";

const require = createRequire(import.meta.url);
const logger = createLogger("host-test", "silent");
const dir = mkdtempSync(join(tmpdir(), "service-host-"));
const echoProto = join(dir, "echo.proto");
writeFileSync(
  echoProto,
  `syntax = "proto3";
package hosttest.v1;
service Echo { rpc Say(Text) returns (Text); }
message Text { string text = 1; }
`,
);
const ECHO = "hosttest.v1.Echo";
const options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };
// biome-ignore lint/suspicious/noExplicitAny: loaded at run time from the protos
type Dynamic = any;
const echo: Dynamic = grpc.loadPackageDefinition(loadSync(echoProto, options));
const health: Dynamic = grpc.loadPackageDefinition(
  loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), options),
);
const reflection: Dynamic = grpc.loadPackageDefinition(
  loadSync(
    fileURLToPath(
      new URL("../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto", import.meta.url),
    ),
    options,
  ),
);

const clients: grpc.Client[] = [];
after(() => {
  for (const client of clients) client.close();
});
const deadline = () => ({ deadline: Date.now() + 2_000 });

/** Echo, health and reflection calls to `port`, as any gRPC client would make them. */
function dial(port: number) {
  const address = `127.0.0.1:${port}`;
  const credentials = grpc.credentials.createInsecure();
  // Connections of their own: grpc-js otherwise shares them, with their backoff after a refused connection.
  const own = { "grpc.use_local_subchannel_pool": 1 };
  const echoClient = new echo.hosttest.v1.Echo(address, credentials, own);
  const healthClient = new health.grpc.health.v1.Health(address, credentials, own);
  const reflectionClient = new reflection.grpc.reflection.v1.ServerReflection(address, credentials, own);
  clients.push(echoClient, healthClient, reflectionClient);
  const unary = (client: Dynamic, method: string, request: object) =>
    new Promise<Dynamic>((resolve, reject) =>
      client[method](request, deadline(), (error: grpc.ServiceError | null, response: Dynamic) =>
        error ? reject(error) : resolve(response),
      ),
    );
  return {
    say: async (text: string): Promise<string> => (await unary(echoClient, "say", { text })).text,
    health: async (service = ""): Promise<string> => (await unary(healthClient, "check", { service })).status,
    listServices: () =>
      new Promise<string[]>((resolve, reject) => {
        const stream = reflectionClient.serverReflectionInfo(deadline());
        stream.on("data", (response: Dynamic) => {
          resolve(response.listServicesResponse.service.map((s: { name: string }) => s.name));
          stream.end();
        });
        stream.on("error", reject);
        stream.write({ listServices: "" });
      }),
  };
}

/** Whether nothing listens on 127.0.0.1:port: we can bind it ourselves. */
const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

const noRegistry: RegistrationConfig = {
  etcdEndpoints: [],
  instanceId: "host-test-1",
  advertiseAddr: undefined,
  zone: "local",
  leaseTtlSeconds: 5,
  drainMs: 0,
};

function hosting(overrides: Partial<GrpcHosting> = {}): GrpcHosting {
  return {
    host: "127.0.0.1",
    port: 0,
    metricsPort: 0,
    services: [
      {
        definition: echo.hosttest.v1.Echo.service,
        implementation: {
          say: (call: Dynamic, callback: grpc.sendUnaryData<Dynamic>) => callback(null, { text: call.request.text }),
        },
        proto: echoProto,
      },
    ],
    shutdownTimeoutMs: 1_000,
    registration: noRegistry,
    health: { dependency: "test store", ping: async () => {}, intervalMs: 1_000, names: [ECHO] },
    ...overrides,
  };
}

/** A worker and a resource that note what happens to them in `events`. */
const worker = (events: string[], name: string, parts: Partial<Worker> = {}): Worker => ({
  name,
  start: () => events.push(`start ${name}`),
  stop: () => events.push(`stop ${name}`),
  ...parts,
});
const resource = (events: string[], name: string): Resource => ({ name, close: () => events.push(`close ${name}`) });

test("a build binds no port and starts nothing; stop() then closes the resources", async () => {
  const [grpcPort = 0, metricsPort = 0] = await freePorts(2);
  const events: string[] = [];
  const host = createServiceHost({
    name: "hosttest",
    logger,
    metrics: createMetricsRegistry("hosttest"),
    grpc: hosting({ port: grpcPort, metricsPort }),
    workers: [worker(events, "relay")],
    resources: [resource(events, "store"), resource(events, "cache")],
  });
  assert.deepEqual(host.services, [ECHO]);
  assert.equal(host.health(""), "NOT_SERVING", "the server's own entry, until the health loop runs");
  assert.equal(host.health(ECHO), undefined);
  assert.equal(await isFree(grpcPort), true, "the gRPC port is not bound");
  assert.equal(await isFree(metricsPort), true, "the metrics port is not bound");
  assert.deepEqual(events, [], "no worker started");
  await host.stop();
  assert.deepEqual(events, ["close cache", "close store"]);
  await assert.rejects(host.listen(), /stopped/);
});

test("listen() serves the service with health and reflection, the metrics endpoint, and health follows the dependency", async () => {
  let storeUp = true;
  const host = createServiceHost({
    name: "hosttest",
    logger,
    metrics: createMetricsRegistry("hosttest"),
    grpc: hosting({
      health: {
        dependency: "test store",
        ping: async () => {
          if (!storeUp) throw new Error("down");
        },
        intervalMs: 50,
        names: [ECHO],
        checks: [{ name: `${ECHO}/cache`, up: () => false }],
      },
    }),
  });
  const listening = await host.listen();
  try {
    assert.equal(listening.address, `127.0.0.1:${listening.grpcPort}`);
    assert.equal(listening.metricsAddress, `127.0.0.1:${listening.metricsPort}`);
    assert.equal(listening.registers, false, "no etcd endpoints: no registration");
    const client = dial(listening.grpcPort);
    assert.equal(await client.say("hello"), "hello");
    assert.equal(await client.health(), "SERVING");
    assert.equal(await client.health(ECHO), "SERVING");
    assert.equal(await client.health(`${ECHO}/cache`), "NOT_SERVING", "a check of its own");
    assert.ok((await client.listServices()).includes(ECHO));
    const metrics = await (await fetch(`http://127.0.0.1:${listening.metricsPort}/metrics`)).text();
    assert.match(metrics, /^charter_hosttest_registry_enabled\{service="hosttest"\} 0$/m);
    assert.match(metrics, /^charter_hosttest_registered\{service="hosttest"\} 0$/m);

    storeUp = false;
    await waitFor("NOT_SERVING while the store is down", async () =>
      (await client.health()) === "NOT_SERVING" && (await client.health(ECHO)) === "NOT_SERVING" ? true : undefined,
    );
    assert.equal(host.health(ECHO), "NOT_SERVING");
    storeUp = true;
    await waitFor("SERVING again", async () => ((await client.health()) === "SERVING" ? true : undefined));
  } finally {
    await host.stop();
  }
  assert.equal(await isFree(listening.grpcPort), true, "the gRPC port is released");
  assert.equal(await isFree(listening.metricsPort), true, "the metrics port is released");
  await assert.rejects(host.listen(), /stopped/);
});

test("stop() runs the steps in reverse of the start, bounded, and still runs the later ones when one fails", async () => {
  const [grpcPort = 0, metricsPort = 0] = await freePorts(2);
  const events: string[] = [];
  const metricsServed = () =>
    fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
      (response) => response.ok,
      () => false,
    );
  // A new client for each probe: an old one may still be backing off from a refused connection.
  const grpcServing = () =>
    dial(grpcPort)
      .say("still there?")
      .then(
        () => true,
        () => false,
      );
  const host = createServiceHost({
    name: "hosttest",
    logger,
    metrics: createMetricsRegistry("hosttest"),
    grpc: hosting({ port: grpcPort, metricsPort }),
    stepTimeoutMs: 500,
    workers: [
      worker(events, "lease"),
      worker(events, "consumer", {
        stop: () => {
          events.push("stop consumer");
          throw new Error("the broker went away");
        },
      }),
      worker(events, "hanging", {
        stop: () => {
          events.push("stop hanging");
          return new Promise(() => {});
        },
      }),
      worker(events, "relay", {
        // Workers start after the metrics endpoint and before the gRPC server, and stop in between too.
        start: async () => events.push(`start relay: metrics ${await metricsServed()}, gRPC ${await grpcServing()}`),
        stop: async () => events.push(`stop relay: metrics ${await metricsServed()}, gRPC ${await grpcServing()}`),
      }),
    ],
    resources: [resource(events, "store"), resource(events, "cache")],
  });
  await host.listen();
  assert.equal(await dial(grpcPort).health(), "SERVING");
  events.push("listening");
  const stopped = host.stop();
  assert.equal(host.stop(), stopped, "stop() is idempotent");
  await assert.rejects(stopped, (error: AggregateError) => {
    assert.ok(error instanceof AggregateError);
    assert.deepEqual(
      error.errors.map((e: Error) => e.message),
      ["hanging: did not finish within 500 ms", "consumer: the broker went away"],
    );
    assert.match(error.message, /2 stop step\(s\) failed/);
    return true;
  });
  assert.deepEqual(events, [
    "start lease",
    "start consumer",
    "start hanging",
    "start relay: metrics true, gRPC false",
    "listening",
    "stop relay: metrics true, gRPC false",
    "stop hanging",
    "stop consumer",
    "stop lease",
    "close cache",
    "close store",
  ]);
  assert.equal(await metricsServed(), false, "the metrics endpoint stopped after the workers");
});

test("a part that fails to start stops the parts already started and closes the resources", async () => {
  const events: string[] = [];
  const [metricsPort = 0] = await freePorts(1);
  const host = createServiceHost({
    name: "hosttest",
    logger,
    metrics: createMetricsRegistry("hosttest"),
    grpc: hosting({ metricsPort }),
    workers: [
      worker(events, "lease"),
      worker(events, "consumer", {
        start: () => {
          events.push("start consumer");
          throw new Error("no broker answers");
        },
      }),
      worker(events, "relay"),
    ],
    resources: [resource(events, "store")],
  });
  await assert.rejects(host.listen(), /^Error: no broker answers$/);
  assert.deepEqual(events, ["start lease", "start consumer", "stop lease", "close store"]);
  assert.equal(await isFree(metricsPort), true, "the metrics endpoint is stopped");
  await host.stop();
  assert.equal(events.length, 4, "nothing is stopped twice");

  // The host's own part: a gRPC port in use.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const { port } = taken.address() as { port: number };
  const later: string[] = [];
  const busy = createServiceHost({
    name: "hosttest",
    logger,
    metrics: createMetricsRegistry("hosttest"),
    grpc: hosting({ port }),
    workers: [worker(later, "relay")],
    resources: [resource(later, "store")],
  });
  try {
    await assert.rejects(busy.listen(), /^Error: cannot listen on 127\.0\.0\.1:\d+: address already in use$/);
  } finally {
    taken.close();
  }
  assert.deepEqual(later, ["start relay", "stop relay", "close store"]);
});
