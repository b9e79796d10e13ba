/**
 * The user event a function gets as its CloudEvent's data: the proto3 JSON of charter.users.v1.UserEvent
 * (contracts/asyncapi/users-events.yaml), read with the code generated from the contract. What a function relies
 * on is checked; an event without it is refused (HTTP 400: the delivery sets it aside instead of retrying).
 */
import type { CloudEvent } from "cloudevents";
import { UserEvent, UserEventType } from "../generated/proto/charter/users/v1/events.js";
import { httpError } from "./function-config.js";

export { UserEventType };

export function userEventOf(event: CloudEvent<unknown> | undefined): UserEvent {
  const data: unknown = typeof event?.data === "string" ? safeParse(event.data) : event?.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw httpError(400, "the CloudEvent's data is not a user event (a JSON object)");
  }
  const decoded = UserEvent.fromJSON(data);
  if (!/^[0-9]{1,19}$/.test(decoded.userId)) throw httpError(400, "the user event has no valid userId");
  if (decoded.eventId === "") throw httpError(400, "the user event has no eventId");
  if (decoded.occurredAt === undefined || Number.isNaN(Date.parse(decoded.occurredAt))) {
    throw httpError(400, "the user event has no valid occurredAt");
  }
  return decoded;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
