/**
 * The one place where user events become messages: an outbox event as the contract's UserEvent
 * (contracts/proto/charter/users/v1/events.proto), and that as the Kafka message of
 * contracts/asyncapi/users-events.yaml — proto3 JSON value, the user id as key, the CloudEvents attributes as
 * `ce_` headers, plus the W3C trace context of the change. The message pacts of the audit service are verified against these functions.
 */
import { UserEvent, UserEventType } from "../../../generated/proto/charter/users/v1/events.js";
import type { OutgoingMessage } from "../../../platform/events/bus.js";
import { withTraceHeaders } from "../../../platform/events/change-origin.js";
import { toUserMessage } from "./user-message.js";
import type { OutboxEvent } from "./user-store.js";

export const CE_TYPE = "charter.users.v1.UserEvent";
export const CE_SOURCE = "/charter/users";

const types: Record<OutboxEvent["type"], UserEventType> = {
  CREATED: UserEventType.USER_EVENT_TYPE_CREATED,
  UPDATED: UserEventType.USER_EVENT_TYPE_UPDATED,
  DELETED: UserEventType.USER_EVENT_TYPE_DELETED,
};

export function buildUserEvent(event: OutboxEvent): UserEvent {
  return {
    eventId: event.eventId,
    type: types[event.type],
    userId: event.userId,
    user: event.user === undefined ? undefined : toUserMessage(event.user),
    version: String(event.version),
    occurredAt: event.occurredAt,
    actor: event.actor ?? "",
    redactedAt: undefined, // set only by the audit service, in the history it keeps
  };
}

/** A UserEvent as its Kafka message; the value is the proto3 JSON text. */
export type UserEventMessage = OutgoingMessage & { readonly value: string };

export function toUserEventMessage(event: UserEvent): UserEventMessage {
  return {
    key: event.userId,
    value: JSON.stringify(UserEvent.toJSON(event)),
    headers: {
      ce_specversion: "1.0",
      ce_id: event.eventId,
      ce_type: CE_TYPE,
      ce_source: CE_SOURCE,
      ce_time: event.occurredAt ?? "",
      "content-type": "application/json",
    },
  };
}

/** The Kafka message of an outbox event, carrying the trace context of the change as headers. */
export function outboxMessage(event: OutboxEvent): UserEventMessage {
  return withTraceHeaders(toUserEventMessage(buildUserEvent(event)), event.trace);
}
