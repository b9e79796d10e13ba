import assert from "node:assert/strict";
import { test } from "node:test";
import { UserEvent, UserEventType } from "../../../generated/proto/charter/users/v1/events.js";
import type { User } from "./user.js";
import { buildUserEvent, outboxMessage, toUserEventMessage } from "./user-events.js";
import { outboxEvent } from "./user-store.js";

const ada: User = {
  id: "9223372036854775807",
  name: "Ada Lovelace",
  email: "ada@example.com",
  version: 4,
  createTime: "2026-01-15T09:30:00.000Z",
  updateTime: "2026-01-16T10:00:00.125Z",
};

test("an UPDATED event: the contract's UserEvent with the user after the change, as a keyed CloudEvents message", () => {
  const event = buildUserEvent(outboxEvent("UPDATED", ada, ada.updateTime, "charter-dev"));
  const fields = {
    eventId: `${ada.id}-4`,
    userId: ada.id,
    user: {
      id: ada.id,
      name: ada.name,
      email: ada.email,
      etag: "4",
      createTime: ada.createTime,
      updateTime: ada.updateTime,
    },
    version: "4",
    occurredAt: ada.updateTime,
    actor: "charter-dev",
    redactedAt: undefined,
  };
  assert.deepEqual(event, { ...fields, type: UserEventType.USER_EVENT_TYPE_UPDATED });
  const message = toUserEventMessage(event);
  assert.equal(message.key, ada.id);
  assert.deepEqual(message.headers, {
    ce_specversion: "1.0",
    ce_id: `${ada.id}-4`,
    ce_type: "charter.users.v1.UserEvent",
    ce_source: "/charter/users",
    ce_time: ada.updateTime,
    "content-type": "application/json",
  });
  // proto3 JSON: camelCase, the enum by name, the 64-bit version as a decimal string, timestamps as RFC 3339.
  // An event of the users service is never erased: no redactedAt on the wire.
  const { redactedAt: _, ...sent } = fields;
  assert.deepEqual(JSON.parse(message.value), { ...sent, type: "USER_EVENT_TYPE_UPDATED" });
  assert.deepEqual(UserEvent.fromJSON(JSON.parse(message.value)), event, "the value decodes to the same event");
});

test("CREATED carries the new user; DELETED carries none, with the deleted version + 1", () => {
  const created = buildUserEvent(outboxEvent("CREATED", { ...ada, version: 1 }, ada.createTime));
  assert.deepEqual(
    [created.type, created.version, created.user?.etag],
    [UserEventType.USER_EVENT_TYPE_CREATED, "1", "1"],
  );
  const deleted = buildUserEvent(outboxEvent("DELETED", { ...ada, version: 5 }, "2026-01-17T11:00:00.000Z"));
  assert.deepEqual(
    [deleted.eventId, deleted.type, deleted.version, deleted.user],
    [`${ada.id}-5`, UserEventType.USER_EVENT_TYPE_DELETED, "5", undefined],
  );
  const value = JSON.parse(toUserEventMessage(deleted).value);
  assert.equal("user" in value, false, "no user field at all in a DELETED message");
  assert.equal(toUserEventMessage(deleted).headers?.ce_time, "2026-01-17T11:00:00.000Z");
});

test("an outbox event's message carries the trace context of its change as headers, and only then", () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const traced = outboxMessage({ ...outboxEvent("UPDATED", ada, ada.updateTime), trace: { traceparent } });
  assert.equal(traced.headers?.traceparent, traceparent);
  assert.equal(traced.headers?.ce_id, `${ada.id}-4`, "the CloudEvents headers stay");
  const untraced = outboxMessage(outboxEvent("UPDATED", ada, ada.updateTime));
  assert.equal("traceparent" in (untraced.headers ?? {}), false, "outside a trace there is no traceparent");
  assert.equal(traced.value, untraced.value, "the trace context is never part of the event itself");
});
