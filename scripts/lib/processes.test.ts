/** waitFor: a value ends the wait; errors are kept for the message; a check that never settles still fails in time. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "./processes.js";

test("waitFor returns the first value that is not undefined, retrying past errors", async () => {
  let calls = 0;
  const value = await waitFor("the third call", () => {
    calls += 1;
    if (calls === 1) throw new Error("not yet");
    return calls === 3 ? "ready" : undefined;
  });
  assert.equal(value, "ready");
  assert.equal(calls, 3);
});

test("waitFor fails at its deadline naming what it waited for and the last error", async () => {
  await assert.rejects(
    waitFor(
      "a value",
      () => {
        throw new Error("still down");
      },
      100,
      10,
    ),
    /timed out after 100 ms waiting for a value: Error: still down/,
  );
});

test("waitFor fails at its deadline when a check never settles", async () => {
  // The check's promise never settles: only the deadline can end the wait.
  await assert.rejects(
    waitFor("an answer", () => new Promise<undefined>(() => {}), 150),
    /timed out after 150 ms waiting for an answer: Error: the last check did not answer before the deadline/,
  );
});
