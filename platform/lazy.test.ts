import assert from "node:assert/strict";
import { test } from "node:test";
import { lazy } from "./lazy.js";

test("makes the value once, however many ask at the same time", async () => {
  let made = 0;
  const value = lazy(async () => ++made);
  assert.deepEqual(await Promise.all([value(), value(), value()]), [1, 1, 1]);
  assert.equal(await value(), 1);
  assert.equal(made, 1);
});

test("forgets a failed attempt, so the next call tries again", async () => {
  let calls = 0;
  const value = lazy(async () => {
    calls++;
    if (calls === 1) throw new Error("broker unreachable");
    return "connected";
  });
  await assert.rejects(value(), /broker unreachable/);
  assert.equal(await value(), "connected");
  assert.equal(calls, 2);
});

test("reset hands back the current value and the next call makes a new one", async () => {
  let made = 0;
  const value = lazy(async () => ++made);
  assert.equal(await value(), 1);
  assert.equal(await value.reset(), 1);
  assert.equal(value.reset(), undefined);
  assert.equal(await value(), 2);
});

test("an attempt that fails after a reset does not forget the newer one", async () => {
  let rejectFirst: (error: Error) => void = () => {};
  let made = 0;
  const value = lazy(
    () =>
      new Promise<number>((resolve, reject) => {
        made++;
        if (made === 1) rejectFirst = reject;
        else resolve(made);
      }),
  );
  const first = value();
  value.reset();
  assert.equal(await value(), 2);
  rejectFirst(new Error("late failure"));
  await assert.rejects(first, /late failure/);
  assert.equal(await value(), 2, "the newer value is kept");
  assert.equal(made, 2);
});
