/**
 * The matchers the consumer pacts with the gateway share: what any client of it relies on in every answer (ids,
 * etags and timestamps the provider chooses, the bearer token, the content types, RFC 9457 problems), so that the
 * SDK's, the web front end's and each scaffolded service's pacts say it the same way.
 */
import { MatchersV3 } from "@pact-foundation/pact";
import { BEARER_JWT, EXAMPLE_TOKEN } from "../../scripts/lib/pact-tokens.js";

const { integer, like, regex } = MatchersV3;

/** A provider-state expression: the verifier puts the named value the state handler returned in its place. */
export const ref = (name: string): string => `\${${name}}`;
export const ID = "^[0-9]{1,19}$";
export const TIMESTAMP = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$";
export const ENTITY_TAG = '^"[^"]{1,64}"$';
/** The id the examples use where the provider chooses one. */
export const EXAMPLE_ID = "7281634251938816001";
/** The time the examples use where the provider chooses one. */
export const EXAMPLE_TIME = "2026-01-15T09:30:00Z";

/** Every request carries a bearer token: any JWT (the verifier puts a real one from its issuer in its place). */
export const AUTH = { Authorization: regex(BEARER_JWT, `Bearer ${EXAMPLE_TOKEN}`) };

export const JSON_TYPE = { "Content-Type": regex("^application/json(;.*)?$", "application/json; charset=utf-8") };
export const PROBLEM_TYPE = {
  "Content-Type": regex("^application/problem\\+json(;.*)?$", "application/problem+json; charset=utf-8"),
};

/** The RFC 9457 fields a client reads (type, title, status, code); `code` is what callers branch on. */
export function problemBody(status: number, code: string, extra: Record<string, unknown> = {}) {
  return {
    type: like(`https://charter.dev/problems/${code.toLowerCase().replace(/_/g, "-")}`),
    title: like("Problem"),
    status: integer(status),
    code,
    ...extra,
  };
}
