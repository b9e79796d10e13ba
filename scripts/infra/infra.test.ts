import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { type Admin, Kafka, logLevel, Partitioners } from "kafkajs";
import { MongoClient, MongoServerError } from "mongodb";
import { type RunningServer, startEtcd, startKafka, startMongo, startRedis } from "./index.js";

const started: RunningServer[] = [];
after(() => Promise.all(started.map((server) => server.stop())));
async function track(starting: Promise<RunningServer>): Promise<RunningServer> {
  const server = await starting;
  started.push(server);
  return server;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

describe("redis", () => {
  test("set/get; persist: SIGKILL + restart on the same port keeps the SAVE, SIGTERM saves, wipe forgets", async () => {
    const redis = await track(startRedis({ persist: true }));
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await client.set("greeting", "hello");
    assert.equal(await client.get("greeting"), "hello");
    await client.save();
    client.disconnect();

    await redis.kill();
    assert.equal(await accepts(redis.port), false, "down after kill");
    await redis.restart();
    const again = new Redis(redis.url);
    assert.equal(await again.get("greeting"), "hello", "the snapshot was loaded again");
    again.disconnect();

    await redis.restart({ wipe: true });
    const wiped = new Redis(redis.url);
    assert.equal(await wiped.get("greeting"), null);
    await wiped.set("greeting", "again");
    wiped.disconnect();

    await redis.restart(); // graceful: SIGTERM saves
    const graceful = new Redis(redis.url);
    assert.equal(await graceful.get("greeting"), "again");
    graceful.disconnect();
  });

  test("without persist a graceful restart comes back empty; stop removes the data dir and is idempotent", async () => {
    const redis = await track(startRedis());
    const client = new Redis(redis.url);
    await client.set("k", "v");
    client.disconnect();
    await redis.restart();
    const again = new Redis(redis.url);
    assert.equal(await again.get("k"), null);
    again.disconnect();
    await Promise.all([redis.stop(), redis.stop()]);
    await redis.stop();
    assert.equal(existsSync(redis.dataDir), false);
    assert.equal(await accepts(redis.port), false);
    await assert.rejects(redis.restart(), /stopped/);
  });
});

describe("etcd", () => {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const call = async (url: string, path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as { kvs?: { value: string }[]; header: { revision: string } };
  };
  const read = async (url: string, key: string) => {
    const kv = (await call(url, "/v3/kv/range", { key: b64(key) })).kvs?.[0];
    return kv && Buffer.from(kv.value, "base64").toString();
  };

  test("health, put/range over the v3 JSON gateway; data survives SIGKILL, not a wipe", async () => {
    const etcd = await track(startEtcd());
    assert.deepEqual(await (await fetch(`${etcd.url}/health`)).json(), { health: "true" });
    await call(etcd.url, "/v3/kv/put", { key: b64("/services/users/1"), value: b64("127.0.0.1:50051") });
    assert.equal(await read(etcd.url, "/services/users/1"), "127.0.0.1:50051");

    await etcd.kill();
    await etcd.restart();
    assert.equal(await read(etcd.url, "/services/users/1"), "127.0.0.1:50051");

    await etcd.restart({ wipe: true });
    assert.equal(await read(etcd.url, "/services/users/1"), undefined);
  });
});

describe("mongo", () => {
  test("insert/find; a unique index on a lower-cased field gives 11000; restart comes back empty", async () => {
    const mongo = await track(startMongo());
    assert.equal(mongo.url, `mongodb://127.0.0.1:${mongo.port}/charter`);
    const client = await MongoClient.connect(mongo.url, { serverSelectionTimeoutMS: 5_000 });
    try {
      const users = client.db().collection("users");
      await users.createIndex({ emailLower: 1 }, { unique: true });
      await users.insertOne({ _id: "u1" as never, email: "Ada@Example.com", emailLower: "ada@example.com" });
      assert.deepEqual(await users.findOne({ emailLower: "ada@example.com" }, { projection: { _id: 1 } }), {
        _id: "u1",
      });
      const duplicate = await users.insertOne({ email: "ADA@example.com", emailLower: "ada@example.com" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(duplicate instanceof MongoServerError, String(duplicate));
      assert.equal(duplicate.code, 11000);

      // Known limitation of mongo-java-server 1.47: a collation is stored with the index but not enforced.
      const byCollation = client.db().collection("byCollation");
      await byCollation.createIndex({ email: 1 }, { unique: true, collation: { locale: "en", strength: 2 } });
      await byCollation.insertMany([{ email: "Ada@Example.com" }, { email: "ada@example.com" }]);
    } finally {
      await client.close();
    }

    await mongo.kill();
    await mongo.restart(); // in-memory backend: nothing survives, but the port is the same
    const fresh = await MongoClient.connect(mongo.url, { serverSelectionTimeoutMS: 5_000 });
    try {
      assert.equal(await fresh.db().collection("users").countDocuments(), 0);
    } finally {
      await fresh.close();
    }
  });
});

describe("kafka", () => {
  const topic = "infra.test.greetings";
  const client = (url: string) =>
    new Kafka({
      clientId: "infra-test",
      brokers: [url],
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 10 },
    });
  /** The first `count` messages of the topic, read by a new member of `groupId` that commits what it read. */
  async function consume(kafka: Kafka, groupId: string, count: number) {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    const seen: { key: string | undefined; value: string | undefined; type: string | undefined; offset: string }[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              seen.push({
                key: message.key?.toString(),
                value: message.value?.toString(),
                type: message.headers?.ce_type?.toString(),
                offset: message.offset,
              });
              await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
              if (seen.length >= count) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }
  const committed = async (admin: Admin, groupId: string) =>
    (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.map((p) => p.offset);

  test("create a topic, produce and consume; topics, messages and committed offsets survive SIGKILL + restart, not a wipe", async () => {
    const started = performance.now();
    const server = await track(startKafka());
    const startMs = performance.now() - started;
    assert.equal(server.url, `127.0.0.1:${server.port}`);
    const kafka = client(server.url);
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
      const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: "u1", value: "hello", headers: { ce_type: "charter.test.Greeting" } }],
      });
      await producer.disconnect();
      assert.deepEqual(await consume(kafka, "readers", 1), [
        { key: "u1", value: "hello", type: "charter.test.Greeting", offset: "0" },
      ]);
      assert.deepEqual(await committed(admin, "readers"), ["1"]);
      await admin.disconnect();

      const killed = performance.now();
      await server.kill();
      assert.equal(await accepts(server.port), false, "down after kill");
      await server.restart();
      const restartMs = performance.now() - killed;
      await admin.connect();
      assert.ok((await admin.listTopics()).includes(topic), "the topic is still there");
      assert.deepEqual(await committed(admin, "readers"), ["1"], "the group's offset is still there");
      assert.deepEqual(
        (await consume(kafka, "late-readers", 1)).map((m) => m.value),
        ["hello"],
        "the message is still there",
      );

      await admin.disconnect();
      await server.restart({ wipe: true });
      await admin.connect();
      assert.equal((await admin.listTopics()).includes(topic), false, "a wipe starts a new cluster");
      console.log(`kafka: ready in ${Math.round(startMs)} ms, SIGKILL + restart in ${Math.round(restartMs)} ms`);
    } finally {
      await admin.disconnect();
    }
  });
});
