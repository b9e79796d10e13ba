/**
 * The stats reader when the broker cannot be reached: it is never fatal. start() resolves at once, the reader is 0
 * in `charter_audit_stats_reader_up` and GetUserStats has nothing to serve while it cannot join, and it joins again
 * by itself, then reads the topic from its beginning. The in-process bus stands for the broker; the first joins
 * fail as kafkajs' would with no broker listening.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import type { EventBus } from "../../../platform/events/bus.js";
import { createMemoryBus } from "../../../platform/events/memory-bus.js";
import { createLogger } from "../../../platform/logging.js";
import { waitFor } from "../../../scripts/lib/processes.js";
import { createMemoryLatestStats } from "../adapters/memory-latest-stats.js";
import { createStatsReader } from "./stats-reader.js";

const START = "2026-01-15T09:30:00Z";
const RECORD = {
  windowStart: START,
  windowEnd: "2026-01-15T09:31:00Z",
  created: 1,
  updated: 0,
  deleted: 0,
  liveUsers: 1,
  lateEvents: 0,
};

/** The bus, with its first `failures` joins refused as a broker that does not answer refuses them. */
function unreachableAtFirst(bus: EventBus, failures: number): EventBus & { joins: () => number } {
  let joins = 0;
  return {
    ...bus,
    consumer(opts) {
      const consumer = bus.consumer(opts);
      return {
        ...consumer,
        async startBatch(handler) {
          joins += 1;
          if (joins <= failures) throw new Error("KafkaJSConnectionError: Connection error: connect ECONNREFUSED");
          return consumer.startBatch(handler);
        },
      };
    },
    joins: () => joins,
  };
}

test("a reader that cannot join is down, not dead: it joins again by itself and reads the topic from its beginning", async () => {
  const memory = createMemoryBus();
  const bus = unreachableAtFirst(memory, 2);
  const producer = memory.producer();
  await producer.send(userEventChannels.userStats, [{ key: START, value: JSON.stringify(RECORD) }]);
  const metrics = new Registry();
  const up = async () => (await metrics.getSingleMetric("charter_audit_stats_reader_up")?.get())?.values[0]?.value;
  const store = createMemoryLatestStats();
  const reader = createStatsReader({
    bus,
    store,
    groupId: "charter-audit-stats-test",
    clientId: "test",
    logger: createLogger("audit", "silent"),
    metrics,
    retryDelayMs: 10,
  });
  try {
    await reader.start();
    assert.equal(await up(), 0);
    assert.equal(store.latest(), undefined);
    await waitFor("the third join", () => store.latest() ?? undefined, 5_000);
    assert.equal(bus.joins(), 3);
    assert.equal(await up(), 1);
    assert.deepEqual(store.latest(), {
      ...RECORD,
      windowStart: "2026-01-15T09:30:00.000Z",
      windowEnd: "2026-01-15T09:31:00.000Z",
    });
  } finally {
    await reader.stop();
    await producer.close();
    await memory.close();
  }
  assert.equal(await up(), 0);
});
