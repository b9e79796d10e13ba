/**
 * The erasure function: when a user is deleted (USER_EVENT_TYPE_DELETED), it asks the audit service to erase the
 * user's name and e-mail from their history once the retention has passed — EraseUserHistory with erase_after =
 * occurredAt + ERASURE_RETENTION_S (0: at once; later: the audit service keeps a pending erasure and carries it out
 * when it is due). It calls as the platform's functions client (scope users:erase), with client credentials from
 * the platform's issuer. Other events are accepted and ignored. Idempotent: a redelivered DELETED event asks for
 * the same erasure, which erases nothing more.
 */
import { credentials as grpcCredentials, Metadata, status } from "@grpc/grpc-js";
import type { CloudEvent } from "cloudevents";
import type { Context } from "faas-js-runtime";
import {
  AuditServiceClient,
  type EraseUserHistoryRequest,
  type EraseUserHistoryResponse,
} from "../../generated/proto/charter/audit/v1/audit.js";
import { envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { grpcClientCredentials } from "../../platform/grpc-credentials.js";
import { createLogger, type Logger } from "../../platform/logging.js";
import { type MutualTls, mutualTls } from "../../platform/tls-config.js";
import { httpError, type PlatformClientConfig, platformClientConfig, platformToken } from "../function-config.js";
import { UserEventType, userEventOf } from "../user-event.js";

export const ERASE_SCOPES = ["users:erase"] as const;

/** When the erasure is due: the deletion's time plus the retention. */
export const eraseAfterOf = (occurredAt: string, retentionS: number): string =>
  new Date(Date.parse(occurredAt) + retentionS * 1000).toISOString();

/** gRPC codes worth another delivery (the audit service away, overloaded or slow, or a token refused meanwhile). */
const TRANSIENT = new Set<number>([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.INTERNAL,
  status.UNKNOWN,
  status.UNAUTHENTICATED,
]);

export interface ErasureConfig {
  /** AUDIT_ADDR: the audit service's gRPC target (host:port or dns:///name:port). */
  readonly auditAddr: string;
  readonly tls: MutualTls | undefined;
  readonly client: PlatformClientConfig;
  /** ERASURE_RETENTION_S: how long after the deletion the history is erased. */
  readonly retentionS: number;
  /** ERASURE_DEADLINE_MS: how long one EraseUserHistory call may take. */
  readonly deadlineMs: number;
  readonly logLevel: LogLevel;
}

/** The erasure function's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadErasureConfig(env: Readonly<Record<string, string | undefined>> = process.env): ErasureConfig {
  const e = envReader(env);
  return {
    auditAddr: e.string("AUDIT_ADDR", "127.0.0.1:50061"),
    tls: mutualTls(e, "GRPC_TLS"),
    client: platformClientConfig(e),
    retentionS: e.int("ERASURE_RETENTION_S", 30 * 24 * 3600, 0, 10 * 365 * 24 * 3600),
    deadlineMs: e.int("ERASURE_DEADLINE_MS", 5_000, 100, 120_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}

interface State {
  readonly client: AuditServiceClient;
  readonly token: () => Promise<string>;
  readonly retentionS: number;
  readonly deadlineMs: number;
  readonly logger: Logger;
}
let state: State | undefined;

export function init(): void {
  const config = loadErasureConfig();
  state = {
    client: new AuditServiceClient(
      config.auditAddr,
      config.tls ? grpcClientCredentials(config.tls) : grpcCredentials.createInsecure(),
    ),
    token: platformToken(config.client, ERASE_SCOPES),
    retentionS: config.retentionS,
    deadlineMs: config.deadlineMs,
    logger: createLogger("function-erasure", config.logLevel),
  };
}

export function shutdown(): void {
  state?.client.close();
}

function erase(s: State, request: EraseUserHistoryRequest, token: string): Promise<EraseUserHistoryResponse> {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    s.client.eraseUserHistory(request, metadata, { deadline: Date.now() + s.deadlineMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

export async function handle(_context: Context, event?: CloudEvent<unknown>): Promise<undefined> {
  const s = state;
  if (!s) throw httpError(503, "the erasure function is not initialised");
  const userEvent = userEventOf(event);
  if (userEvent.type !== UserEventType.USER_EVENT_TYPE_DELETED) return undefined;
  const request = { userId: userEvent.userId, eraseAfter: eraseAfterOf(userEvent.occurredAt as string, s.retentionS) };
  let token: string;
  try {
    token = await s.token();
  } catch (error) {
    s.logger.error({ err: error }, "no token for the audit service");
    throw httpError(503, "no token for the audit service");
  }
  try {
    const response = await erase(s, request, token);
    s.logger.info(
      {
        userId: userEvent.userId,
        eventId: userEvent.eventId,
        eraseAfter: request.eraseAfter,
        erasedEvents: response.erasedEvents,
        pending: response.pending,
      },
      response.pending ? "erasure recorded for later" : "history erased",
    );
    return undefined;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const transient = typeof code === "number" && TRANSIENT.has(code);
    s.logger.warn({ userId: userEvent.userId, eventId: userEvent.eventId, grpcCode: code }, "EraseUserHistory failed");
    // The runtime answers with the error's code: 503 brings the event again, 422 sets it aside.
    throw httpError(transient ? 503 : 422, `EraseUserHistory failed with gRPC code ${String(code)}`);
  }
}
