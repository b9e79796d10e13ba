/**
 * Registers one instance of a service in etcd: `/charter/services/<service>/<instance-id>` → JSON value, under a
 * lease kept alive by the client. Whatever takes the registration away — an etcd restart or partition that
 * outlives the lease, keepalive errors, a wiped etcd, the key deleted by hand — it grants a NEW lease and puts
 * the key again, with jittered backoff and no retry ceiling. stop() revokes the lease, so the key goes at once.
 *
 * The same loop, for any keys: createLeasedEntries() keeps a set of key/value pairs under one lease of its own
 * (and, if asked, puts shared pairs without a lease before each registration, for keys that must outlive every
 * instance). What the keys mean is the caller's; this module names no service.
 */
import type { Etcd3, Lease } from "etcd3";
import type { Logger } from "../logging.js";
import type { ClientTls } from "../tls-config.js";
import { createEtcdClient, jitteredDelay, sleepUnlessAborted } from "./etcd-client.js";
import { type InstanceValue, instanceKey, SERVICES_PREFIX } from "./instance.js";

export interface EtcdRegistrarOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (https:// endpoints), see EtcdClientOptions. */
  readonly tls?: ClientTls | undefined;
  readonly service: string;
  /** Unique among the running instances of the service; the last segment of the key. */
  readonly instanceId: string;
  readonly value: InstanceValue;
  /** Lease TTL in whole seconds (default 5): how long the key outlives an instance that dies without stop(). */
  readonly leaseTtlSeconds?: number;
  readonly logger: Logger;
  /** How often the key itself is checked (default half the TTL); a missing key or another lease re-registers. */
  readonly checkIntervalMs?: number;
  /** Backoff between registration attempts: from initialDelayMs doubling up to maxDelayMs (100 ms → 1 s). */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Key root (default `/charter/services/`). */
  readonly root?: string;
  /** Called on every keepalive etcd acknowledges (a lease renewal). */
  readonly onRenewal?: () => void;
  /** Called when a registration is lost (not on stop()), with the reason; registering again follows. */
  readonly onLost?: (reason: string) => void;
}

export type RegistrarStatus = "idle" | "registering" | "registered" | "lost" | "stopping" | "stopped";

export interface RegistrarState {
  readonly status: RegistrarStatus;
  readonly key: string;
  /** The lease the key is held under while registered (decimal string). */
  readonly leaseId: string | undefined;
  /** How many times the key was put: 1 after the first registration, +1 for every re-registration. */
  readonly registrations: number;
  /** When the current registration was made, or the last one was lost (ISO time). */
  readonly since: string | undefined;
  /** Why the last attempt failed or the last registration was lost. */
  readonly lastError: string | undefined;
}

export interface EtcdRegistrar {
  /**
   * Starts registering (call it once the service is SERVING). Resolves once the key is first registered, or
   * when stop() is called first; it keeps trying while etcd is unreachable, so don't await it if start-up
   * must not wait for etcd.
   */
  start(): Promise<void>;
  /** Revokes the lease (the key goes at once), then closes the client. Idempotent. */
  stop(): Promise<void>;
  state(): RegistrarState;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export interface LeasedEntry {
  readonly key: string;
  readonly value: string;
}

export interface LeasedEntriesOptions
  extends Pick<
    EtcdRegistrarOptions,
    "endpoints" | "tls" | "leaseTtlSeconds" | "checkIntervalMs" | "retry" | "onRenewal" | "onLost"
  > {
  /** Put under the lease (at least one): they go when the lease is revoked or expires. The first is checked. */
  readonly entries: readonly LeasedEntry[];
  /**
   * Put without a lease before every registration (shared by all instances, so never deleted by one): keys that
   * must stay when the last instance goes. Written again after a lost registration, e.g. into a wiped etcd.
   */
  readonly sharedEntries?: readonly LeasedEntry[];
  /** Already carries the caller's context (component, instance). */
  readonly logger: Logger;
}

export function createEtcdRegistrar(opts: EtcdRegistrarOptions): EtcdRegistrar {
  const { service, instanceId, value, root, logger, ...rest } = opts;
  return createLeasedEntries({
    ...rest,
    entries: [{ key: instanceKey(service, instanceId, root ?? SERVICES_PREFIX), value: JSON.stringify(value) }],
    logger: logger.child({ component: "etcd-registrar", service, instanceId }),
  });
}

/** Keeps `entries` in etcd under a lease of their own, registering again whenever they are lost (see the top). */
export function createLeasedEntries(opts: LeasedEntriesOptions): EtcdRegistrar {
  const ttl = opts.leaseTtlSeconds ?? 5;
  if (!Number.isInteger(ttl) || ttl < 1) throw new RangeError(`leaseTtlSeconds must be a whole number ≥ 1: ${ttl}`);
  const [first] = opts.entries;
  if (first === undefined) throw new RangeError("at least one entry to put under the lease is needed");
  const key = first.key;
  const checkIntervalMs = opts.checkIntervalMs ?? (ttl * 1000) / 2;
  const initialDelayMs = opts.retry?.initialDelayMs ?? 100;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 1_000;
  const log = opts.logger;

  let client: Etcd3 | undefined;
  let status: RegistrarStatus = "idle";
  let leaseId: string | undefined;
  let registrations = 0;
  let since: string | undefined;
  let lastError: string | undefined;
  /** Every lease granted or being granted and not yet revoked: stop() revokes them all. */
  const leases = new Set<Lease>();
  let stopRequested = false;
  const stopSignal = new AbortController();
  let running: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let firstRegistered: () => void = () => {};
  const registered = new Promise<void>((resolve) => {
    firstRegistered = resolve;
  });

  const sleep = (ms: number) => sleepUnlessAborted(ms, stopSignal.signal);

  /** Revokes a lease we no longer use; its keys have been put under a newer lease, or are gone anyway. */
  const retire = (lease: Lease) => {
    leases.delete(lease);
    lease.revoke().catch((error: unknown) => log.debug({ err: message(error) }, "could not revoke a retired lease"));
  };

  /**
   * Resolves with the reason when this registration is gone: the lease was lost (the client gave up on its
   * keepalives, or etcd answered that it does not know the lease), or a periodic read finds the key missing or
   * held by another lease. A failed read proves nothing and is ignored: keepalives judge reachability.
   */
  function untilGone(etcd: Etcd3, lease: Lease, id: string): Promise<string> {
    return new Promise<string>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (reason: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        lease.off("lost", onLost);
        lease.off("keepaliveSucceeded", onRenewal);
        stopSignal.signal.removeEventListener("abort", onStop);
        resolve(reason);
      };
      const onLost = (error: Error) => finish(`lease lost: ${error.message}`);
      const onRenewal = () => opts.onRenewal?.();
      const onStop = () => finish("stopping");
      const check = async () => {
        try {
          const response = await etcd.get(key).exec();
          const kv = response.kvs[0];
          if (!kv) return finish("key vanished");
          if (kv.lease !== id) return finish(`key is held by lease ${kv.lease}, not ${id}`);
        } catch (error) {
          log.debug({ err: message(error) }, "could not check the registration");
        }
        if (!settled) timer = setTimeout(check, checkIntervalMs);
      };
      if (stopSignal.signal.aborted) return finish("stopping");
      if (lease.revoked()) return finish("lease lost");
      lease.on("lost", onLost);
      lease.on("keepaliveSucceeded", onRenewal);
      stopSignal.signal.addEventListener("abort", onStop, { once: true });
      timer = setTimeout(check, checkIntervalMs);
    });
  }

  async function run(etcd: Etcd3): Promise<void> {
    let failures = 0;
    let lostAt: number | undefined;
    let previous: Lease | undefined;
    while (!stopRequested) {
      const lease = etcd.lease(ttl);
      leases.add(lease);
      // A lease whose grant fails emits `lost` too; the attempt's own rejection reports it.
      lease.on("lost", () => {});
      let id: string;
      try {
        id = await lease.grant();
        if (stopRequested) break;
        for (const shared of opts.sharedEntries ?? []) await etcd.put(shared.key).value(shared.value).exec();
        for (const entry of opts.entries) await lease.put(entry.key).value(entry.value).exec();
      } catch (error) {
        retire(lease);
        lastError = message(error);
        failures += 1;
        if (failures === 1) log.warn({ err: lastError, key }, "cannot register in etcd yet; retrying");
        else log.debug({ err: lastError, attempt: failures }, "registration attempt failed");
        await sleep(jitteredDelay(failures - 1, initialDelayMs, maxDelayMs));
        continue;
      }
      if (previous) retire(previous);
      previous = undefined;
      registrations += 1;
      leaseId = id;
      status = "registered";
      since = new Date().toISOString();
      if (lostAt === undefined) {
        log.info({ key, leaseId: id, ttl }, "registered in etcd");
      } else {
        log.info({ key, leaseId: id, downMs: Date.now() - lostAt, attempts: failures + 1 }, "re-registered in etcd");
      }
      failures = 0;
      firstRegistered();

      const reason = await untilGone(etcd, lease, id);
      if (stopRequested) break;
      previous = lease;
      leaseId = undefined;
      status = "lost";
      lostAt = Date.now();
      since = new Date(lostAt).toISOString();
      lastError = reason;
      log.warn({ key, reason }, "registration in etcd lost; registering again");
      opts.onLost?.(reason);
    }
  }

  return {
    start() {
      if (stopRequested) return Promise.reject(new Error("the registrar was stopped; create a new one"));
      if (!running) {
        status = "registering";
        const etcd = createEtcdClient({
          endpoints: opts.endpoints,
          tls: opts.tls,
          callTimeoutMs: Math.min(5_000, Math.max(1_000, ttl * 1000)),
        });
        client = etcd;
        running = run(etcd).catch((error: unknown) => {
          // run() handles every etcd error itself: this is a bug, but never a crash of the service.
          log.error({ err: message(error) }, "registration loop failed");
        });
      }
      return registered;
    },
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        const etcd = client;
        if (!etcd || !running) {
          status = "stopped";
          firstRegistered();
          return;
        }
        status = "stopping";
        stopSignal.abort();
        firstRegistered();
        await running; // an attempt in flight ends within the call deadline
        // Revoke before close: a closed client with a live lease retries keepalives until the lease is lost.
        const results = await Promise.allSettled([...leases].map((lease) => lease.revoke()));
        leases.clear();
        const failed = results.find((result) => result.status === "rejected");
        if (failed) {
          log.warn({ key, err: message(failed.reason) }, "could not revoke the lease; the key expires with it");
        } else if (registrations > 0) {
          log.info({ key }, "deregistered from etcd");
        }
        leaseId = undefined;
        etcd.close();
        status = "stopped";
      })();
      return stopping;
    },
    state: () => ({ status, key, leaseId, registrations, since, lastError }),
  };
}
