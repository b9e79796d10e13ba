/**
 * The REST operations of contracts/openapi/users.v1.yaml, bound by operationId, as calls to the
 * users service: proto users become the contract's User, etags become ETag headers, If-Match and
 * If-None-Match become the service's etag checks. Failures are the client's AppErrors, thrown on.
 */
import type { components } from "../../../generated/openapi/users.v1.js";
import type { User as UserMessage } from "../../../generated/proto/charter/users/v1/users.js";
import { AppError } from "../../../platform/errors.js";
import type { CallContext, UsersClient } from "../users-client.js";
import { noneMatchHolds, parseEntityTags, quoteEtag, strongTags } from "./entity-tags.js";
import type { OperationHandlers } from "./operation-types.js";

type User = components["schemas"]["User"];

export interface UsersHandlersOptions {
  readonly users: UsersClient;
  /** The URL of one user, for Location (from the contract's getUser path). */
  readonly userUrl: (id: string) => string;
}

/** A user from the service as the contract's User; a user without its timestamps breaks the contract. */
export function toRestUser(user: UserMessage | undefined): User {
  if (!user?.createTime || !user.updateTime) throw new AppError("INTERNAL", "incomplete user from the users service");
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    etag: user.etag,
    createTime: user.createTime,
    updateTime: user.updateTime,
  };
}

export function createUsersHandlers({
  users,
  userUrl,
}: UsersHandlersOptions): Omit<OperationHandlers, "listUserHistory"> {
  /**
   * The etag the service should check for an If-Match header: "" (none) without one or for "*";
   * a single strong tag as it is; for a list, the current etag if the list names it. A list that
   * cannot match (only weak tags, or none current) is 412.
   */
  const etagForIfMatch = async (id: string, header: string | undefined, context: CallContext): Promise<string> => {
    if (header === undefined) return "";
    const condition = parseEntityTags(header);
    if (condition === "*") return "";
    const strong = strongTags(condition);
    if (condition.length === 1 && strong[0] !== undefined) return strong[0];
    const current = toRestUser((await users.getUser({ id }, context)).user).etag;
    if (strong.includes(current)) return current;
    throw new AppError("ABORTED", "If-Match does not name the current version", { reason: "ETAG_MISMATCH" });
  };

  return {
    async createUser({ header, body, context }) {
      const created = await users.createUser(
        {
          user: { id: "", etag: "", name: body.name, email: body.email, createTime: undefined, updateTime: undefined },
          // The Idempotency-Key header: a retry with the same key and body gets the first result.
          requestId: header["Idempotency-Key"] ?? "",
        },
        context,
      );
      const user = toRestUser(created.user);
      return { status: 201, headers: { location: userUrl(user.id), etag: quoteEtag(user.etag) }, body: user };
    },

    async listUsers({ query, context }) {
      const page = await users.listUsers({ pageSize: query.pageSize ?? 0, pageToken: query.pageToken ?? "" }, context);
      return {
        status: 200,
        body: {
          users: page.users.map(toRestUser),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        },
      };
    },

    async getUser({ path, header, context }) {
      const user = toRestUser((await users.getUser({ id: path.id }, context)).user);
      const headers = { etag: quoteEtag(user.etag) };
      const ifNoneMatch = header["If-None-Match"];
      if (ifNoneMatch !== undefined && noneMatchHolds(parseEntityTags(ifNoneMatch), user.etag)) {
        return { status: 304, headers, body: undefined };
      }
      return { status: 200, headers, body: user };
    },

    async updateUser({ path, header, body, context }) {
      const etag = await etagForIfMatch(path.id, header["If-Match"], context);
      // Merge patch: the fields present change (the contract's schema has already refused nulls and unknown fields).
      const updated = await users.updateUser(
        {
          user: {
            id: path.id,
            etag,
            name: body.name ?? "",
            email: body.email ?? "",
            createTime: undefined,
            updateTime: undefined,
          },
          updateMask: Object.keys(body),
        },
        context,
      );
      const user = toRestUser(updated.user);
      return { status: 200, headers: { etag: quoteEtag(user.etag) }, body: user };
    },

    async deleteUser({ path, header, context }) {
      const etag = await etagForIfMatch(path.id, header["If-Match"], context);
      await users.deleteUser({ id: path.id, etag }, context);
      return { status: 204, body: undefined };
    },
  };
}
