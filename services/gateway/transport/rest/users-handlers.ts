/**
 * The REST operations of contracts/openapi/users.v1.yaml, bound by operationId, as calls to the
 * users service: proto users become the contract's User, etags become ETag headers, If-Match and
 * If-None-Match become the service's etag checks. Failures are the client's AppErrors, thrown on.
 */
import type { components } from "../../../../generated/openapi/users.v1.js";
import type { User as UserMessage } from "../../../../generated/proto/charter/users/v1/users.js";
import { AppError } from "../../../../platform/errors.js";
import { type CallContext, UNSET_USER, type UsersBackend } from "../../app/backends.js";
import { noneMatchHolds, parseEntityTags, quoteEtag, strongTags } from "./entity-tags.js";
import type { OperationHandlers } from "./operation-types.js";
import { UNSERVABLE_RECORD } from "./problem.js";

type User = components["schemas"]["User"];

/** What is wrong with a user against the contract's User schema (field as a JSON pointer); empty when it fits. */
export type UserCheck = (user: User) => readonly { readonly field: string; readonly message: string }[];

/** A stored user that no longer fits the contract, e.g. written before a rule tightened. */
export interface UnservableRecord {
  readonly operation: "getUser" | "listUsers" | "createUser" | "updateUser" | "lookupUser";
  readonly id: string;
  readonly requestId: string | undefined;
  /** The fields that break the contract and how (never their values). */
  readonly violations: readonly { readonly field: string; readonly message: string }[];
}

export interface UsersHandlersOptions {
  readonly users: UsersBackend;
  /** The URL of one user, for Location (from the contract's getUser path). */
  readonly userUrl: (id: string) => string;
  /** The contract's check of a User it is about to send (the response schema of getUser); none: no check. */
  readonly checkUser?: UserCheck;
  /** Told of every stored user that is withheld because it breaks the contract (metric and log). */
  readonly onUnservable?: (record: UnservableRecord) => void;
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
  checkUser = () => [],
  onUnservable = () => undefined,
}: UsersHandlersOptions): Omit<OperationHandlers, "listUserHistory" | "getUserStats"> {
  /** The user as the contract's User, and what breaks the contract in it: a stored record that no longer fits is reported. */
  const checked = (
    message: UserMessage | undefined,
    operation: UnservableRecord["operation"],
    context: CallContext,
  ): { user: User; violations: UnservableRecord["violations"] } => {
    const user = toRestUser(message);
    const violations = checkUser(user);
    if (violations.length > 0) onUnservable({ operation, id: user.id, requestId: context.requestId, violations });
    return { user, violations };
  };
  /** One user for a response: a stored record that no longer fits the contract is DATA_LOSS, never sent. */
  const contractUser = (
    message: UserMessage | undefined,
    operation: UnservableRecord["operation"],
    context: CallContext,
  ): User => {
    const { user, violations } = checked(message, operation, context);
    if (violations.length === 0) return user;
    throw new AppError("DATA_LOSS", `stored user ${user.id} no longer fits the contract`, {
      reason: UNSERVABLE_RECORD,
      fieldViolations: violations.map((v) => ({ field: v.field, description: v.message })),
    });
  };
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
          user: { ...UNSET_USER, name: body.name, email: body.email },
          // The Idempotency-Key header: a retry with the same key and body gets the first result.
          requestId: header["Idempotency-Key"] ?? "",
        },
        context,
      );
      const user = contractUser(created.user, "createUser", context);
      return { status: 201, headers: { location: userUrl(user.id), etag: quoteEtag(user.etag) }, body: user };
    },

    async listUsers({ query, context }) {
      const page = await users.listUsers({ pageSize: query.pageSize, pageToken: query.pageToken ?? "" }, context);
      return {
        status: 200,
        body: {
          // A stored user that no longer fits the contract is left out (and reported); the page token still moves
          // past it, so paging goes on.
          users: page.users.flatMap((message) => {
            const { user, violations } = checked(message, "listUsers", context);
            return violations.length === 0 ? [user] : [];
          }),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        },
      };
    },

    async getUser({ path, header, context }) {
      const user = contractUser((await users.getUser({ id: path.id }, context)).user, "getUser", context);
      const headers = { etag: quoteEtag(user.etag) };
      const ifNoneMatch = header["If-None-Match"];
      if (ifNoneMatch !== undefined && noneMatchHolds(parseEntityTags(ifNoneMatch), user.etag)) {
        return { status: 304, headers, body: undefined };
      }
      return { status: 200, headers, body: user };
    },

    async lookupUser({ body, context }) {
      // The email comes in the body (never in the URL, which access logs keep); the schema has refused the rest.
      const found = await users.lookupUser({ email: body.email }, context);
      const user = contractUser(found.user, "lookupUser", context);
      return { status: 200, headers: { etag: quoteEtag(user.etag) }, body: user };
    },

    async updateUser({ path, header, body, context }) {
      const etag = await etagForIfMatch(path.id, header["If-Match"], context);
      // Merge patch: the fields present change and the mask names them (the contract's schema has already refused
      // nulls and unknown fields); the others stay proto3 defaults, outside the mask.
      const updated = await users.updateUser(
        { user: { ...UNSET_USER, id: path.id, etag, ...body }, updateMask: Object.keys(body) },
        context,
      );
      const user = contractUser(updated.user, "updateUser", context);
      return { status: 200, headers: { etag: quoteEtag(user.etag) }, body: user };
    },

    async deleteUser({ path, header, context }) {
      const etag = await etagForIfMatch(path.id, header["If-Match"], context);
      await users.deleteUser({ id: path.id, etag }, context);
      return { status: 204, body: undefined };
    },
  };
}
