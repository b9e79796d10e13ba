/**
 * The gateway's typed client of the audit service (a user's history): the generated grpc-js client with a
 * deadline on every call (a user's history, the latest user stats), the request id in metadata, a capped reconnect backoff, the read retried on
 * UNAVAILABLE (grpc-js's retryPolicy, then once more by this client within the deadline), and gRPC failures turned
 * into the one error model — all as the users client does it (grpc-client.ts). There is no circuit breaker: the
 * history is one read, and an audit service that is down fails it at once (UNAVAILABLE, 503 with Retry-After).
 */
import {
  AuditServiceClient,
  type GetUserStatsRequest,
  type GetUserStatsResponse,
  type ListUserHistoryRequest,
  type ListUserHistoryResponse,
} from "../../../generated/proto/charter/audit/v1/audit.js";
import { grpcClientCredentials } from "../../../platform/grpc-credentials.js";
import type { MutualTls } from "../../../platform/tls-config.js";
import type { AuditBackend } from "../app/backends.js";
import { createHealthProbe, createUnaryCaller, grpcChannelOptions, readRetryServiceConfig } from "./grpc-client.js";

export interface AuditBackendOptions {
  /** A grpc-js target, e.g. "127.0.0.1:50061". */
  readonly target: string;
  /** Default deadline of every call. */
  readonly deadlineMs: number;
  /** Upper bound of the reconnect backoff, so an audit service that comes back is used again quickly. */
  readonly maxReconnectBackoffMs?: number;
  /** Mutual TLS (GRPC_TLS_*): this gateway's client certificate and the CA of the audit service's; else plaintext. */
  readonly tls?: MutualTls | undefined;
}

export const AUDIT_SERVICE = "charter.audit.v1.AuditService";

/** round_robin, and up to two more attempts of the reads on UNAVAILABLE. */
export const AUDIT_SERVICE_CONFIG = readRetryServiceConfig(AUDIT_SERVICE, ["ListUserHistory", "GetUserStats"]);

export function createAuditBackend(opts: AuditBackendOptions): AuditBackend {
  const channelOptions = grpcChannelOptions(AUDIT_SERVICE_CONFIG, opts.maxReconnectBackoffMs);
  const channelCredentials = grpcClientCredentials(opts.tls);
  const client = new AuditServiceClient(opts.target, channelCredentials, channelOptions);
  const healthProbe = createHealthProbe(opts.target, channelOptions, channelCredentials);
  const call = createUnaryCaller({ client, service: "audit", deadlineMs: opts.deadlineMs });
  return {
    listUserHistory: call<ListUserHistoryRequest, ListUserHistoryResponse>(client.listUserHistory, true),
    getUserStats: call<GetUserStatsRequest, GetUserStatsResponse>(client.getUserStats, true),
    health: (service, deadlineMs = opts.deadlineMs) => healthProbe.check(service, deadlineMs),
    close() {
      client.close();
      healthProbe.close();
    },
  };
}
