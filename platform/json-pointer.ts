/** JSON Pointer (RFC 6901) segments: `~` is written `~0` and `/` is written `~1`, and read back in reverse order. */
export const escapePointerSegment = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1");
export const unescapePointerSegment = (segment: string): string => segment.replace(/~1/g, "/").replace(/~0/g, "~");
