/**
 * 10,000 writes while the event path is disturbed, on real Kafka and a real MongoDB-compatible store: two users
 * instances share the store (both relays compete for the outbox), three audit instances share the consumer
 * group and the history. Mid-way one audit instance is SIGKILLed and one users instance (its relay with it) is
 * SIGKILLed and started again. Afterwards every change is in the history exactly once, each user's events were
 * recorded in version order, and nothing went to the dead-letter topic. The broker is secured as in
 * `npm run start:cluster` (test/support/secured-kafka.ts): every client logs in over SASL_SSL with SCRAM-SHA-256.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { userEventChannels } from "../generated/asyncapi/users-events.js";
import { createLogger } from "../platform/logging.js";
import { type RunningServer, startMongo } from "../scripts/infra/index.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { createUsersBackend } from "../services/gateway/adapters/users-backend.js";
import type { UsersBackend } from "../services/gateway/app/backends.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
import { type SecuredKafka, startSecuredKafka } from "./support/secured-kafka.js";

const USERS = 500;
const WRITES_PER_USER = 20; // one create, then 19 updates: 10,000 writes
const CONCURRENCY = 16;
const DRAIN_DEADLINE_MS = 180_000;

let kafka: SecuredKafka;
let mongo: RunningServer;
const audits: ServiceProcess[] = [];
let usersA: ServiceProcess;
let usersB: ServiceProcess;
/** The issuer the services trust: every write brings one of its tokens. */
let issuer: TestIssuer;
let authorization = "";

const usersEnv = (instance: string) => ({
  ...kafka.env("users"),
  ...issuer.env,
  MONGO_URL: mongo.url,
  USERS_HOST: "127.0.0.1",
  USERS_GRPC_PORT: "0",
  USERS_METRICS_PORT: "0",
  USERS_INSTANCE_ID: instance,
  USERS_WORKER_ID: instance === "users-a" ? "1" : "2",
  OUTBOX_LEASE_MS: "2000",
  OUTBOX_POLL_INTERVAL_MS: "50",
});
const startUsersInstance = (instance: string) =>
  startService("services/users/main.ts", usersEnv(instance), "users service ready", 60_000);
const startAuditInstance = (n: number) =>
  startService(
    "services/audit/main.ts",
    {
      ...kafka.env("audit"),
      ...issuer.env,
      MONGO_URL: mongo.url,
      AUDIT_HOST: "127.0.0.1",
      AUDIT_GRPC_PORT: "0",
      AUDIT_METRICS_PORT: "0",
      AUDIT_INSTANCE_ID: `audit-${n}`,
      AUDIT_RETRY_DELAY_MS: "100",
    },
    "audit service ready",
    60_000,
  );

before(async () => {
  [kafka, mongo, issuer] = await Promise.all([startSecuredKafka(), startMongo(), startTestIssuer()]);
  authorization = await issuer.bearer();
  [usersA, usersB] = await Promise.all([startUsersInstance("users-a"), startUsersInstance("users-b")]);
  audits.push(...(await Promise.all([1, 2, 3].map(startAuditInstance))));
});

after(async () => {
  await Promise.all([usersA?.stop(), usersB?.stop(), ...audits.map((a) => a.stop())]);
  await Promise.all([kafka?.stop(), mongo?.stop(), issuer?.close()]);
});

/** Runs `count` tasks, `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe("user events under chaos", () => {
  test("10,000 writes, an audit instance killed, a users relay restarted: every change once, in order, no dead letters", async () => {
    const client: UsersBackend = createUsersBackend({
      target: `127.0.0.1:${usersA.ready.grpcPort}`,
      deadlineMs: 10_000,
      logger: createLogger("test", "warn"),
    });
    const ids: string[] = [];
    try {
      await pool(USERS, CONCURRENCY, async (i) => {
        const created = await client.createUser(
          {
            user: {
              id: "",
              etag: "",
              name: `Chaos ${i}`,
              email: `chaos-${i}@example.com`,
              createTime: undefined,
              updateTime: undefined,
            },
            requestId: "",
          },
          { authorization },
        );
        ids[i] = created.user?.id ?? "";
      });
      let writes = USERS;
      const disturbances = [
        { at: 3_000, run: () => audits[0]?.signal("SIGKILL") },
        {
          at: 5_000,
          run: async () => {
            usersB.signal("SIGKILL");
            await usersB.exited;
            usersB = await startUsersInstance("users-b2");
          },
        },
      ];
      await pool(USERS * (WRITES_PER_USER - 1), CONCURRENCY, async (n) => {
        const i = n % USERS;
        const round = Math.floor(n / USERS) + 1;
        await client.updateUser(
          {
            user: {
              id: ids[i] as string,
              etag: "",
              name: `Chaos ${i} v${round + 1}`,
              email: "",
              createTime: undefined,
              updateTime: undefined,
            },
            updateMask: ["name"],
          },
          { authorization },
        );
        writes += 1;
        for (const disturbance of disturbances.splice(0)) {
          if (writes >= disturbance.at) await disturbance.run();
          else disturbances.push(disturbance);
        }
      });
      assert.equal(writes, USERS * WRITES_PER_USER);
      assert.equal(disturbances.length, 0, "both disturbances happened during the writes");
      assert.equal(await audits[0]?.exited, null, "the first audit instance was killed");
      assert.equal(usersB.ready.instanceId, "users-b2", "the second users instance was restarted");
    } catch (error) {
      // The service's side of a failed write: its error lines (the cause is logged there, never sent).
      const errors = usersA.output.filter((line) => /"level":"(error|fatal)"|UNAVAILABLE/.test(line)).slice(-5);
      const store = mongo
        .output()
        .filter((line) => !/^\s+at /.test(line))
        .slice(-15)
        .join("\n");
      throw new Error(
        `${(error as Error).message}; users-a logged:\n${errors.join("\n")}\nthe store printed:\n${store}`,
        {
          cause: error,
        },
      );
    } finally {
      client.close();
    }

    const db = new MongoClient(mongo.url);
    try {
      const history = db
        .db()
        .collection<{ _id: string; userId: string; version: number; recordedAt: Date }>("user_history");
      const total = await waitFor(
        "every change in the history",
        async () => {
          const count = await history.countDocuments({});
          return count >= USERS * WRITES_PER_USER ? count : undefined;
        },
        DRAIN_DEADLINE_MS,
        500,
      );
      assert.equal(total, USERS * WRITES_PER_USER, "exactly once: no more entries than changes");
      const entries = await history.find({}).sort({ recordedAt: 1, version: 1 }).toArray();
      const byUser = new Map<string, number[]>();
      for (const entry of entries) byUser.set(entry.userId, [...(byUser.get(entry.userId) ?? []), entry.version]);
      assert.equal(byUser.size, USERS);
      const expected = Array.from({ length: WRITES_PER_USER }, (_, v) => v + 1);
      for (const id of ids) assert.deepEqual(byUser.get(id), expected, `user ${id}'s events in version order`);
    } finally {
      await db.close();
    }

    const admin = new Kafka({ brokers: [kafka.url], ...kafka.kafkajs, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (topics.includes(userEventChannels.userEventsDeadLetter)) {
        const offsets = await admin.fetchTopicOffsets(userEventChannels.userEventsDeadLetter);
        assert.equal(
          offsets.reduce((sum, p) => sum + Number(p.high), 0),
          0,
          "nothing in the dead-letter topic",
        );
      }
    } finally {
      await admin.disconnect();
    }
  });
});
