/** The generated AuditService interface ↔ the history store; every call authorized first (platform/auth/grpc-auth.ts). */
import { type AuditServiceServer, protobufPackage } from "../../../generated/proto/charter/audit/v1/audit.js";
import { UserEvent } from "../../../generated/proto/charter/users/v1/events.js";
import type { GrpcAuthorizer } from "../../../platform/auth/grpc-auth.js";
import { storeCall } from "../../../platform/errors.js";
import {
  errorDomainOf,
  type RpcHooks,
  snakeCase,
  toServiceError,
  unaryAdapter,
} from "../../../platform/grpc-handlers.js";
import type { Logger } from "../../../platform/logging.js";
import type { HistoryEraser } from "../app/history-eraser.js";
import { checkHistoryRequest, type HistoryStore, pageTokenAfter } from "../domain/history.js";

export const AUDIT_RPCS = ["ListUserHistory", "EraseUserHistory"] as const;
export type AuditRpc = (typeof AUDIT_RPCS)[number];

const DOMAIN = errorDomainOf(protobufPackage);

export function createAuditGrpcHandlers(
  store: HistoryStore,
  eraser: Pick<HistoryEraser, "erase">,
  logger: Logger,
  authorize: GrpcAuthorizer,
  hooks: RpcHooks<AuditRpc> = {},
): AuditServiceServer {
  const unary = unaryAdapter<AuditRpc>(logger, { service: `${protobufPackage}.AuditService`, authorize }, hooks);
  const toError = (error: Parameters<typeof toServiceError>[0]) =>
    toServiceError(error, { domain: DOMAIN, fieldPath: snakeCase });
  return {
    listUserHistory: unary(
      "ListUserHistory",
      async (request: { userId: string; pageSize?: number | undefined; pageToken: string }) => {
        const page = checkHistoryRequest(request.userId, request.pageSize, request.pageToken);
        // One more than asked says whether there is a next page. A store failure is UNAVAILABLE for the
        // client (so the gateway answers 503 with Retry-After); the cause is logged, never sent.
        const entries = await storeCall(
          () => store.list(page.userId, page.limit + 1, page.after),
          "the history store is unavailable",
          (error) => logger.error({ err: error, operation: "list" }, "history store call failed"),
        );
        const shown = entries.slice(0, page.limit);
        const last = shown.at(-1);
        return {
          events: shown.map((entry) => UserEvent.fromJSON(entry.event)),
          nextPageToken: entries.length > page.limit && last ? pageTokenAfter(last) : "",
        };
      },
      toError,
    ),
    eraseUserHistory: unary(
      "EraseUserHistory",
      (request: { userId: string; eraseAfter?: string | undefined }) =>
        storeCall(
          () => eraser.erase(request.userId, request.eraseAfter),
          "the history store is unavailable",
          (error) => logger.error({ err: error, operation: "erase" }, "history store call failed"),
        ),
      toError,
    ),
  };
}
