/**
 * The GraphQL side of `npm run mock -- --replay <dir>`: each request (its JSON body as a whole: query, variables,
 * operation name) finds its recorded answer through the same Replay as REST, so addresses are numbered and turned
 * back as there. The answer is not sent as it was recorded: every root field resolves to the recorded value under
 * its response key (or throws the recorded error, with its code), and the GraphQL mock executes the request against
 * the schema as always, so types, non-null fields, @auth tokens and @constraint limits are checked on a replay too.
 * Below the root, fields are read by their names (an alias below the root is not replayed).
 */
import type { GraphQLResolveInfo, GraphQLSchema } from "graphql";
import { AppError, type FieldViolation } from "../platform/errors.js";
import { isCode } from "./contract-examples.js";
import type { RecordedResponse } from "./recording.js";

export interface ReplayContext {
  /** The recorded answer to this request (looked up on the first call); undefined when none matched. */
  readonly replayed: () => RecordedResponse | undefined;
}

interface RecordedError {
  readonly message?: string;
  readonly path?: readonly unknown[];
  readonly extensions?: { code?: unknown; reason?: string; fieldViolations?: FieldViolation[] };
}

/** Resolvers of every root field (Query and Mutation) that answer from the recorded answer of the request. */
export function createReplayResolvers(schema: GraphQLSchema, dir: string) {
  const resolve = (_: unknown, _args: unknown, context: ReplayContext, info: GraphQLResolveInfo) => {
    const body = context.replayed()?.body as { data?: Record<string, unknown> | null; errors?: RecordedError[] };
    if (!body) {
      throw new AppError(
        "INVALID_ARGUMENT",
        `no recorded interaction matches this GraphQL request in ${dir}: a replay answers only the requests it recorded, in their order`,
      );
    }
    const error = body.errors?.find((e) => e.path?.[0] === info.path.key);
    if (error) {
      const { code, reason, fieldViolations } = error.extensions ?? {};
      throw new AppError(isCode(code) ? code : "UNKNOWN", error.message ?? "", {
        ...(reason ? { reason } : {}),
        ...(fieldViolations ? { fieldViolations } : {}),
      });
    }
    return body.data?.[info.path.key] ?? null;
  };
  const fieldsOf = (type: ReturnType<GraphQLSchema["getQueryType"]>) =>
    Object.fromEntries(Object.keys(type?.getFields() ?? {}).map((name) => [name, resolve]));
  return { Query: fieldsOf(schema.getQueryType()), Mutation: fieldsOf(schema.getMutationType()) };
}
