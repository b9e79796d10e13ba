/**
 * The generated gRPC service interface ↔ the users use cases. Domain errors become
 * gRPC statuses with google.rpc details in grpc-status-details-bin; anything
 * unexpected becomes INTERNAL with no internals. Every call is authorized first (platform/auth/grpc-auth.ts); the
 * writes hand the caller's subject to the use cases as the actor of the change.
 */
import type { ServiceError } from "@grpc/grpc-js";
import {
  protobufPackage,
  type User as UserMessage,
  type UsersServiceServer,
} from "../../../generated/proto/charter/users/v1/users.js";
import type { GrpcAuthorizer } from "../../../platform/auth/grpc-auth.js";
import type { Principal } from "../../../platform/auth/token-verifier.js";
import { type AppError, invalidArgument } from "../../../platform/errors.js";
import {
  errorDomainOf,
  type RpcHooks,
  toServiceError as toPlatformServiceError,
  unaryAdapter,
} from "../../../platform/grpc-handlers.js";
import type { Logger } from "../../../platform/logging.js";
import type { UsersService } from "../app/users-service.js";
import { UPDATABLE_FIELDS, type UserChanges } from "../domain/user.js";
import { toUserMessage } from "../domain/user-message.js";

const DOMAIN = errorDomainOf(protobufPackage);

/** The domain already names fields by their proto paths in the request (user.name, page_size): sent as they are. */
export function toServiceError(error: AppError): Partial<ServiceError> {
  return toPlatformServiceError(error, { domain: DOMAIN, fieldPath: (field) => field });
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
  authorize: GrpcAuthorizer,
  hooks: UsersGrpcHooks = {},
): UsersServiceServer {
  const adapt = unaryAdapter<UsersRpc>(logger, { service: `${protobufPackage}.UsersService`, authorize }, hooks);
  const unary = <Req, Res>(rpc: UsersRpc, run: (request: Req, caller: Principal) => Promise<Res>) =>
    adapt(rpc, run, toServiceError);

  return {
    getUser: unary("GetUser", async (req) => ({ user: toUserMessage(await service.get(req.id)) })),
    batchGetUsers: unary("BatchGetUsers", async (req) => ({
      users: (await service.batchGet(req.ids)).map(toUserMessage),
    })),
    listUsers: unary("ListUsers", async (req) => {
      const page = await service.list(req.pageSize, req.pageToken);
      return { users: page.users.map(toUserMessage), nextPageToken: page.nextPageToken };
    }),
    createUser: unary("CreateUser", async (req, caller) => {
      if (!req.user) throw invalidArgument([{ field: "user", description: "is required" }]);
      const created = await service.create(
        { name: req.user.name, email: req.user.email },
        caller.subject,
        req.requestId,
      );
      return { user: toUserMessage(created) };
    }),
    updateUser: unary("UpdateUser", async (req, caller) => {
      const user = req.user;
      if (!user) throw invalidArgument([{ field: "user", description: "is required" }]);
      const changes = changesFromMask(user, req.updateMask ?? []);
      const updated = await service.update(user.id, changes, caller.subject, user.etag === "" ? undefined : user.etag);
      return { user: toUserMessage(updated) };
    }),
    deleteUser: unary("DeleteUser", async (req, caller) => {
      await service.delete(req.id, caller.subject, req.etag === "" ? undefined : req.etag);
      return {};
    }),
    lookupUser: unary("LookupUser", async (req) => ({ user: toUserMessage(await service.lookup(req.email)) })),
  };
}

/** A mask path (a proto field name, display_name) as the field's JSON name (displayName). */
const jsonName = (path: string): string => path.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * The fields an update sets: those the mask names, or with no mask every non-empty field; the updatable fields are
 * the contract's (the User's fields that are not output-only).
 */
function changesFromMask(user: UserMessage, paths: readonly string[]): UserChanges {
  const updatable: readonly string[] = UPDATABLE_FIELDS;
  const unknown = paths.filter((p) => !updatable.includes(jsonName(p)));
  if (unknown.length > 0) {
    throw invalidArgument([
      { field: "update_mask", description: `cannot update ${unknown.join(", ")}; updatable: ${updatable.join(", ")}` },
    ]);
  }
  const masked = new Set(paths.map(jsonName));
  const named = UPDATABLE_FIELDS.filter((f) => (masked.size > 0 ? masked.has(f) : user[f] !== ""));
  return Object.fromEntries(named.map((f) => [f, user[f]]));
}
