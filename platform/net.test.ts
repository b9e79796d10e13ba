import assert from "node:assert/strict";
import { test } from "node:test";
import { onFreePort } from "./net.js";

test("onFreePort tries a new port after a failure it may retry, and gives up after its attempts", async () => {
  const tried: number[] = [];
  const started = await onFreePort(async (port) => {
    tried.push(port);
    if (tried.length < 3) throw new Error("address already in use");
    return port;
  });
  assert.equal(tried.length, 3);
  assert.equal(started, tried[2]);
  for (const port of tried) assert.ok(port > 0);

  let calls = 0;
  await assert.rejects(
    onFreePort(async () => {
      calls++;
      throw new Error("address already in use");
    }),
    /address already in use/,
  );
  assert.equal(calls, 3, "three attempts in all");
});

test("onFreePort does not retry a failure retryIf refuses", async () => {
  let calls = 0;
  await assert.rejects(
    onFreePort(
      async () => {
        calls++;
        throw new Error("bad configuration");
      },
      { retryIf: (error) => /address already in use/.test(error.message) },
    ),
    /bad configuration/,
  );
  assert.equal(calls, 1);
});
