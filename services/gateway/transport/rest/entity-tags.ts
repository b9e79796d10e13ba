/**
 * HTTP entity tags (RFC 9110 §8.8.3) for the users' etags: the header form is the etag quoted.
 * If-Match and If-None-Match take "*" or a comma-separated list of tags, strong ("1") or weak
 * (W/"1"); a bare token (1) is read as the strong tag it names, for clients that send the
 * body's etag field as it is.
 */
export interface EntityTag {
  readonly weak: boolean;
  readonly tag: string;
}

export type EntityTagCondition = "*" | readonly EntityTag[];

export const quoteEtag = (etag: string): string => `"${etag}"`;

export function parseEntityTags(value: string): EntityTagCondition {
  if (value.trim() === "*") return "*";
  const tags: EntityTag[] = [];
  for (const match of value.matchAll(/(W\/)?"([^"]*)"|([^\s,]+)/g)) {
    tags.push(
      match[3] === undefined ? { weak: match[1] !== undefined, tag: match[2] ?? "" } : { weak: false, tag: match[3] },
    );
  }
  return tags;
}

/** If-None-Match uses weak comparison: W/"1" and "1" both match etag 1. */
export const noneMatchHolds = (condition: EntityTagCondition, etag: string): boolean =>
  condition === "*" || condition.some((t) => t.tag === etag);

/** If-Match uses strong comparison: only strong tags can match. */
export const strongTags = (condition: readonly EntityTag[]): string[] =>
  condition.filter((t) => !t.weak).map((t) => t.tag);
