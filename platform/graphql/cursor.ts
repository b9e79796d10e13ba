/**
 * GraphQL connection cursors over a List RPC's page tokens. A cursor names a position as "the page
 * that starts at this opaque token, after skipping this many items", so every edge has a cursor
 * even though the service only hands out a token per page. The token is passed back untouched;
 * the service that issued it stays the judge of whether it is one of its own.
 */
import { invalidArgument } from "../errors.js";

const PREFIX = "c1:";

export interface CursorPosition {
  /** A List RPC's page token; "" is the first page. */
  readonly token: string;
  /** Items to drop from the front of that page. */
  readonly skip: number;
}

export const encodeCursor = (position: CursorPosition): string =>
  Buffer.from(`${PREFIX}${position.skip}:${position.token}`).toString("base64url");

/** Decodes a cursor this API issued; anything else is INVALID_ARGUMENT on `field`. */
export function decodeCursor(cursor: string, field: string, maxSkip: number): CursorPosition {
  const decoded = Buffer.from(cursor, "base64url").toString();
  const match = /^c1:(0|[1-9][0-9]{0,5}):([\s\S]*)$/.exec(decoded);
  const skip = Number(match?.[1]);
  if (!match || skip > maxSkip || encodeCursor({ token: match[2] ?? "", skip }) !== cursor) {
    throw invalidArgument([{ field, description: "is not a cursor this API issued" }]);
  }
  return { token: match[2] ?? "", skip };
}
