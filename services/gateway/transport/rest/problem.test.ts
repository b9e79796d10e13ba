import assert from "node:assert/strict";
import { test } from "node:test";
import type { Code } from "../../../../platform/errors.js";
import { loadOpenApiDocument } from "./openapi-document.js";
import { httpOutcomes, problemOf } from "./problem.js";

test("problem documents have the type, title, status and code of the contract's examples", () => {
  const doc = loadOpenApiDocument() as unknown as {
    components: { responses: Record<string, { content: Record<string, { example: Record<string, unknown> }> }> };
  };
  const outcomes = Object.values(httpOutcomes);
  let checked = 0;
  for (const [name, response] of Object.entries(doc.components.responses)) {
    const example = response.content["application/problem+json"]?.example;
    assert.ok(example, `${name} has a problem example`);
    const outcome = outcomes.find((o) => o.type === example.type);
    const problem = problemOf(example.code as Code, "detail", outcome ? { outcome } : {});
    assert.deepEqual(
      { type: problem.type, title: problem.title, status: problem.status, code: problem.code },
      { type: example.type, title: example.title, status: example.status, code: example.code },
      name,
    );
    // An outcome with a fixed detail (the unservable record) says what the contract's example says.
    if (outcome && "detail" in outcome) assert.equal(problem.detail, example.detail, name);
    checked++;
  }
  assert.ok(checked >= 8);
});

test("internal errors never show their message; long texts are cut to the contract's limits", () => {
  assert.equal(problemOf("INTERNAL", "TypeError: x is undefined at foo.ts:3").detail, "an unexpected error occurred");
  assert.equal(problemOf("UNKNOWN", "driver said no").detail, "an unexpected error occurred");
  const long = problemOf("INVALID_ARGUMENT", "d".repeat(5000), { errors: [{ field: "f".repeat(300), message: "m" }] });
  assert.equal(long.detail?.length, 2000);
  assert.equal(long.errors?.[0]?.field.length, 200);
});
