/** `npm run mock`'s gRPC recording settings: a `host:port` beside `--record`, a bad one refused naming its source. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../platform/config.js";
import { loadMockConfig } from "./mock-config.js";

test("--record-grpc (MOCK_RECORD_GRPC) takes a host:port beside --record and refuses anything else by its name", () => {
  const record = ["--record", "http://127.0.0.1:8080"];
  assert.equal(loadMockConfig([...record, "--record-grpc", "127.0.0.1:50051"], {}).recordGrpc, "127.0.0.1:50051");
  assert.equal(loadMockConfig(record, { MOCK_RECORD_GRPC: "[::1]:50051" }).recordGrpc, "[::1]:50051");
  assert.equal(loadMockConfig(record, {}).recordGrpc, undefined);
  assert.throws(
    () => loadMockConfig([...record, "--record-grpc", "http://127.0.0.1:50051"], {}),
    (error: Error) =>
      error instanceof ConfigError && /^--record-grpc must be a gRPC address host:port/.test(error.message),
  );
  assert.throws(
    () => loadMockConfig(record, { MOCK_RECORD_GRPC: "no-port" }),
    (error: Error) => error instanceof ConfigError && /^MOCK_RECORD_GRPC must be/.test(error.message),
  );
  assert.throws(
    () => loadMockConfig(["--record-grpc", "127.0.0.1:50051"], {}),
    (error: Error) => error instanceof ConfigError && /needs --record/.test(error.message),
  );
});
