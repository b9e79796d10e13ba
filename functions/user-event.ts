/**
 * The user event a function gets as its CloudEvent's data: the proto3 JSON of charter.users.v1.UserEvent
 * (contracts/asyncapi/users-events.yaml), read with the code generated from the contract. What a function relies
 * on is checked; an event without it is refused (HTTP 400: the delivery sets it aside instead of retrying).
 */
import type { CloudEvent } from "cloudevents";
import { UserEvent, UserEventType } from "../generated/proto/charter/users/v1/events.js";
import { rulesOf, violationsOf } from "../platform/rules/field-rules.js";
import { httpError } from "./function-config.js";

const rules = rulesOf("charter.users.v1.UserEvent");

export { UserEventType };

export function userEventOf(event: CloudEvent<unknown> | undefined): UserEvent {
  const data: unknown = typeof event?.data === "string" ? safeParse(event.data) : event?.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw httpError(400, "the CloudEvent's data is not a user event (a JSON object)");
  }
  const decoded = UserEvent.fromJSON(data);
  // What a function relies on, by the contract's own rules for those fields.
  for (const field of ["eventId", "userId", "occurredAt"] as const) {
    const value = decoded[field];
    if (value === undefined || value === "") throw httpError(400, `the user event has no ${field}`);
    const [problem] = violationsOf(rules[field], value);
    if (problem !== undefined) throw httpError(400, `the user event's ${field} ${problem}`);
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
