/**
 * A gRPC error's google.rpc.Status in protobuf JSON and back (grpc-status.ts): what a recording writes is what a
 * replay sends, and a status edited out of the error model is refused as INTERNAL.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AppError } from "../platform/errors.js";
import { toServiceError } from "../platform/grpc-handlers.js";
import { serviceErrorOf, statusJsonOf } from "./grpc-status.js";

const stale = toServiceError(
  new AppError("ABORTED", "etag mismatch", {
    reason: "ETAG_MISMATCH",
    fieldViolations: [{ field: "user.etag", description: "is stale" }],
  }),
  { domain: "users.charter.dev" },
);

test("a status with its details is written in protobuf JSON and sent again as it was", () => {
  const json = statusJsonOf(stale.metadata);
  assert.deepEqual(json, {
    code: 10,
    message: "etag mismatch",
    details: [
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "user.etag", description: "is stale" }],
      },
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ETAG_MISMATCH", domain: "users.charter.dev" },
    ],
  });
  const replayed = serviceErrorOf(JSON.parse(JSON.stringify(json)));
  assert.equal(replayed.code, 10);
  assert.equal(replayed.details, "etag mismatch");
  assert.deepEqual(replayed.metadata?.get("grpc-status-details-bin"), stale.metadata?.get("grpc-status-details-bin"));
  assert.equal(statusJsonOf(undefined), undefined, "an error without a status of its own has none");
});

test("a recorded status out of the error model is INTERNAL naming what is wrong", () => {
  const refused = (status: unknown) => {
    try {
      serviceErrorOf(status);
    } catch (error) {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, "INTERNAL");
      return error.message;
    }
    assert.fail("sent as recorded");
  };
  assert.match(refused({ code: 0, message: "ok", details: [] }), /code 0 is not an error code/);
  assert.match(refused({ code: 99, message: "x", details: [] }), /code 99 is not an error code/);
  assert.match(
    refused({ code: 5, message: "x", details: [{ "@type": "type.googleapis.com/acme.Detail" }] }),
    /"type.googleapis.com\/acme.Detail" is not a google.rpc error detail/,
  );
  assert.match(refused({ code: 5, details: [] }), /message must be a string/);
  assert.match(refused({ code: 5, message: "x", details: [null] }), /undefined is not a google.rpc error detail/);
});
