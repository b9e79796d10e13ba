/** runCommand: output and exit code collected; a command past its timeout is killed and reported, not waited for. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChecked, runCommand } from "./steps.js";

test("runCommand collects stdout, stderr, the exit code and what it was given on stdin", async () => {
  const ran = await runCommand("sh", ["-c", "cat; echo oops >&2; exit 3"], { input: "hello" });
  assert.deepEqual(ran, { code: 3, stdout: "hello", stderr: "oops\n" });
  await assert.rejects(
    runChecked("the failing step", "sh", ["-c", "echo why >&2; exit 1"]),
    /the failing step failed \(1\):\nwhy/,
  );
});

test("a command past its timeout is killed, and the run says so", async () => {
  const ran = await runCommand("sleep", ["60"], { timeoutMs: 100 });
  assert.equal(ran.code, null);
  assert.match(ran.stderr, /sleep timed out after 100 ms/);
});
