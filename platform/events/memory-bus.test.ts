import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "../../scripts/lib/processes.js";
import { busSpec } from "../../test/specs/bus-spec.js";
import type { IncomingMessage } from "./bus.js";
import { createMemoryBus } from "./memory-bus.js";

busSpec("in-process bus", { bus: async () => createMemoryBus() });

const TOPIC = "retention";
const send = (bus: ReturnType<typeof createMemoryBus>, from: number, count: number, topic = TOPIC) =>
  bus.producer().send(
    topic,
    Array.from({ length: count }, (_, i) => ({ key: "one-key", value: `m${from + i}` })),
  );

test("in-process bus: what every group has handled is dropped; a later group starts at the oldest kept", async () => {
  const bus = createMemoryBus({ defaultPartitions: 1, trimStep: 10 });
  await bus.ensureTopic(TOPIC, 1);
  const fast: IncomingMessage[] = [];
  const slow: IncomingMessage[] = [];
  let slowGate: () => void = () => {};
  let slowOpen = new Promise<void>((resolve) => {
    slowGate = resolve;
  });
  const a = bus.consumer({ groupId: "fast", topic: TOPIC });
  const b = bus.consumer({ groupId: "slow", topic: TOPIC });
  await a.start(async (m) => {
    fast.push(m);
  });
  await b.start(async (m) => {
    await slowOpen;
    slow.push(m);
  });
  await send(bus, 0, 25);
  await waitFor("the fast group to handle 25", () => (fast.length === 25 ? true : undefined));
  assert.equal(slow.length, 0);
  // Nothing is dropped while one group has not handled it: a group that starts now still sees every message.
  const early: IncomingMessage[] = [];
  const c = bus.consumer({ groupId: "early", topic: TOPIC });
  await c.start(async (m) => {
    early.push(m);
  });
  await waitFor("a new group to read from the first message", () => (early.length === 25 ? true : undefined));
  assert.equal(early[0]?.offset, "0");

  slowGate();
  slowOpen = Promise.resolve();
  await waitFor("the slow group to handle 25", () => (slow.length === 25 ? true : undefined));
  await c.stop();
  await a.stop();
  await b.stop();
  // Every group has handled offsets 0..24: they were dropped in steps of 10, so a new group starts at 20.
  const late: IncomingMessage[] = [];
  const d = bus.consumer({ groupId: "late", topic: TOPIC });
  await d.start(async (m) => {
    late.push(m);
  });
  await send(bus, 25, 1);
  await waitFor("the late group to reach the newest message", () => (late.at(-1)?.offset === "25" ? true : undefined));
  assert.deepEqual(
    late.map((m) => [m.offset, m.value?.toString()]),
    [
      ["20", "m20"],
      ["21", "m21"],
      ["22", "m22"],
      ["23", "m23"],
      ["24", "m24"],
      ["25", "m25"],
    ],
  );
  await d.stop();
  await bus.close();
});

test("in-process bus: the last member of a group handles what was sent before it leaves; another member need not", async () => {
  const bus = createMemoryBus({ defaultPartitions: 2, drainMs: 30_000 });
  await bus.ensureTopic(TOPIC, 2);
  const handled: string[] = [];
  const consumer = bus.consumer({ groupId: "audit", topic: TOPIC });
  await consumer.start(async (m) => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    handled.push(m.value?.toString() ?? "");
  });
  await send(bus, 0, 50);
  await consumer.stop(); // the process is about to end: nothing sent may be left unhandled
  assert.equal(handled.length, 50);

  // Not the last member: it leaves after the message in hand, and the other takes over the rest.
  const seen: string[] = [];
  const first = bus.consumer({ groupId: "pair", topic: "pair" });
  const second = bus.consumer({ groupId: "pair", topic: "pair" });
  let hold: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    hold = resolve;
  });
  await first.start(async (m) => {
    seen.push(m.value?.toString() ?? "");
  });
  await second.start(async (m) => {
    await held;
    seen.push(m.value?.toString() ?? "");
  });
  await send(bus, 100, 20, "pair");
  const leaving = Date.now();
  await first.stop();
  assert.ok(Date.now() - leaving < 5_000, "a member that is not the last does not wait for the group");
  hold();
  await waitFor("the remaining member to handle all 20", () => (new Set(seen).size === 20 ? true : undefined));
  await second.stop();
  await bus.close();
});
