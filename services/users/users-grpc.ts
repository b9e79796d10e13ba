/**
 * The generated gRPC service interface ↔ the users use cases. Domain errors become
 * gRPC statuses with google.rpc details in grpc-status-details-bin; anything
 * unexpected becomes INTERNAL with no internals.
 */
import { Metadata, type ServerUnaryCall, type ServiceError, type sendUnaryData } from "@grpc/grpc-js";
import type { User as UserMessage, UsersServiceServer } from "../../generated/proto/charter/users/v1/users.js";
import { BadRequest, ErrorInfo } from "../../generated/proto/google/rpc/error_details.js";
import { Status } from "../../generated/proto/google/rpc/status.js";
import { AppError, type Code, grpcStatusOf, invalidArgument, isAppError } from "../../platform/errors.js";
import type { Logger } from "../../platform/logging.js";
import { etagOf, type User, type UserChanges } from "./user.js";
import type { UsersService } from "./users-service.js";

const DOMAIN = "users.charter.dev";

export const toUserMessage = (user: User): UserMessage => ({
  id: user.id,
  name: user.name,
  email: user.email,
  etag: etagOf(user),
  createTime: user.createTime,
  updateTime: user.updateTime,
});

/** Fields of the request itself, never under the user prefix. */
const REQUEST_FIELDS = new Set(["update_mask", "request_id"]);

/** The domain names fields as in JSON (pageSize); gRPC clients see proto paths (page_size, user.name). */
const protoPath = (field: string, prefix: string): string => {
  const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return prefix && !REQUEST_FIELDS.has(snake) ? `${prefix}.${snake}` : snake;
};

export function toServiceError(error: AppError, prefix = ""): Partial<ServiceError> {
  const details = [];
  const violations = error.details.fieldViolations ?? [];
  if (violations.length > 0) {
    const value = Buffer.from(
      BadRequest.encode({
        fieldViolations: violations.map((v) => ({
          field: protoPath(v.field, prefix),
          description: v.description,
          reason: "",
        })),
      }).finish(),
    );
    details.push({ typeUrl: "type.googleapis.com/google.rpc.BadRequest", value });
  }
  if (error.details.reason) {
    const value = Buffer.from(
      ErrorInfo.encode({ reason: error.details.reason, domain: DOMAIN, metadata: {} }).finish(),
    );
    details.push({ typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value });
  }
  const code = grpcStatusOf[error.code];
  const metadata = new Metadata();
  metadata.set(
    "grpc-status-details-bin",
    Buffer.from(Status.encode({ code, message: error.message, details }).finish()),
  );
  return { code, details: error.message, metadata };
}

/** The RPC names as the proto spells them: the `method` label of the RPC counter. */
export const USERS_RPCS = ["GetUser", "BatchGetUsers", "ListUsers", "CreateUser", "UpdateUser", "DeleteUser"] as const;
export type UsersRpc = (typeof USERS_RPCS)[number];

export interface UsersGrpcHooks {
  /** Called once per RPC with its outcome ("OK" or the status code name) and its duration in seconds. */
  readonly onRpc?: (rpc: UsersRpc, code: "OK" | Code, seconds: number) => void;
}

/** The caller's x-request-id, bounded, or undefined when it sent none. */
export function requestIdOf(metadata: Metadata): string | undefined {
  const value = metadata.get("x-request-id")[0];
  if (typeof value !== "string" || value === "") return undefined;
  return value.slice(0, 128);
}

export function createUsersGrpcHandlers(
  service: UsersService,
  logger: Logger,
  hooks: UsersGrpcHooks = {},
): UsersServiceServer {
  /** Adapts an async handler; `prefix` is the request path of the user fields, for error details. */
  const unary =
    <Req, Res>(rpc: UsersRpc, run: (request: Req) => Promise<Res>, prefix = "") =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      const requestId = requestIdOf(call.metadata);
      const log = logger.child(requestId === undefined ? { rpc } : { rpc, requestId });
      const done = (code: "OK" | Code): void => {
        const seconds = (performance.now() - started) / 1000;
        hooks.onRpc?.(rpc, code, seconds);
        // One line per call, with the trace's ids (the gRPC server span is active here).
        log.info({ code, duration_ms: Math.round(seconds * 100_000) / 100 }, "rpc");
      };
      run(call.request).then(
        (response) => {
          done("OK");
          callback(null, response);
        },
        (error: unknown) => {
          if (isAppError(error)) {
            done(error.code);
            return callback(toServiceError(error, prefix));
          }
          log.error({ err: error }, "unexpected error");
          done("INTERNAL");
          callback(toServiceError(new AppError("INTERNAL", "internal error")));
        },
      );
    };

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
