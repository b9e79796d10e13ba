/**
 * The generated gRPC service interface ↔ the users use cases. Domain errors become
 * gRPC statuses with google.rpc details in grpc-status-details-bin; anything
 * unexpected becomes INTERNAL with no internals.
 */
import type { ServiceError } from "@grpc/grpc-js";
import type { User as UserMessage, UsersServiceServer } from "../../../generated/proto/charter/users/v1/users.js";
import { type AppError, invalidArgument } from "../../../platform/errors.js";
import {
  type RpcHooks,
  snakeCase,
  toServiceError as toPlatformServiceError,
  unaryAdapter,
} from "../../../platform/grpc-handlers.js";
import type { Logger } from "../../../platform/logging.js";
import type { UsersService } from "../app/users-service.js";
import type { UserChanges } from "../domain/user.js";
import { toUserMessage } from "../domain/user-message.js";

const DOMAIN = "users.charter.dev";

/** Fields of the request itself, never under the user prefix. */
const REQUEST_FIELDS = new Set(["update_mask", "request_id"]);

/** The domain names fields as in JSON (pageSize); gRPC clients see proto paths (page_size, user.name). */
const protoPath = (field: string, prefix: string): string => {
  const snake = snakeCase(field);
  return prefix && !REQUEST_FIELDS.has(snake) ? `${prefix}.${snake}` : snake;
};

export function toServiceError(error: AppError, prefix = ""): Partial<ServiceError> {
  return toPlatformServiceError(error, { domain: DOMAIN, fieldPath: (field) => protoPath(field, prefix) });
}

/** The RPC names as the proto spells them: the `method` label of the RPC counter. */
export const USERS_RPCS = [
  "GetUser",
  "BatchGetUsers",
  "ListUsers",
  "CreateUser",
  "UpdateUser",
  "DeleteUser",
  "LookupUser",
] as const;
export type UsersRpc = (typeof USERS_RPCS)[number];

export type UsersGrpcHooks = RpcHooks<UsersRpc>;

export function createUsersGrpcHandlers(
  service: UsersService,
  logger: Logger,
  hooks: UsersGrpcHooks = {},
): UsersServiceServer {
  const adapt = unaryAdapter<UsersRpc>(logger, hooks);
  /** Adapts an async handler; `prefix` is the request path of the user fields, for error details. */
  const unary = <Req, Res>(rpc: UsersRpc, run: (request: Req) => Promise<Res>, prefix = "") =>
    adapt(rpc, run, (error) => toServiceError(error, prefix));

  return {
    getUser: unary("GetUser", async (req) => ({ user: toUserMessage(await service.get(req.id)) })),
    batchGetUsers: unary("BatchGetUsers", async (req) => ({
      users: (await service.batchGet(req.ids)).map(toUserMessage),
    })),
    listUsers: unary("ListUsers", async (req) => {
      const page = await service.list(req.pageSize, req.pageToken);
      return { users: page.users.map(toUserMessage), nextPageToken: page.nextPageToken };
    }),
    createUser: unary(
      "CreateUser",
      async (req) => {
        if (!req.user) throw invalidArgument([{ field: "user", description: "is required" }]);
        const created = await service.create({ name: req.user.name, email: req.user.email }, req.requestId);
        return { user: toUserMessage(created) };
      },
      "user",
    ),
    updateUser: unary(
      "UpdateUser",
      async (req) => {
        const user = req.user;
        if (!user) throw invalidArgument([{ field: "user", description: "is required" }]);
        const changes = changesFromMask(user, req.updateMask ?? []);
        const updated = await service.update(user.id, changes, user.etag === "" ? undefined : user.etag);
        return { user: toUserMessage(updated) };
      },
      "user",
    ),
    deleteUser: unary("DeleteUser", async (req) => {
      await service.delete(req.id, req.etag === "" ? undefined : req.etag);
      return {};
    }),
    lookupUser: unary("LookupUser", async (req) => ({ user: toUserMessage(await service.lookup(req.email)) })),
  };
}

const MUTABLE = ["name", "email"] as const;

/** The fields an update sets: those the mask names, or with no mask every non-empty field. */
function changesFromMask(user: UserMessage, paths: readonly string[]): UserChanges {
  const unknown = paths.filter((p) => !(MUTABLE as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw invalidArgument([
      { field: "update_mask", description: `cannot update ${unknown.join(", ")}; updatable: ${MUTABLE.join(", ")}` },
    ]);
  }
  const named = paths.length > 0 ? paths : MUTABLE.filter((f) => user[f] !== "");
  const changes: { name?: string; email?: string } = {};
  for (const field of named) changes[field as (typeof MUTABLE)[number]] = user[field as (typeof MUTABLE)[number]];
  return changes;
}
