/**
 * The history operation of contracts/openapi/users.v1.yaml (listUserHistory), as a call to the audit service:
 * its proto UserEvents become the contract's UserEvent (the type without its USER_EVENT_TYPE_ prefix).
 */
import type { components } from "../../../../generated/openapi/users.v1.js";
import {
  type UserEvent as UserEventMessage,
  UserEventType,
} from "../../../../generated/proto/charter/users/v1/events.js";
import { AppError } from "../../../../platform/errors.js";
import type { AuditBackend } from "../../app/backends.js";
import type { OperationHandler } from "./operation-types.js";
import { toRestUser } from "./users-handlers.js";

type UserEvent = components["schemas"]["UserEvent"];
type UserEventKind = components["schemas"]["UserEventType"];

const kinds: Partial<Record<UserEventType, UserEventKind>> = {
  [UserEventType.USER_EVENT_TYPE_CREATED]: "CREATED",
  [UserEventType.USER_EVENT_TYPE_UPDATED]: "UPDATED",
  [UserEventType.USER_EVENT_TYPE_DELETED]: "DELETED",
};

/** The kind of a proto event type as the REST and GraphQL contracts name it; a server fault for any other. */
export function eventKindOf(type: UserEventType): UserEventKind {
  const kind = kinds[type];
  if (!kind) throw new AppError("INTERNAL", `the audit service returned an event of unknown type ${type}`);
  return kind;
}

/** An audit-service event as the contract's UserEvent. */
export function toRestEvent(event: UserEventMessage): UserEvent {
  if (!event.occurredAt) throw new AppError("INTERNAL", "the audit service returned an event without its time");
  return {
    eventId: event.eventId,
    type: eventKindOf(event.type),
    userId: event.userId,
    ...(event.user ? { user: toRestUser(event.user) } : {}),
    version: event.version,
    occurredAt: event.occurredAt,
    ...(event.actor ? { actor: event.actor } : {}),
    ...(event.redactedAt ? { redactedAt: event.redactedAt } : {}),
  };
}

export function createHistoryHandlers(audit: AuditBackend): { listUserHistory: OperationHandler<"listUserHistory"> } {
  return {
    async listUserHistory({ path, query, context }) {
      const page = await audit.listUserHistory(
        { userId: path.id, pageSize: query.pageSize, pageToken: query.pageToken ?? "" },
        context,
      );
      return {
        status: 200,
        body: {
          events: page.events.map(toRestEvent),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        },
      };
    },
  };
}
