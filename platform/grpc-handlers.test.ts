import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequest, ErrorInfo } from "../generated/proto/google/rpc/error_details.js";
import { Status } from "../generated/proto/google/rpc/status.js";
import { AppError } from "./errors.js";
import { errorDomainOf, toServiceError } from "./grpc-handlers.js";

test("a service's ErrorInfo domain comes from its proto package, or from its full service name", () => {
  assert.equal(errorDomainOf("charter.users.v1"), "users.charter.dev");
  assert.equal(errorDomainOf("charter.users.v1.UsersService"), "users.charter.dev");
  assert.equal(errorDomainOf("charter.audit.v1.AuditService"), "audit.charter.dev");
  assert.equal(errorDomainOf("charter.audit.v2"), "audit.charter.dev");
  for (const bad of ["charter.users", "users.v1", "google.rpc", "charter.users.v1.users_service", ""]) {
    assert.throws(() => errorDomainOf(bad), /is not a proto package charter\.<name>\.v<major>/, bad);
  }
});

test("an AppError becomes a status with its field violations as proto paths and its reason in the domain", () => {
  const error = new AppError("INVALID_ARGUMENT", "pageSize: too big", {
    fieldViolations: [{ field: "pageSize", description: "too big" }],
    reason: "PAGE_TOO_BIG",
  });
  const answer = toServiceError(error, { domain: errorDomainOf("charter.audit.v1") });
  assert.equal(answer.code, 3);
  const bin = answer.metadata?.get("grpc-status-details-bin")[0];
  assert.ok(bin instanceof Buffer);
  const status = Status.decode(bin);
  assert.equal(status.message, "pageSize: too big");
  const [badRequest, errorInfo] = status.details;
  assert.deepEqual(BadRequest.decode(badRequest?.value ?? new Uint8Array()).fieldViolations, [
    { field: "page_size", description: "too big", reason: "" },
  ]);
  assert.deepEqual(ErrorInfo.decode(errorInfo?.value ?? new Uint8Array()), {
    reason: "PAGE_TOO_BIG",
    domain: "audit.charter.dev",
    metadata: {},
  });
});
