/**
 * Leases a worker id unique among the running instances of a service: `/charter/workers/<service>/<id>` is
 * created only if absent (a transaction comparing its create revision with 0), under a lease of its own that
 * this module keeps alive itself, one keepalive at a time, noting when each confirmed keepalive was SENT.
 *
 * The id may be used only while current() returns it: until `ttl − 1 s` after the send time of the last
 * confirmed keepalive (or of the grant). etcd cannot have expired the lease before `send time + ttl`, and
 * nobody else can create the key before it has, so two holders never overlap — across a partition too — as
 * long as clocks run at about the same speed (the 1 s margin). When the lease is lost (etcd says so, or no
 * keepalive is confirmed for a whole TTL) the holding ends, the lease is revoked if etcd still answers, and a
 * new id — possibly the same, possibly another — is leased, with jittered backoff and no retry ceiling. Each
 * holding has its own `generation`, so a caller can start afresh (a new id generator) on every change.
 */
import type { Etcd3, Lease } from "etcd3";
import { EtcdLeaseInvalidError } from "etcd3";
import { AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import { createSnowflake, type SnowflakeGenerator } from "../snowflake.js";
import type { ClientTls } from "../tls-config.js";
import { createEtcdClient, jitteredDelay, sleepUnlessAborted } from "./etcd-client.js";

export const WORKERS_PREFIX = "/charter/workers/";

export interface WorkerIdLeaseOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (https:// endpoints), see EtcdClientOptions. */
  readonly tls?: ClientTls | undefined;
  /** The service whose instances share the id space (a key segment, e.g. `users`). */
  readonly service: string;
  /** Stored as the key's value, to show who holds an id. */
  readonly instanceId: string;
  /** Lease TTL in whole seconds, at least 2 (default 5): an id is usable for TTL − 1 s after a confirmation. */
  readonly leaseTtlSeconds?: number;
  /** Ids 0..maxWorkerId (default 1023). */
  readonly maxWorkerId?: number;
  readonly logger: Logger;
  /** How often a keepalive is sent (default (TTL − 1 s) / 4, between 100 ms and 1 s). */
  readonly keepaliveIntervalMs?: number;
  /** Backoff between acquisition attempts: from initialDelayMs doubling up to maxDelayMs (100 ms → 1 s). */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Key root (default `/charter/workers/`). */
  readonly root?: string;
  /** The clock (tests); default Date.now. */
  readonly now?: () => number;
}

export interface WorkerIdHolding {
  readonly workerId: number;
  /** 1 for the first holding, +1 for each later one (same id or not). */
  readonly generation: number;
}

export interface WorkerIdLeaseState {
  readonly status: "idle" | "acquiring" | "held" | "stopped";
  readonly workerId: number | undefined;
  readonly generation: number;
  /** Whether the id may be used now (see current()). */
  readonly usable: boolean;
  readonly lastError: string | undefined;
}

export interface WorkerIdLease {
  /** Starts acquiring; resolves once an id is first held, or when stop() is called first. Keeps trying. */
  start(): Promise<void>;
  /** The id to use now, or undefined when none is held or its lease has gone unconfirmed for TTL − 1 s. */
  current(): WorkerIdHolding | undefined;
  /** Revokes the lease (the id is free at once), then closes the client. Idempotent. */
  stop(): Promise<void>;
  state(): WorkerIdLeaseState;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createWorkerIdLease(opts: WorkerIdLeaseOptions): WorkerIdLease {
  const ttl = opts.leaseTtlSeconds ?? 5;
  if (!Number.isInteger(ttl) || ttl < 2) throw new RangeError(`a worker id lease needs a TTL of 2 s or more: ${ttl}`);
  const maxWorkerId = opts.maxWorkerId ?? 1023;
  const root = `${opts.root ?? WORKERS_PREFIX}${opts.service}/`;
  const usableMs = (ttl - 1) * 1000;
  const intervalMs = opts.keepaliveIntervalMs ?? Math.min(1_000, Math.max(100, usableMs / 4));
  const initialDelayMs = opts.retry?.initialDelayMs ?? 100;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 1_000;
  const now = opts.now ?? Date.now;
  const log = opts.logger.child({ component: "worker-id-lease", service: opts.service, instanceId: opts.instanceId });
  const value = JSON.stringify({ instanceId: opts.instanceId });

  let client: Etcd3 | undefined;
  let status: WorkerIdLeaseState["status"] = "idle";
  let holding: WorkerIdHolding | undefined;
  let generation = 0;
  /** Send time of the last confirmed keepalive (or grant) of the current holding's lease. */
  let confirmedAt = 0;
  let lastError: string | undefined;
  let lease: Lease | undefined;
  let stopRequested = false;
  const stopSignal = new AbortController();
  let running: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let firstHeld: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    firstHeld = resolve;
  });

  const sleep = (ms: number) => sleepUnlessAborted(ms, stopSignal.signal);

  const retire = (old: Lease) => {
    old.revoke().catch((error: unknown) => log.debug({ err: message(error) }, "could not revoke an old lease"));
  };

  /** Grants a lease and creates the first free key under it; undefined when every id is taken. */
  async function acquire(etcd: Etcd3): Promise<{ lease: Lease; workerId: number; grantedAt: number } | undefined> {
    const candidate = etcd.lease(ttl, { autoKeepAlive: false });
    candidate.on("lost", () => {}); // a failed grant rejects grant() below as well
    lease = candidate;
    const grantedAt = now();
    try {
      const leaseId = await candidate.grant();
      const taken = new Set((await etcd.getAll().prefix(root).keys()).map((key) => Number(key.slice(root.length))));
      // Start at a random id, so instances starting together rarely race for the same one.
      const offset = Math.floor(Math.random() * (maxWorkerId + 1));
      for (let i = 0; i <= maxWorkerId && !stopRequested; i++) {
        const workerId = (offset + i) % (maxWorkerId + 1);
        if (taken.has(workerId)) continue;
        const key = `${root}${workerId}`;
        const result = await etcd.if(key, "Create", "==", 0).then(etcd.put(key).value(value).lease(leaseId)).commit();
        if (result.succeeded) return { lease: candidate, workerId, grantedAt };
      }
      retire(candidate);
      return undefined;
    } catch (error) {
      retire(candidate);
      throw error;
    }
  }

  /** Keeps the lease alive until it is lost or stop() is called; returns why it ended. */
  async function keepAlive(current: Lease): Promise<string> {
    while (!stopRequested) {
      await sleep(intervalMs);
      if (stopRequested) break;
      const sentAt = now();
      try {
        await current.keepaliveOnce({ deadline: sentAt + Math.max(intervalMs, 1_000) });
        confirmedAt = Math.max(confirmedAt, sentAt);
      } catch (error) {
        if (error instanceof EtcdLeaseInvalidError) return "etcd no longer knows the lease";
        log.debug({ err: message(error) }, "keepalive failed");
      }
      if (now() - confirmedAt >= ttl * 1000) return `no keepalive confirmed for ${ttl} s`;
    }
    return "stopping";
  }

  async function run(etcd: Etcd3): Promise<void> {
    let failures = 0;
    let previous: number | undefined;
    while (!stopRequested) {
      status = "acquiring";
      let got: Awaited<ReturnType<typeof acquire>>;
      try {
        got = await acquire(etcd);
        if (!got) throw new Error(`all ${maxWorkerId + 1} worker ids are taken`);
      } catch (error) {
        lastError = message(error);
        failures += 1;
        if (failures === 1) log.warn({ err: lastError }, "cannot lease a worker id yet; retrying");
        else log.debug({ err: lastError, attempt: failures }, "worker id attempt failed");
        await sleep(jitteredDelay(failures - 1, initialDelayMs, maxDelayMs));
        continue;
      }
      if (stopRequested) break;
      failures = 0;
      generation += 1;
      confirmedAt = got.grantedAt;
      holding = { workerId: got.workerId, generation };
      status = "held";
      log.info({ workerId: got.workerId, generation, previous, ttl }, "worker id leased");
      firstHeld();
      const reason = await keepAlive(got.lease);
      holding = undefined;
      if (stopRequested) break;
      lastError = reason;
      previous = got.workerId;
      log.warn({ workerId: got.workerId, reason }, "worker id lease lost; leasing one again");
      retire(got.lease);
    }
  }

  const current = (): WorkerIdHolding | undefined => (holding && now() - confirmedAt < usableMs ? holding : undefined);

  return {
    start() {
      if (stopRequested) return Promise.reject(new Error("the worker id lease was stopped; create a new one"));
      if (!running) {
        status = "acquiring";
        const etcd = createEtcdClient({
          endpoints: opts.endpoints,
          tls: opts.tls,
          callTimeoutMs: Math.min(5_000, ttl * 1000),
        });
        client = etcd;
        running = run(etcd).catch((error: unknown) => {
          log.error({ err: message(error) }, "worker id loop failed");
        });
      }
      return held;
    },
    current,
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        holding = undefined;
        stopSignal.abort();
        firstHeld();
        const etcd = client;
        if (etcd && running) {
          await running;
          if (lease) {
            await lease.revoke().then(
              () => log.info("worker id released"),
              (error: unknown) =>
                log.warn({ err: message(error) }, "could not release the worker id; it expires with its lease"),
            );
          }
          etcd.close();
        }
        status = "stopped";
      })();
      return stopping;
    },
    state: () => ({ status, workerId: holding?.workerId, generation, usable: current() !== undefined, lastError }),
  };
}

/**
 * Snowflake ids under a leased worker id: a new generator for every holding, starting after the last
 * millisecond of the one before (ids of this process keep increasing whatever the ids). next() throws
 * UNAVAILABLE while no worker id is usable.
 */
export function createLeasedSnowflake(
  lease: Pick<WorkerIdLease, "current">,
  now: () => number = Date.now,
): Pick<SnowflakeGenerator, "next"> {
  let generator: SnowflakeGenerator | undefined;
  let generation = 0;
  return {
    next() {
      const holding = lease.current();
      if (!holding) {
        throw new AppError(
          "UNAVAILABLE",
          "this instance cannot mint ids now: its snowflake worker id is not confirmed by etcd; retry",
        );
      }
      if (!generator || holding.generation !== generation) {
        generator = createSnowflake(holding.workerId, now, generator ? { afterMs: generator.lastMs() } : {});
        generation = holding.generation;
      }
      return generator.next();
    },
  };
}
