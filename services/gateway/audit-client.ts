/**
 * The gateway's typed client of the audit service (a user's history): the generated grpc-js client with a
 * deadline on every call, the request id in metadata, a capped reconnect backoff, a retry of the (idempotent)
 * read on UNAVAILABLE, and gRPC failures turned into the one error model like the users client's.
 */
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  AuditServiceClient,
  type ListUserHistoryRequest,
  type ListUserHistoryResponse,
} from "../../generated/proto/charter/audit/v1/audit.js";
import type { Logger } from "../../platform/logging.js";
import {
  type CallContext,
  createHealthProbe,
  fromServiceError,
  type HealthStatus,
  usersChannelOptions,
} from "./users-client.js";

export interface AuditClient {
  listUserHistory(request: ListUserHistoryRequest, ctx?: CallContext): Promise<ListUserHistoryResponse>;
  /** grpc.health.v1 Check of one service name ("" = the whole server); never throws. */
  health(service: string, deadlineMs?: number): Promise<HealthStatus>;
  close(): void;
}

export interface AuditClientOptions {
  /** A grpc-js target, e.g. "127.0.0.1:50061". */
  readonly target: string;
  /** Default deadline of every call. */
  readonly deadlineMs: number;
  readonly logger?: Logger;
}

const AUDIT_SERVICE = "charter.audit.v1.AuditService";

/** round_robin, and up to two more attempts of the read on UNAVAILABLE. */
export const AUDIT_SERVICE_CONFIG = {
  loadBalancingConfig: [{ round_robin: {} }],
  methodConfig: [
    {
      name: [{ service: AUDIT_SERVICE, method: "ListUserHistory" }],
      retryPolicy: {
        maxAttempts: 3,
        initialBackoff: "0.02s",
        maxBackoff: "0.1s",
        backoffMultiplier: 2,
        retryableStatusCodes: ["UNAVAILABLE"],
      },
    },
  ],
};

export function createAuditClient(opts: AuditClientOptions): AuditClient {
  const channelOptions = {
    ...usersChannelOptions(),
    "grpc.service_config": JSON.stringify(AUDIT_SERVICE_CONFIG),
  };
  const client = new AuditServiceClient(opts.target, credentials.createInsecure(), channelOptions);
  const healthProbe = createHealthProbe(opts.target, channelOptions);
  return {
    listUserHistory(request, ctx) {
      const metadata = new Metadata();
      if (ctx?.requestId) metadata.set("x-request-id", ctx.requestId);
      const deadline = Date.now() + (ctx?.deadlineMs ?? opts.deadlineMs);
      return new Promise((resolve, reject) => {
        client.listUserHistory(request, metadata, { deadline }, (error: ServiceError | null, response) =>
          error ? reject(fromServiceError(error, "audit")) : resolve(response),
        );
      });
    },
    health: (service, deadlineMs = opts.deadlineMs) => healthProbe.check(service, deadlineMs),
    close() {
      client.close();
      healthProbe.close();
    },
  };
}
