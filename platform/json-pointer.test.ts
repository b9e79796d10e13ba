import assert from "node:assert/strict";
import { test } from "node:test";
import { escapePointerSegment, unescapePointerSegment } from "./json-pointer.js";

test("a pointer segment escapes ~ before / and unescapes in the reverse order", () => {
  assert.equal(escapePointerSegment("a/b~c"), "a~1b~0c");
  assert.equal(escapePointerSegment("~1"), "~01", "a literal ~1 stays a literal, not a slash");
  assert.equal(unescapePointerSegment("~01"), "~1");
  assert.equal(unescapePointerSegment("a~1b~0c"), "a/b~c");
  for (const raw of ["", "plain", "/", "~", "~0~1/~", "ünï/cødé~"]) {
    assert.equal(unescapePointerSegment(escapePointerSegment(raw)), raw);
  }
});
