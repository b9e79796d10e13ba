/** The contract validator the end-to-end tests rely on can fail: each kind of mismatch is caught. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createOpenApiValidator, type ResponseToCheck } from "./support/openapi-validator.js";

const validator = createOpenApiValidator();
const user = {
  id: "7281634251938816001",
  name: "Ada Lovelace",
  email: "ada@example.com",
  etag: "1",
  createTime: "2026-01-15T09:30:00Z",
  updateTime: "2026-01-15T09:30:00Z",
};
const json = (status: number, body: unknown, headers: Record<string, string> = {}, type = "application/json") => ({
  status,
  headers: new Headers({ "content-type": `${type}; charset=utf-8`, ...headers }),
  text: JSON.stringify(body),
});
const problem = (status: number, code: string) => ({ type: "about:blank", title: "x", status, code });
const ok = (id: string, response: ResponseToCheck) => assert.deepEqual(validator.check(id, response), []);
const fails = (id: string, response: ResponseToCheck, what: RegExp) => {
  const problems = validator.check(id, response);
  assert.ok(
    problems.some((p) => what.test(p)),
    `expected a problem like ${what}, got ${JSON.stringify(problems)}`,
  );
};

describe("OpenAPI response validator", () => {
  test("accepts conforming responses, $refs to components/responses and headers included", () => {
    ok("getUser", json(200, user, { etag: '"1"' }));
    ok("getUser", { status: 304, headers: new Headers({ etag: '"1"' }), text: "" });
    ok("deleteUser", { status: 204, headers: new Headers(), text: "" });
    ok("createUser", json(201, user, { etag: '"1"', location: `/v1/users/${user.id}` }));
    ok("listUsers", json(200, { users: [user], nextPageToken: "abc" }));
    ok("getUser", json(503, problem(503, "UNAVAILABLE"), { "retry-after": "1" }, "application/problem+json"));
  });

  test("catches a wrong body, status, content type, header and extra body", () => {
    fails("getUser", json(200, { ...user, email: 42 }, { etag: '"1"' }), /email must be string/);
    fails("getUser", json(200, { ...user, secret: "x" }, { etag: '"1"' }), /additional properties/);
    fails("listUsers", json(200, { users: [{ ...user, createTime: "yesterday" }] }), /date-time/);
    fails("getUser", json(409, problem(409, "ALREADY_EXISTS"), {}, "application/problem+json"), /not documented/);
    fails("getUser", json(404, problem(404, "NOT_FOUND")), /content type application\/json is not one of/);
    fails("getUser", json(404, problem(404, "NOPE"), {}, "application/problem+json"), /allowed values/);
    fails("getUser", json(200, user), /header ETag is missing/);
    fails("getUser", json(503, problem(503, "UNAVAILABLE"), {}, "application/problem+json"), /Retry-After is missing/);
    fails(
      "getUser",
      json(503, problem(503, "UNAVAILABLE"), { "retry-after": "soon" }, "application/problem+json"),
      /Retry-After/,
    );
    fails("getUser", json(200, user, { etag: `"${"9".repeat(80)}"` }), /header ETag/);
    fails("deleteUser", { status: 204, headers: new Headers(), text: "{}" }, /no body is documented/);
    fails("createUser", { ...json(201, user, { etag: '"1"', location: "/x" }), text: "{oops" }, /not JSON/);
  });

  test("finds operations by method and path, and checks plain problem documents", () => {
    assert.equal(validator.operationFor("GET", "/v1/users/123")?.id, "getUser");
    assert.equal(validator.operationFor("PATCH", "/v1/users/123")?.id, "updateUser");
    assert.equal(validator.operationFor("GET", "/v1/users")?.id, "listUsers");
    assert.equal(validator.operationFor("PUT", "/v1/users/123"), undefined);
    assert.equal(validator.operationFor("GET", "/v1/users/1/2"), undefined);
    assert.deepEqual(
      validator.checkProblem(404, json(404, problem(404, "NOT_FOUND"), {}, "application/problem+json")),
      [],
    );
    assert.notDeepEqual(
      validator.checkProblem(404, json(404, { message: "nope" }, {}, "application/problem+json")),
      [],
    );
    assert.notDeepEqual(validator.checkProblem(404, json(404, problem(404, "NOT_FOUND"))), []);
  });
});
