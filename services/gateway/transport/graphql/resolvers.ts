/**
 * Resolvers of contracts/graphql/users.graphql, typed by the generated resolver types, over
 * the users gRPC client. Every user-by-id lookup of one request goes through that request's
 * DataLoader, so one GraphQL request makes one BatchGetUsers call however many users it names.
 */
import DataLoader from "dataloader";
import type { MercuriusContext } from "mercurius";
import type { Resolvers, UpdateUserInput, User, UserEvent } from "../../../../generated/graphql/users.js";
import type { UserEvent as UserEventMessage } from "../../../../generated/proto/charter/users/v1/events.js";
import type { User as UserMessage } from "../../../../generated/proto/charter/users/v1/users.js";
import type { Principal } from "../../../../platform/auth/token-verifier.js";
import { AppError, invalidArgument, isAppError } from "../../../../platform/errors.js";
import { type CursorPosition, decodeCursor, encodeCursor } from "../../../../platform/graphql/cursor.js";
import { rulesOf, settableFields, withDefault } from "../../../../platform/rules/field-rules.js";
import { type AuditBackend, type CallContext, UNSET_USER, type UsersBackend } from "../../app/backends.js";
import { toRestEvent } from "../rest/history-handlers.js";

const pageSizeRule = rulesOf("charter.users.v1.ListUsersRequest").pageSize;
/** BatchGetUsers takes at most this many ids; larger loads are split into several calls. */
const MAX_BATCH_IDS = rulesOf("charter.users.v1.BatchGetUsersRequest").ids.maxItems;
/** The contract's largest page (users(first) and ListUsers page_size). */
const MAX_PAGE_SIZE = Number(pageSizeRule.maximum);
/** What updateUser may change: the User's fields that are not output-only, from the contract. */
const UPDATABLE = settableFields("charter.users.v1.User") as readonly (keyof UpdateUserInput)[];

export interface GraphqlContext extends MercuriusContext {
  /** The request id sent to the users service as x-request-id. */
  readonly requestId: string;
  /** The caller's Authorization header, sent on to the services (they check the token themselves). */
  readonly authorization?: string;
  /** The caller, as the gateway verified its token (transport/auth.ts); each root field checks its @auth scopes. */
  readonly principal?: Principal;
  readonly users: UsersBackend;
  readonly audit: AuditBackend;
  /** Per request: users by id, batched into BatchGetUsers; null for an id with no user. */
  readonly userById: DataLoader<string, User | null>;
}

/** A users-service message as the GraphQL User; a user without timestamps is a server fault. */
export function toGraphqlUser(message: UserMessage | undefined): User {
  if (!message?.createTime || !message.updateTime) throw new Error("users service returned an incomplete user");
  return {
    id: message.id,
    name: message.name,
    email: message.email,
    etag: message.etag,
    createTime: message.createTime,
    updateTime: message.updateTime,
  };
}

/** An audit-service event as the GraphQL UserEvent: the REST one, with null for a DELETED or erased event's user. */
export function toGraphqlEvent(event: UserEventMessage): UserEvent {
  const { user, ...fields } = toRestEvent(event);
  return { ...fields, user: user ?? null, actor: fields.actor ?? null, redactedAt: fields.redactedAt ?? null };
}

/**
 * One page of a connection over a page-token API: `first` items after the `after` cursor, whose cursors name the
 * page token and how many items of that page to skip.
 */
async function connectionPage<M, N>(
  args: { first?: number | null; after?: string | null },
  fetch: (pageSize: number, pageToken: string) => Promise<{ items: M[]; nextPageToken: string }>,
  toNode: (item: M) => N,
) {
  // An explicit null is the same as leaving the argument out.
  const first = withDefault(pageSizeRule, args.first ?? undefined) ?? MAX_PAGE_SIZE;
  const from: CursorPosition =
    args.after == null ? { token: "", skip: 0 } : decodeCursor(args.after, "after", MAX_PAGE_SIZE);
  const page = await fetch(Math.min(MAX_PAGE_SIZE, from.skip + first), from.token);
  const nodes = page.items.slice(from.skip).map(toNode);
  const next = page.nextPageToken === "" ? undefined : encodeCursor({ token: page.nextPageToken, skip: 0 });
  const edges = nodes.map((node, i) => ({
    node,
    cursor:
      i === nodes.length - 1 && next !== undefined
        ? next
        : encodeCursor({ token: from.token, skip: from.skip + i + 1 }),
  }));
  return {
    edges,
    nodes,
    pageInfo: { hasNextPage: next !== undefined, endCursor: edges.at(-1)?.cursor ?? next ?? null },
  };
}

export function createUserLoader(users: UsersBackend, call: CallContext): DataLoader<string, User | null> {
  return new DataLoader<string, User | null>(
    async (ids) => {
      const response = await users.batchGetUsers({ ids: [...ids] }, call).catch(renameFields({ ids: "id" }));
      const found = new Map(response.users.map((u) => [u.id, toGraphqlUser(u)]));
      return ids.map((id) => found.get(id) ?? null);
    },
    { maxBatchSize: MAX_BATCH_IDS },
  );
}

/**
 * Restates the users service's field names (its JSON names: `email`, `pageSize`, `ids[3]`) as
 * the GraphQL arguments the client wrote (`input.email`, `first`, `id`), so a client sees one
 * naming whether the gateway or the users service found the problem.
 */
function renameFields(names: Readonly<Record<string, string>>, prefix = ""): (error: unknown) => never {
  return (error) => {
    if (!isAppError(error) || !error.details.fieldViolations?.length) throw error;
    const fieldViolations = error.details.fieldViolations.map((v) => {
      const bare = v.field.replace(/\[\d+\]$/, "");
      return { field: names[bare] ?? `${prefix}${v.field}`, description: v.description };
    });
    if (error.code === "INVALID_ARGUMENT") throw invalidArgument(fieldViolations);
    throw new AppError(error.code, error.message, { ...error.details, fieldViolations });
  };
}

/** The etag argument: absent or null means "the latest version"; "" names no version at all. */
function etagArgument(etag: string | null | undefined, field: string): string {
  if (etag === "") throw invalidArgument([{ field, description: "must not be empty" }]);
  return etag ?? "";
}

const callOf = (ctx: GraphqlContext): CallContext => ({
  requestId: ctx.requestId,
  ...(ctx.authorization === undefined ? {} : { authorization: ctx.authorization }),
});

export function createResolvers(): Resolvers<GraphqlContext> {
  return {
    Query: {
      user: (_root, { id }, ctx) => ctx.userById.load(id),

      // As user(id:): null when no user has the email (NOT_FOUND), an error for anything else.
      userByEmail: async (_root, { email }, ctx) => {
        const found = await ctx.users.lookupUser({ email }, callOf(ctx)).catch((error: unknown) => {
          if (isAppError(error) && error.code === "NOT_FOUND") return undefined;
          return renameFields({})(error);
        });
        return found ? toGraphqlUser(found.user) : null;
      },

      users: async (_root, args, ctx) => {
        const connection = await connectionPage(
          args,
          async (pageSize, pageToken) => {
            const page = await ctx.users
              .listUsers({ pageSize, pageToken }, callOf(ctx))
              .catch(renameFields({ pageSize: "first", pageToken: "after" }));
            return { items: page.users, nextPageToken: page.nextPageToken };
          },
          toGraphqlUser,
        );
        for (const node of connection.nodes) ctx.userById.prime(node.id, node);
        return connection;
      },

      userHistory: (_root, { id, ...args }, ctx) =>
        connectionPage(
          args,
          async (pageSize, pageToken) => {
            const page = await ctx.audit
              .listUserHistory({ userId: id, pageSize, pageToken }, callOf(ctx))
              .catch(renameFields({ userId: "id", pageSize: "first", pageToken: "after" }));
            return { items: page.events, nextPageToken: page.nextPageToken };
          },
          toGraphqlEvent,
        ),
    },

    Mutation: {
      createUser: async (_root, { input }, ctx) => {
        const user: UserMessage = { ...UNSET_USER, name: input.name, email: input.email };
        const response = await ctx.users
          .createUser({ user, requestId: "" }, callOf(ctx))
          .catch(renameFields({}, "input."));
        return toGraphqlUser(response.user);
      },

      updateUser: async (_root, { input }, ctx) => {
        const etag = etagArgument(input.etag, "input.etag");
        const updateMask = UPDATABLE.filter((f) => input[f] != null);
        const user: UserMessage = {
          ...UNSET_USER,
          id: input.id,
          name: input.name ?? "",
          email: input.email ?? "",
          etag,
        };
        const response = await ctx.users
          .updateUser({ user, updateMask }, callOf(ctx))
          .catch(renameFields({ updateMask: "input" }, "input."));
        return toGraphqlUser(response.user);
      },

      deleteUser: async (_root, { id, etag }, ctx) => {
        await ctx.users.deleteUser({ id, etag: etagArgument(etag, "etag") }, callOf(ctx)).catch(renameFields({}));
        return { id };
      },
    },
  };
}
