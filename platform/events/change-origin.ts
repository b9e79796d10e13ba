/**
 * What an outbox event records of its change besides the change itself, for users and every service made by
 * `npm run new:service`: the W3C trace context the change was made in (sent as message headers, so that a
 * consumer's work joins the request's trace; platform/events/trace-context.ts) and its actor, who made it (the
 * verified subject of the caller's token).
 */
import type { OutgoingMessage } from "./bus.js";
import { traceHeaders } from "./trace-context.js";

export interface ChangeOrigin {
  /** The trace context of the request that made the change (W3C `traceparent`, `tracestate`), when traced. */
  readonly trace?: Readonly<Record<string, string>>;
  /** Who made the change: the verified subject of the call's token; absent when unknown. */
  readonly actor?: string;
}

/** The origin of a change made now, by `actor`: the active trace context (none outside a trace) and the actor. */
export function changeOrigin(actor = ""): ChangeOrigin {
  const trace = traceHeaders();
  return {
    ...(Object.keys(trace).length > 0 ? { trace } : {}),
    ...(actor !== "" ? { actor } : {}),
  };
}

/** A stored origin as read back from a store: only what it holds, as plain values. */
export function storedOrigin(origin: ChangeOrigin): ChangeOrigin {
  return {
    ...(origin.trace ? { trace: { ...origin.trace } } : {}),
    ...(typeof origin.actor === "string" && origin.actor !== "" ? { actor: origin.actor } : {}),
  };
}

/** An event's message with the trace context recorded with the event as its headers. */
export function withTraceHeaders<M extends OutgoingMessage>(message: M, trace: ChangeOrigin["trace"]): M {
  return trace ? { ...message, headers: { ...message.headers, ...trace } } : message;
}
