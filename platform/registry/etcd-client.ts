/**
 * An etcd3 client tuned for registration and discovery: every unary call has a deadline, a failed member is
 * skipped for a short while only, and watch streams reconnect within about a second instead of 30 s.
 */

import { setTimeout as delay } from "node:timers/promises";
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from "cockatiel";
import { Etcd3, type IOptions, isRecoverableError } from "etcd3";
import type { ClientTls } from "../tls-config.js";

type FaultHandling = NonNullable<IOptions["faultHandling"]>;

export interface EtcdClientOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  /** Deadline of every unary call (default 5 s); streams (watch, keepalive) have none. */
  readonly callTimeoutMs?: number;
  /** Longest wait between two attempts to re-open a watch stream (default 1 s). */
  readonly maxWatchBackoffMs?: number;
  /** TLS to https:// endpoints: the CA of the members' certificates, and this client's certificate if they ask. */
  readonly tls?: ClientTls | undefined;
}

interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

/** Exponential backoff with jitter: attempt n waits between half and all of min(max, initial × 2ⁿ). */
/** Resolves after ms, or as soon as the signal aborts; never rejects. */
export const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => {});

export function jitteredDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

function watchBackoff(initialMs: number, maxMs: number, attempt = 0): Backoff {
  return {
    duration: jitteredDelay(attempt, initialMs, maxMs),
    next: () => watchBackoff(initialMs, maxMs, attempt + 1),
  };
}

/** Splits `ETCD_ENDPOINTS`-style text (comma-separated URLs) into a list. */
export function parseEndpoints(text: string): string[] {
  return text
    .split(",")
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== "");
}

const recoverable = handleWhen((error) => error instanceof Error && isRecoverableError(error));

export function createEtcdClient(opts: EtcdClientOptions): Etcd3 {
  if (opts.endpoints.length === 0) throw new RangeError("at least one etcd endpoint is needed");
  const callTimeoutMs = opts.callTimeoutMs ?? 5_000;
  const tls = opts.tls;
  return new Etcd3({
    hosts: [...opts.endpoints],
    ...(tls
      ? {
          credentials: {
            rootCertificate: tls.ca,
            ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}),
          },
        }
      : {}),
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    // The library's defaults (a breaker open for 5 s after 3 failures, 30 s watch backoff) would keep a
    // client away from an etcd that has come back for longer than a short lease lives.
    // etcd3 is typed against cockatiel 3; the policies of cockatiel 4 have the same run-time shape
    // (execute, onSuccess, onFailure), hence the casts.
    faultHandling: {
      host: () =>
        circuitBreaker(recoverable, {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(3),
        }) as unknown as ReturnType<NonNullable<FaultHandling["host"]>>,
      global: retry(recoverable, { maxAttempts: Math.max(2, opts.endpoints.length) }) as unknown as NonNullable<
        FaultHandling["global"]
      >,
      watchBackoff: watchBackoff(100, opts.maxWatchBackoffMs ?? 1_000),
    },
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
      // Notices a member that stopped answering (frozen, partitioned) on an open stream. etcd refuses pings
      // more often than every 5 s (--grpc-keepalive-min-time).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
    },
  });
}
