import { trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

/** An e-mail address inside any text: the local part is kept to its first character. */
const EMAIL = /([A-Za-z0-9!#$%&'*+/=?^_`{|}~-])[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g;

/** `ada.lovelace@example.com` → `a***@example.com`, wherever it appears in the text. */
export function maskEmails(text: string): string {
  return text.includes("@") ? text.replace(EMAIL, "$1***@$2") : text;
}

/**
 * A copy of a log line's fields with every e-mail address masked, however deep. Errors are left to the `err`
 * serializer, which masks what it serializes.
 */
function masked(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskEmails(value);
  if (typeof value !== "object" || value === null || value instanceof Error || depth > 6) return value;
  if (Array.isArray(value)) return value.map((item) => masked(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = masked(item, depth + 1);
  return out;
}

/** trace_id and span_id of the span active where the line is logged (none outside a traced request). */
function traceFields(): Record<string, string> {
  const context = trace.getActiveSpan()?.spanContext();
  return context === undefined || context.traceId === "00000000000000000000000000000000"
    ? {}
    : { trace_id: context.traceId, span_id: context.spanId };
}

/**
 * JSON logs on stdout, one object a line, with the service name on every line, the active trace's ids where
 * there is one, and no e-mail address in clear (in fields, messages and errors alike).
 */
export function createLogger(service: string, level: LogLevel, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    serializers: { err: (error: Error) => masked({ ...pino.stdSerializers.err(error) }) },
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => masked(fields) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        // The message (and printf-style arguments) are masked as well as the fields.
        method.apply(this, args.map((arg) => (typeof arg === "string" ? maskEmails(arg) : arg)) as typeof args);
      },
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
