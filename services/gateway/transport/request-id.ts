import { randomUUID } from "node:crypto";

/** A client's x-request-id, kept when it is a sensible one (up to 128 of [A-Za-z0-9_.:@/+=-]); otherwise a new UUID. */
export const requestIdOf = (header: string | string[] | undefined): string =>
  typeof header === "string" && /^[\w.:@/+=-]{1,128}$/.test(header) ? header : randomUUID();
