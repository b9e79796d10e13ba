import { type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

/** JSON logs on stdout, one object a line, with the service name on every line. */
export function createLogger(service: string, level: LogLevel): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
