/**
 * No rule, limit or constant of the contracts is written a second time in hand-written code: every limit
 * in generated/proto/field-rules.ts is read from there (through platform/rules), never typed again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { copiedLimitsIn, findCopiedLimits } from "./support/copied-limits.js";

const root = fileURLToPath(new URL("..", import.meta.url));

test("no hand-written file holds a literal copy of a generated limit", () => {
  const copies = copiedLimitsIn(root);
  assert.deepEqual(
    copies.map((c) => `${c.file}:${c.line} ${c.text} (copies ${c.limit})`),
    [],
    "read these from generated/proto/field-rules.ts (rulesOf in platform/rules/field-rules.ts) instead",
  );
});

test("the check finds the copies it is meant to find, and names their limit", () => {
  const fixture = [
    "const MAX_BATCH_IDS = 100;",
    "const DEFAULT_FIRST = 50;",
    "function page(pageSize = 50) { return pageSize; }",
    "if (request.ids.length > 100) throw new Error('too many');",
    "if (name.length > 100) throw new Error('too long');",
    "const first = args.first ?? 50;",
    "const ID = /^[0-9]{1,19}$/;",
    "const SLEEP_MS = 100; const lines = out.slice(-200); for (let i = 0; i < 100; i++) {}",
  ].join("\n");
  const found = findCopiedLimits("fixture.ts", fixture);
  assert.deepEqual(
    found.map((c) => c.line),
    [1, 2, 3, 4, 5, 6, 7],
    `one finding a copy, none for the unrelated numbers: ${JSON.stringify(found, null, 1)}`,
  );
  assert.match(found[0]?.limit ?? "", /BatchGetUsersRequest\.ids\.maxItems|\.maxLen/);
  assert.match(found[1]?.limit ?? "", /pageSize\.defaultValue/);
});
