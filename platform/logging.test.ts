import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, maskEmails } from "./logging.js";

function capture(level: "info" | "debug" = "info") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("test", level, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

test("maskEmails keeps the first character of the local part and the domain", () => {
  assert.equal(maskEmails("ada.lovelace@example.com"), "a***@example.com");
  assert.equal(
    maskEmails("to: x@y.org, cc: Zoë <z+tag@mail.example.co.uk>"),
    "to: x***@y.org, cc: Zoë <z***@mail.example.co.uk>",
  );
  assert.equal(maskEmails("no address @ here, nor user@localhost"), "no address @ here, nor user@localhost");
});

test("no e-mail address reaches a log line in clear: fields, nested fields, messages, errors", () => {
  const { logger, lines } = capture();
  logger.info({ email: "ada@example.com", user: { emails: ["bob@example.org"] } }, "created %s", "carol@example.net");
  logger
    .child({ requestId: "r-1" })
    .error({ err: new Error("dave@example.com is taken") }, "failed for erin@example.com");
  const text = JSON.stringify(lines);
  for (const local of ["ada@", "bob@", "carol@", "dave@", "erin@"]) assert.ok(!text.includes(local), text);
  assert.equal(lines[0]?.email, "a***@example.com");
  assert.deepEqual(lines[0]?.user, { emails: ["b***@example.org"] });
  assert.equal(lines[0]?.msg, "created c***@example.net");
  const err = lines[1]?.err as Record<string, unknown>;
  assert.equal(err.type, "Error");
  assert.equal(err.message, "d***@example.com is taken");
  assert.equal(lines[1]?.msg, "failed for e***@example.com");
  assert.equal(lines[1]?.requestId, "r-1");
  assert.equal(lines[1]?.service, "test");
});

test("masking reaches child bindings, errors logged without a message, nested errors and printf objects", () => {
  const { logger, lines } = capture();
  logger.child({ requestId: "ada.lovelace@example.com" }).info("request");
  logger.error(new Error("bob@example.org is taken"));
  const nested = Object.assign(new Error("duplicate key"), { keyValue: { email: "carol@example.net" } });
  logger.warn({ cause: { error: nested } }, "insert failed");
  logger.info("user %j", { email: "dave@example.com" });
  const text = JSON.stringify(lines);
  for (const local of ["lovelace@", "bob@", "carol@", "dave@"]) assert.ok(!text.includes(local), text);
  assert.equal(lines[0]?.requestId, "a***@example.com");
  assert.equal(lines[1]?.msg, "b***@example.org is taken");
});

test("an err that is a string is logged as the string", () => {
  const { logger, lines } = capture();
  logger.warn({ err: "etcd: connection refused" }, "lease lost");
  assert.equal(lines[0]?.err, "etcd: connection refused");
});

test("outside a traced request there are no trace fields, and LOG_LEVEL filters", () => {
  const { logger, lines } = capture("info");
  logger.debug("hidden");
  logger.info("shown");
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.trace_id, undefined);
  assert.equal(lines[0]?.level, "info");
});

test("a bearer token never leaves in clear: not in an Authorization header, a message or an error", () => {
  const { logger, lines } = capture();
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaGFydGVyLWRldiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
  logger.info({ req: { headers: { authorization: `Bearer ${jwt}` } } }, "request");
  logger.info({ headers: { authorization: `Bearer ${jwt}` } }, "headers");
  logger.warn(`refused Bearer ${jwt}`);
  logger.error(new Error(`token ${jwt} did not verify`));
  const text = JSON.stringify(lines);
  assert.ok(!text.includes("c2lnbmF0dXJl"), text);
  assert.ok(!text.includes("eyJzdWIi"), text);
  assert.equal((lines[0]?.req as { headers: { authorization: string } }).headers.authorization, "[redacted]");
  assert.equal(lines[2]?.msg, "refused Bearer [redacted]");
});
