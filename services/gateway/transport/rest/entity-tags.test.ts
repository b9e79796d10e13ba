import assert from "node:assert/strict";
import { test } from "node:test";
import { noneMatchHolds, parseEntityTags, strongTags } from "./entity-tags.js";

test("entity tag lists: strong, weak, bare, star", () => {
  assert.equal(parseEntityTags(" * "), "*");
  assert.deepEqual(parseEntityTags('"1"'), [{ weak: false, tag: "1" }]);
  assert.deepEqual(parseEntityTags('W/"2", "3" ,4'), [
    { weak: true, tag: "2" },
    { weak: false, tag: "3" },
    { weak: false, tag: "4" },
  ]);
  assert.deepEqual(parseEntityTags(""), []);
});

test("If-None-Match compares weakly, If-Match strongly", () => {
  assert.equal(noneMatchHolds(parseEntityTags('W/"2"'), "2"), true);
  assert.equal(noneMatchHolds(parseEntityTags('"1", "3"'), "2"), false);
  assert.equal(noneMatchHolds("*", "9"), true);
  const condition = parseEntityTags('W/"2", "3"');
  assert.deepEqual(condition === "*" ? [] : strongTags(condition), ["3"]);
});
