/**
 * A trigger: which function gets which user events (the Knative Trigger's role). Its name is the function's, its
 * URL where the function listens, and an optional filter on the event's type (UserEvent.type, e.g.
 * USER_EVENT_TYPE_DELETED): events of other types are not sent at all. Each trigger reads the events in a consumer
 * group of its own, so triggers compete neither with the audit service nor with each other.
 */

export interface Trigger {
  /** The function's name: [a-z0-9-], 1 to 63 characters (a Kubernetes name). */
  readonly name: string;
  /** Where the function takes CloudEvents over HTTP (POST). */
  readonly url: string;
  /** The event types it wants; empty: every event. */
  readonly types: readonly string[];
}

export const TRIGGER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The consumer group of a trigger, as the AsyncAPI contract's deliverUserEvent operation names it. */
export const groupIdOf = (trigger: Pick<Trigger, "name">): string => `charter-triggers-${trigger.name}`;

/** Whether `trigger` wants an event of `type` (undefined when the payload has none: only a trigger without filter). */
export const wants = (trigger: Trigger, type: string | undefined): boolean =>
  trigger.types.length === 0 || (type !== undefined && trigger.types.includes(type));

/** What a function's answer means for the delivery: done, worth another attempt, or not (the dead-letter topic). */
export type DeliveryResult =
  | { readonly kind: "delivered"; readonly status: number }
  | { readonly kind: "retryable"; readonly reason: string; readonly status?: number }
  | { readonly kind: "refused"; readonly reason: string; readonly status: number };

/**
 * An HTTP status as a delivery result, as Knative's delivery spec treats it: 2xx delivered; 5xx, 429 (too many
 * requests), 408 (timeout) and 404 (a function not yet routed) worth another attempt; any other 4xx refused — the
 * same event would be refused again.
 */
export function resultOfStatus(status: number): DeliveryResult {
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  const reason = `HTTP ${status}`;
  if (status >= 500 || status === 429 || status === 408 || status === 404) return { kind: "retryable", reason, status };
  return { kind: "refused", reason, status };
}

/** The `type` of a user event's JSON payload (UserEvent.type); undefined when there is none to read. */
export function eventTypeOf(value: Buffer | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const json: unknown = JSON.parse(value.toString("utf8"));
    const type = typeof json === "object" && json !== null ? (json as { type?: unknown }).type : undefined;
    return typeof type === "string" ? type : undefined;
  } catch {
    return undefined;
  }
}
