/**
 * The behaviour every EventBus adapter must have, as one suite both the in-process bus and the Kafka adapter
 * run: ordered keys, competing consumers that share partitions and take over from a member that leaves,
 * at-least-once redelivery of a failing message without overtaking it, independent groups, committed offsets,
 * and batches (startBatch): in order, bounded, a failing batch redelivered whole, one commit after each.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { type EventBus, type EventConsumer, type IncomingMessage, RetryLater } from "../../platform/events/bus.js";
import { waitFor } from "../../scripts/lib/processes.js";

export interface BusSpecOptions {
  /** A bus for one test; the suite closes it. */
  readonly bus: () => Promise<EventBus>;
  /** How long a condition may take (a rebalance on a real broker takes seconds). */
  readonly deadlineMs?: number;
}

interface Received {
  readonly member: string;
  readonly key: string;
  readonly value: string;
  readonly partition: number;
}

const text = (message: IncomingMessage) => message.value?.toString("utf8") ?? "";

export function busSpec(name: string, options: BusSpecOptions): void {
  const deadline = options.deadlineMs ?? 10_000;

  describe(`${name}: the EventBus contract`, () => {
    async function withBus(run: (bus: EventBus, topic: string) => Promise<void>): Promise<void> {
      const bus = await options.bus();
      const topic = `spec-${randomUUID()}`;
      try {
        await bus.ensureTopic(topic, 4);
        await run(bus, topic);
      } finally {
        await bus.close();
      }
    }

    /** Starts a member of `group` that records what it handles into `into`. */
    async function member(
      bus: EventBus,
      topic: string,
      group: string,
      id: string,
      into: Received[],
      handle: (message: IncomingMessage) => Promise<void> = async () => {},
    ): Promise<EventConsumer> {
      const consumer = bus.consumer({ groupId: group, topic, clientId: id });
      await consumer.start(async (message) => {
        await handle(message);
        into.push({ member: id, key: message.key ?? "", value: text(message), partition: message.partition });
      });
      return consumer;
    }

    test("one key's messages go to one partition, in the order sent, with their headers", async () => {
      await withBus(async (bus, topic) => {
        const producer = bus.producer();
        const keys = ["a", "b", "c", "d", "e"];
        for (let round = 0; round < 10; round++) {
          await producer.send(
            topic,
            keys.map((key) => ({ key, value: `${key}-${round}`, headers: { ce_id: `${key}-${round}` } })),
          );
        }
        const seen: IncomingMessage[] = [];
        const consumer = bus.consumer({ groupId: `g-${randomUUID()}`, topic });
        await consumer.start(async (message) => {
          seen.push(message);
        });
        await waitFor("all 50 messages", () => (seen.length >= 50 ? true : undefined), deadline);
        await consumer.stop();
        await producer.close();
        for (const key of keys) {
          const mine = seen.filter((m) => m.key === key);
          assert.deepEqual(
            mine.map(text),
            Array.from({ length: 10 }, (_, round) => `${key}-${round}`),
          );
          assert.equal(new Set(mine.map((m) => m.partition)).size, 1, `${key} stays on one partition`);
          assert.ok(mine.every((m) => m.headers.ce_id === text(m) && m.topic === topic));
        }
      });
    });

    test("members of a group share the partitions; each message is handled once; a leaving member's share moves", async () => {
      await withBus(async (bus, topic) => {
        const group = `g-${randomUUID()}`;
        const received: Received[] = [];
        const members = [
          await member(bus, topic, group, "m1", received),
          await member(bus, topic, group, "m2", received),
          await member(bus, topic, group, "m3", received),
        ];
        const producer = bus.producer();
        const send = (from: number, to: number) =>
          producer.send(
            topic,
            Array.from({ length: to - from }, (_, i) => ({ key: `k${(from + i) % 16}`, value: String(from + i) })),
          );
        await send(0, 200);
        await waitFor(
          "the first 200",
          () => (new Set(received.map((r) => r.value)).size >= 200 ? true : undefined),
          deadline,
        );
        assert.ok(new Set(received.map((r) => r.member)).size >= 2, "more than one member took part");
        for (const partition of new Set(received.map((r) => r.partition))) {
          const owners = new Set(received.filter((r) => r.partition === partition).map((r) => r.member));
          assert.equal(owners.size, 1, `partition ${partition} had one owner while membership was stable`);
        }
        await members[0]?.stop();
        await send(200, 400);
        await waitFor(
          "all 400",
          () => (new Set(received.map((r) => r.value)).size >= 400 ? true : undefined),
          deadline,
        );
        const late = received.filter((r) => Number(r.value) >= 200);
        assert.ok(
          late.every((r) => r.member !== "m1"),
          "the member that left gets nothing more",
        );
        for (const other of members.slice(1)) await other?.stop();
        await producer.close();
      });
    });

    test("a failing message is delivered again and is not overtaken within its partition", async () => {
      await withBus(async (bus, topic) => {
        const received: Received[] = [];
        let failures = 0;
        const consumer = await member(bus, topic, `g-${randomUUID()}`, "m", received, async (message) => {
          if (text(message) === "x-1" && failures < 3) {
            failures += 1;
            throw new RetryLater("not now", 50);
          }
        });
        const producer = bus.producer();
        await producer.send(
          topic,
          ["x-0", "x-1", "x-2", "x-3"].map((value) => ({ key: "x", value })),
        );
        await waitFor("x-3", () => (received.some((r) => r.value === "x-3") ? true : undefined), deadline);
        assert.equal(failures, 3);
        assert.deepEqual(
          received.map((r) => r.value),
          ["x-0", "x-1", "x-2", "x-3"],
        );
        await consumer.stop();
        await producer.close();
      });
    });

    test("groups are independent, and a group resumes from its committed offsets", async () => {
      await withBus(async (bus, topic) => {
        const producer = bus.producer();
        await producer.send(
          topic,
          [1, 2, 3].map((n) => ({ key: `k${n}`, value: `first-${n}` })),
        );
        const one: Received[] = [];
        const two: Received[] = [];
        const groupOne = `g1-${randomUUID()}`;
        const a = await member(bus, topic, groupOne, "a", one);
        const b = await member(bus, topic, `g2-${randomUUID()}`, "b", two);
        await waitFor("both groups to see 3", () => (one.length >= 3 && two.length >= 3 ? true : undefined), deadline);
        await a.stop();
        await producer.send(
          topic,
          [1, 2, 3].map((n) => ({ key: `k${n}`, value: `second-${n}` })),
        );
        const again: Received[] = [];
        const c = await member(bus, topic, groupOne, "c", again);
        await waitFor("the second batch in group one", () => (again.length >= 3 ? true : undefined), deadline);
        assert.deepEqual(again.map((r) => r.value).sort(), ["second-1", "second-2", "second-3"]);
        await waitFor("group two to see 6", () => (two.length >= 6 ? true : undefined), deadline);
        await c.stop();
        await b.stop();
        await producer.close();
      });
    });

    test("startBatch: a partition's messages in order, in batches of at most maxBatchMessages; a failing batch comes again whole", async () => {
      await withBus(async (bus, topic) => {
        const producer = bus.producer();
        // Everything first, so that the consumer finds more than a batch waiting in each partition.
        for (const key of ["p", "q"]) {
          await producer.send(
            topic,
            Array.from({ length: 12 }, (_, i) => ({ key, value: `${key}-${i}` })),
          );
        }
        const batches: string[][] = [];
        let failed = false;
        const consumer = bus.consumer({ groupId: `g-${randomUUID()}`, topic, maxBatchMessages: 5 });
        await consumer.startBatch(async (messages) => {
          assert.equal(new Set(messages.map((m) => m.partition)).size, 1, "a batch holds one partition");
          const values = messages.map(text);
          if (!failed && values.includes("p-6")) {
            failed = true; // the batch holding p-6 fails once: it comes again, from its first message
            batches.push(["failed", ...values]);
            throw new RetryLater("not now", 50);
          }
          batches.push(values);
        });
        const done = () => batches.flat().filter((v) => v !== "failed").length;
        await waitFor("all 24 handled", () => (done() >= 24 ? true : undefined), deadline);
        await consumer.stop();
        await producer.close();
        assert.ok(
          batches.every((b) => b.filter((v) => v !== "failed").length <= 5),
          "no batch over maxBatchMessages",
        );
        const failedBatch = batches.find((b) => b[0] === "failed")?.slice(1) ?? [];
        const again = batches.find((b) => b[0] !== "failed" && b[0] === failedBatch[0]);
        assert.ok(again && again.length >= 1, "the failed batch came again from its first message");
        for (const key of ["p", "q"]) {
          const handled = batches
            .filter((b) => b[0] !== "failed")
            .flat()
            .filter((v) => v.startsWith(`${key}-`));
          assert.deepEqual(
            handled,
            Array.from({ length: 12 }, (_, i) => `${key}-${i}`),
            `${key}: each once, in order`,
          );
        }
      });
    });

    test("startBatch: a group resumes after the last batch it finished", async () => {
      await withBus(async (bus, topic) => {
        const producer = bus.producer();
        const group = `g-${randomUUID()}`;
        await producer.send(
          topic,
          Array.from({ length: 7 }, (_, i) => ({ key: "r", value: `first-${i}` })),
        );
        const first: string[] = [];
        const a = bus.consumer({ groupId: group, topic, maxBatchMessages: 3 });
        await a.startBatch(async (messages) => {
          first.push(...messages.map(text));
        });
        await waitFor("the first 7", () => (first.length >= 7 ? true : undefined), deadline);
        await a.stop();
        await producer.send(
          topic,
          Array.from({ length: 4 }, (_, i) => ({ key: "r", value: `second-${i}` })),
        );
        const second: string[] = [];
        const b = bus.consumer({ groupId: group, topic });
        await b.startBatch(async (messages) => {
          second.push(...messages.map(text));
        });
        await waitFor("the second 4", () => (second.length >= 4 ? true : undefined), deadline);
        await b.stop();
        await producer.close();
        assert.deepEqual(
          second,
          Array.from({ length: 4 }, (_, i) => `second-${i}`),
          "nothing handled again",
        );
      });
    });
  });
}
