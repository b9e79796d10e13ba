/**
 * What one PATCH costs the store: a REST PATCH through the real gateway process, over gRPC into the users
 * service (its use cases and gRPC handlers, in this process) on the MongoDB adapter and a MongoDB-compatible
 * server. The commands are counted on the wire, between the adapter and the server, and the store calls through
 * the timing decorator that feeds the charter_users_store_* metrics. An uncontended PATCH, with or without
 * If-Match, is one read and one conditional write; a stale If-Match or a missing user is one read and no write.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { UsersServiceService } from "../generated/proto/charter/users/v1/users.js";
import { authConfig } from "../platform/auth/auth-config.js";
import { createGrpcAuthorizer } from "../platform/auth/grpc-auth.js";
import { createTokenVerifier } from "../platform/auth/token-verifier.js";
import { envReader } from "../platform/config.js";
import { startGrpcServer } from "../platform/grpc-server.js";
import { createLogger } from "../platform/logging.js";
import { createSnowflake } from "../platform/snowflake.js";
import { type RunningServer, startMongo } from "../scripts/infra/index.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { createMemoryCache } from "../services/users/adapters/memory-cache.js";
import { createMongoUserStore } from "../services/users/adapters/mongo-user-store.js";
import { createTimedUserStore, type StoreOperation } from "../services/users/adapters/timed-user-store.js";
import { createUsersService } from "../services/users/app/users-service.js";
import type { UserStore } from "../services/users/domain/user-store.js";
import { createUsersGrpcHandlers } from "../services/users/transport/users-grpc.js";
import { startTestIssuer } from "./support/auth.js";
import { type MongoWireCounter, startMongoWireCounter } from "./support/mongo-wire-counter.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const READS = new Set(["find", "aggregate", "count", "distinct", "getMore"]);
const WRITES = new Set(["update", "findAndModify", "insert", "delete"]);

describe("the store round trips of one PATCH (gateway process → gRPC → users service → MongoDB)", () => {
  const logger = createLogger("users-patch-test", "silent");
  let mongo: RunningServer;
  let wire: MongoWireCounter;
  let store: UserStore;
  let stopGrpc: () => Promise<void> = async () => {};
  let gateway: ServiceProcess | undefined;
  let base = "";
  const calls: StoreOperation[] = [];

  before(async () => {
    mongo = await startMongo();
    wire = await startMongoWireCounter(mongo.url);
    store = createTimedUserStore(
      await createMongoUserStore({
        url: wire.url,
        connectTimeoutMs: 5_000,
        collection: `users_${randomUUID().replaceAll("-", "")}`,
      }),
      (operation) => calls.push(operation),
    );
    const service = createUsersService({
      store,
      cache: createMemoryCache({ ttlMs: 60_000, fenceTtlMs: 5_000 }),
      ids: createSnowflake(1),
      logger,
    });
    const grpc = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      services: [
        {
          definition: UsersServiceService,
          // The service checks the token the gateway passes on, against the same issuer.
          implementation: createUsersGrpcHandlers(
            service,
            logger,
            createGrpcAuthorizer(createTokenVerifier(authConfig(envReader(issuer.env)))),
          ),
        },
      ],
      reflect: ["charter/users/v1/users.proto"],
      logger,
    });
    grpc.setStatus("", "SERVING");
    stopGrpc = () => grpc.stop(1_000);
    gateway = await startService(
      "services/gateway/main.ts",
      {
        GATEWAY_PORT: "0",
        GATEWAY_HOST: "127.0.0.1",
        ...issuer.env,
        ...otherServicesOffline(),
        USERS_ADDR: `127.0.0.1:${grpc.port}`,
        ...LOAD_BUDGET,
      },
      "gateway ready",
    );
    base = `http://127.0.0.1:${gateway.ready.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await stopGrpc();
    await store?.close();
    await wire?.close();
    await mongo?.stop();
  });

  const create = async (): Promise<{ id: string; etag: string }> => {
    const response = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Ada Lovelace", email: `ada-${randomUUID()}@example.com` }),
    });
    assert.equal(response.status, 201);
    return (await response.json()) as { id: string; etag: string };
  };

  /** One PATCH of the name, and what it cost: the commands on the wire (reads, writes) and the store calls. */
  const patch = async (id: string, headers: Record<string, string> = {}) => {
    wire.reset();
    calls.length = 0;
    const response = await fetch(`${base}/v1/users/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json", authorization, ...headers },
      body: JSON.stringify({ name: "Ada King" }),
    });
    const body = (await response.json()) as { etag?: string };
    const commands = wire.commands();
    const unknown = commands.filter((c) => !READS.has(c.name) && !WRITES.has(c.name));
    assert.deepEqual(unknown, [], "every command is a read or a write");
    return {
      status: response.status,
      body,
      reads: commands.filter((c) => READS.has(c.name)).length,
      writes: commands.filter((c) => WRITES.has(c.name)).length,
      calls: [...calls],
    };
  };

  for (const [label, ifMatch] of [
    ["without If-Match", (_etag: string): Record<string, string> => ({})],
    ["with If-Match", (etag: string): Record<string, string> => ({ "if-match": `"${etag}"` })],
  ] as const) {
    test(`${label}: one read and one conditional write, one store call`, async () => {
      const user = await create();
      const cost = await patch(user.id, ifMatch(user.etag));
      assert.equal(cost.status, 200);
      assert.equal(cost.body.etag, "2");
      assert.ok(cost.reads <= 1, `${cost.reads} reads`);
      assert.ok(cost.writes <= 1, `${cost.writes} writes`);
      assert.equal(cost.writes, 1, "the change is written");
      assert.deepEqual(cost.calls, ["update"]);
    });
  }

  test("a stale If-Match or a missing user is known from the one read: no write", async () => {
    const user = await create();
    const stale = await patch(user.id, { "if-match": '"7"' });
    assert.equal(stale.status, 412);
    assert.deepEqual([stale.reads, stale.writes, stale.calls], [1, 0, ["update"]]);
    const missing = await patch("123456789");
    assert.equal(missing.status, 404);
    assert.deepEqual([missing.reads, missing.writes, missing.calls], [1, 0, ["update"]]);
  });
});
