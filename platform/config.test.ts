import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, envReader } from "./config.js";

test("defaults apply when variables are unset or blank", () => {
  const e = envReader({ BLANK: "  " });
  assert.equal(e.port("UNSET", 8080), 8080);
  assert.equal(e.port("BLANK", 1), 1);
  assert.equal(e.optionalUrl("UNSET", ["redis:"]), undefined);
});

test("a bad value throws one line naming the variable", () => {
  const e = envReader({ PORT: "abc", BIG: "70000", URL: "mongodb//nope", WRONG: "http://x", LEVEL: "loud" });
  assert.throws(
    () => e.port("PORT", 1),
    (err: Error) =>
      err instanceof ConfigError && /^PORT must be an integer from 0 to 65535, got "abc"$/.test(err.message),
  );
  assert.throws(() => e.port("BIG", 1), /BIG must be an integer/);
  assert.throws(() => e.optionalUrl("URL", ["mongodb:"]), /: URL must be a URL starting with mongodb:\/\//);
  assert.throws(
    () => e.optionalUrl("WRONG", ["redis:", "rediss:"]),
    /WRONG must be a URL starting with redis:\/\/ or rediss:\/\//,
  );
  assert.throws(() => e.oneOf("LEVEL", "info", ["info", "debug"]), /LEVEL must be one of info, debug/);
});

test("good values parse", () => {
  const e = envReader({ PORT: "0", URL: "mongodb://127.0.0.1:1/x", N: "-5" });
  assert.equal(e.port("PORT", 1), 0);
  assert.equal(e.optionalUrl("URL", ["mongodb:"]), "mongodb://127.0.0.1:1/x");
  assert.equal(e.int("N", 0, -10, 10), -5);
});

test("multi-host MongoDB URLs are accepted", () => {
  const e = envReader({ URL: "mongodb://a:1,b:2/db?replicaSet=rs0" });
  assert.equal(e.optionalUrl("URL", ["mongodb:"]), "mongodb://a:1,b:2/db?replicaSet=rs0");
});
