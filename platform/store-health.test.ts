import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "./logging.js";
import { watchStoreHealth } from "./store-health.js";

async function until(condition: () => boolean, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) assert.fail("condition not met before the deadline");
    await sleep(5);
  }
}

test("follows the store down and up again, logging each change once", async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("test", "info", { write: (line: string) => lines.push(JSON.parse(line)) });
  let answering = true;
  const checks: boolean[] = [];
  const watch = await watchStoreHealth({
    ping: async () => {
      if (!answering) throw new Error("connection refused");
    },
    intervalMs: 20,
    logger,
    name: "user store",
    onCheck: (up) => checks.push(up),
  });
  try {
    assert.deepEqual(checks, [true], "the first check is done before it resolves");
    answering = false;
    await until(() => checks.filter((up) => !up).length >= 3);
    answering = true;
    await until(() => checks.at(-1) === true);
    await until(() => checks.length >= checks.lastIndexOf(false) + 3);
  } finally {
    watch.stop();
  }
  const changes = lines.filter((line) => line.msg === "user store health changed").map((line) => line.store);
  assert.deepEqual(changes, ["up", "down", "up"], "one line per change, not per check");
});

test("a ping that does not answer within one interval counts as down", async () => {
  const checks: boolean[] = [];
  const watch = await watchStoreHealth({
    ping: () => new Promise(() => {}),
    intervalMs: 20,
    logger: createLogger("test", "silent", { write: () => {} }),
    name: "history store",
    onCheck: (up) => checks.push(up),
  });
  watch.stop();
  assert.deepEqual(checks, [false]);
});
