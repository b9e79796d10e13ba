/**
 * Tokens in the pacts. A consumer's interaction carries `Authorization: Bearer <token>` (a regex matcher: any JWT),
 * and names the provider state `a token with <scopes>` — the scopes the contract gives the operation, read from it.
 * The verifier answers that state with a real token from the development issuer the gateway trusts, and its
 * request filter puts that token in place of the example one.
 */
import { readFileSync } from "node:fs";
import { buildSchema } from "graphql";
import { parse } from "yaml";

const OPENAPI_DIR = new URL("../../contracts/openapi/", import.meta.url);
const GRAPHQL_DIR = new URL("../../contracts/graphql/", import.meta.url);

/** A bearer token's header value: the scheme and a compact JWS. */
export const BEARER_JWT = "^Bearer [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$";
/** The example token a consumer sends to Pact's mock server (unsigned: the mock matches its shape only). */
export const EXAMPLE_TOKEN = [{ alg: "RS256", typ: "at+jwt" }, { sub: "charter-dev" }]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("c2lnbmF0dXJl")
  .join(".");

const TOKEN_STATE = /^a token with ((?:\S+)(?: \S+)*)$/;

/** The provider state of a token with `scopes`. */
export const tokenState = (scopes: readonly string[]): string => `a token with ${[...scopes].sort().join(" ")}`;

/** The scopes of a token state, or undefined for another state. */
export function scopesOfTokenState(state: string): string[] | undefined {
  return TOKEN_STATE.exec(state)?.[1]?.split(" ");
}

/** The scopes the security requirement of `service`'s OpenAPI contract (contracts/openapi/<service>.v1.yaml) gives an operation. */
export function operationScopes(operationId: string, service = "users"): string[] {
  const doc = parse(readFileSync(new URL(`${service}.v1.yaml`, OPENAPI_DIR), "utf8")) as {
    paths: Record<string, Record<string, { operationId?: string; security?: Record<string, string[]>[] }>>;
  };
  for (const item of Object.values(doc.paths)) {
    for (const operation of Object.values(item)) {
      if (operation?.operationId === operationId)
        return (operation.security ?? []).flatMap((r) => Object.values(r).flat());
    }
  }
  throw new Error(`the ${service} contract has no operation ${operationId}`);
}

/** The scopes `service`'s GraphQL schema (contracts/graphql/<service>.graphql) gives a root field (Query or Mutation) with @auth. */
export function graphqlFieldScopes(field: string, service = "users"): string[] {
  const schema = buildSchema(readFileSync(new URL(`${service}.graphql`, GRAPHQL_DIR), "utf8"));
  const found = schema.getQueryType()?.getFields()[field] ?? schema.getMutationType()?.getFields()[field];
  const directive = found?.astNode?.directives?.find((d) => d.name.value === "auth");
  const scopes = directive?.arguments?.find((a) => a.name.value === "scopes")?.value;
  if (!scopes || scopes.kind !== "ListValue") throw new Error(`the GraphQL schema has no @auth on ${field}`);
  return scopes.values.flatMap((v) => (v.kind === "StringValue" ? [v.value] : []));
}
