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

/** A bearer token, or anything shaped like a JWT (three base64url parts, the first a JSON header `eyJ`). */
const TOKEN = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{20,}|\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/gi;

/** `Bearer eyJ…` → `Bearer [redacted]`, a bare JWT → `[redacted]`, wherever it appears in the text. */
export function maskTokens(text: string): string {
  return /bearer|eyJ/i.test(text) ? text.replace(TOKEN, (_m, scheme?: string) => `${scheme ?? ""}[redacted]`) : text;
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
 * there is one, and no e-mail address or bearer token in clear. The masking is done on the finished line, just before it is
 * written, so nothing escapes it: fields, child bindings (a request id), messages, printf arguments, errors
 * however nested, and the message pino takes from an error logged without one.
 */
export function createLogger(service: string, level: LogLevel, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    // An `err` that is not an Error (a message string) is logged as it is.
    serializers: { err: (error: unknown) => (error instanceof Error ? pino.stdSerializers.err(error) : error) },
    formatters: { level: (label) => ({ level: label }) },
    // An Authorization header, wherever a request or its headers are logged, never leaves in clear.
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "request.headers.authorization", "authorization"],
      censor: "[redacted]",
    },
    hooks: { streamWrite: (line) => maskTokens(maskEmails(line)) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
