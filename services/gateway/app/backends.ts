/**
 * What the gateway asks of the services behind it: the ports its transports (REST, GraphQL) call, in the
 * contracts' generated message types. The adapters (adapters/users-backend.ts, adapters/audit-backend.ts)
 * implement them over gRPC; a transport never sees a channel, a breaker or a retry policy.
 */
import type {
  GetUserStatsRequest,
  GetUserStatsResponse,
  ListUserHistoryRequest,
  ListUserHistoryResponse,
} from "../../../generated/proto/charter/audit/v1/audit.js";
import type {
  BatchGetUsersRequest,
  BatchGetUsersResponse,
  CreateUserRequest,
  CreateUserResponse,
  DeleteUserRequest,
  DeleteUserResponse,
  GetUserRequest,
  GetUserResponse,
  ListUsersRequest,
  ListUsersResponse,
  LookupUserRequest,
  LookupUserResponse,
  UpdateUserRequest,
  UpdateUserResponse,
  User as UserMessage,
} from "../../../generated/proto/charter/users/v1/users.js";

/** A proto User with every field unset (proto3 defaults): what a create or update request fills in. */
export const UNSET_USER: UserMessage = {
  id: "",
  etag: "",
  name: "",
  email: "",
  createTime: undefined,
  updateTime: undefined,
};

export interface CallContext {
  /** Sent as x-request-id so both sides log the same id. */
  readonly requestId?: string;
  /**
   * The caller's Authorization header ("Bearer <token>"), sent on as the `authorization` metadata: the services
   * verify the caller's token themselves and enforce the RPC's scopes.
   */
  readonly authorization?: string;
  /** Overrides the client's default deadline for this call. */
  readonly deadlineMs?: number;
}

import type { HealthStatus } from "../../../platform/grpc-health-probe.js";

export type { HealthStatus };

export type BreakerState = "closed" | "open" | "half-open" | "isolated";

export interface UsersBackend {
  getUser(request: GetUserRequest, ctx?: CallContext): Promise<GetUserResponse>;
  listUsers(request: ListUsersRequest, ctx?: CallContext): Promise<ListUsersResponse>;
  createUser(request: CreateUserRequest, ctx?: CallContext): Promise<CreateUserResponse>;
  updateUser(request: UpdateUserRequest, ctx?: CallContext): Promise<UpdateUserResponse>;
  deleteUser(request: DeleteUserRequest, ctx?: CallContext): Promise<DeleteUserResponse>;
  batchGetUsers(request: BatchGetUsersRequest, ctx?: CallContext): Promise<BatchGetUsersResponse>;
  lookupUser(request: LookupUserRequest, ctx?: CallContext): Promise<LookupUserResponse>;
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  health(service: string, deadlineMs?: number): Promise<HealthStatus>;
  /** closed: calls go through; open / half-open / isolated: they fail at once with UNAVAILABLE. */
  breakerState(): BreakerState;
  /**
   * Holds the breaker open (calls fail at once) until the returned function is called: for while discovery knows
   * no instance, when a call could only wait for its deadline.
   */
  isolate(): () => void;
  close(): void;
}

export interface AuditBackend {
  listUserHistory(request: ListUserHistoryRequest, ctx?: CallContext): Promise<ListUserHistoryResponse>;
  /** The latest user stats; UNAVAILABLE (reason STATS_PIPELINE_NOT_RUNNING) while the audit service has none. */
  getUserStats(request: GetUserStatsRequest, ctx?: CallContext): Promise<GetUserStatsResponse>;
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  health(service: string, deadlineMs?: number): Promise<HealthStatus>;
  close(): void;
}

/**
 * Another service known only by its contract (adapters/contract-backend.ts): its methods called with the proto3 JSON
 * of their requests, answering the proto3 JSON of their responses.
 */
export interface ContractBackend {
  /** The service's full proto name, e.g. charter.books.v1.BooksService. */
  readonly service: string;
  /** The methods it can call, as the proto names them (GetBook): every method of the service's generated definition. */
  readonly methods: readonly string[];
  /** Calls `method` (as the proto names it, e.g. GetBook) with its request's proto3 JSON. */
  call(method: string, request: unknown, context: CallContext): Promise<unknown>;
  close(): void;
}
