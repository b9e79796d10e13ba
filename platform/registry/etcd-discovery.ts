/**
 * Discovers the instances of a service registered under `/charter/services/<service>/`: a get of the prefix,
 * then a watch from the next revision. Puts and deletes are applied by key (a delete carries no value). Any
 * doubt about the watch — it was cancelled (compaction, or etcd's own reasons), it errored, or it reconnected
 * (etcd may have restarted, possibly with its data gone: its watchers then see no deletes and skip new puts,
 * and the only sign is a header revision going backwards) — is settled by a resync: a fresh get replaces the
 * whole list and a new watch starts after it. While etcd is unreachable the last known list is kept.
 *
 * A watch can also go wrong without any sign: etcd 3.4.23 drops the pending events of a slow watcher whose
 * next revision gets compacted, without sending it the compaction cancel (etcd issue #17529, fixed in later
 * patch releases). So the list is also compared with a fresh get every `verifyIntervalMs`; if they differ, a
 * resync follows (a put still on its way through the watch can cause an unneeded resync, never a wrong list).
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from "etcd3";
import type { Logger } from "../logging.js";
import type { ClientTls } from "../tls-config.js";
import { createEtcdClient, jitteredDelay, sleepUnlessAborted } from "./etcd-client.js";
import { type Instance, parseInstance, SERVICES_PREFIX, servicePrefix } from "./instance.js";

export interface EtcdDiscoveryOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (https:// endpoints), see EtcdClientOptions. */
  readonly tls?: ClientTls | undefined;
  readonly service: string;
  readonly logger: Logger;
  /** Backoff between resync attempts while etcd does not answer (100 ms doubling up to 1 s). */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** How often the list is compared with a fresh get (default 10 s); 0 turns the comparison off. */
  readonly verifyIntervalMs?: number;
  /** Key root (default `/charter/services/`). */
  readonly root?: string;
}

export interface DiscoveryState {
  /** A get has succeeded at least once. */
  readonly synced: boolean;
  /** The watch stream is open (false while etcd is unreachable: the list is then the last known one). */
  readonly watching: boolean;
  /** The etcd revision the list reflects. */
  readonly revision: number;
  /** How many times the list was replaced by a fresh get (the first sync included). */
  readonly syncs: number;
  readonly lastError: string | undefined;
}

export type DiscoveryListener = (instances: readonly Instance[]) => void;

export interface EtcdDiscovery {
  /** Starts discovering; resolves after the first successful get (or when stop() is called first). */
  start(): Promise<void>;
  /** Cancels the watch and closes the client. Idempotent. */
  stop(): Promise<void>;
  /** The known instances, ordered by key. The same array until the list changes. */
  endpoints(): readonly Instance[];
  /** Calls `listener` with the new list whenever it changes; returns the unsubscribe function. */
  onChange(listener: DiscoveryListener): () => void;
  state(): DiscoveryState;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sameInstance = (a: Instance | undefined, b: Instance) =>
  a !== undefined &&
  a.key === b.key &&
  a.address === b.address &&
  a.version === b.version &&
  a.zone === b.zone &&
  a.startedAt === b.startedAt &&
  a.metricsAddress === b.metricsAddress;

export function createEtcdDiscovery(opts: EtcdDiscoveryOptions): EtcdDiscovery {
  const prefix = servicePrefix(opts.service, opts.root ?? SERVICES_PREFIX);
  const initialDelayMs = opts.retry?.initialDelayMs ?? 100;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 1_000;
  const verifyIntervalMs = opts.verifyIntervalMs ?? 10_000;
  const log = opts.logger.child({ component: "etcd-discovery", service: opts.service });

  let client: Etcd3 | undefined;
  const entries = new Map<string, Instance>();
  let snapshot: readonly Instance[] = Object.freeze([]);
  const listeners = new Set<DiscoveryListener>();
  let revision = 0;
  let syncs = 0;
  let watching = false;
  let lastError: string | undefined;
  let watcher: Watcher | undefined;
  /** Bumped for every new watcher: events of an older one are ignored. */
  let generation = 0;
  let resyncing: Promise<void> | undefined;
  let resyncAgain = false;
  let stopped = false;
  let verifyTimer: NodeJS.Timeout | undefined;
  const stopSignal = new AbortController();
  let firstSync: () => void = () => {};
  const synced = new Promise<void>((resolve) => {
    firstSync = resolve;
  });

  const sleep = (ms: number) => sleepUnlessAborted(ms, stopSignal.signal);

  /** Publishes the map if it differs from what listeners last saw. */
  function publish(): void {
    const next = [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (next.length === snapshot.length && next.every((instance, i) => sameInstance(snapshot[i], instance))) return;
    snapshot = Object.freeze(next);
    log.info({ instances: snapshot.map((i) => `${i.id}@${i.address}`) }, "instances changed");
    for (const listener of listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        log.error({ err: message(error) }, "a discovery listener threw");
      }
    }
  }

  const toInstance = (kv: IKeyValue) => {
    const key = kv.key.toString();
    const instance = parseInstance(key, prefix, kv.value.toString());
    if (!instance) log.warn({ key }, "ignoring an entry that is not an instance value");
    return instance;
  };

  /** Stops listening to the current watcher and cancels it; the result is for stop() only. */
  function detachWatcher(): Promise<void> {
    generation += 1;
    watching = false;
    const old = watcher;
    watcher = undefined;
    // Not awaited here: cancelling waits for etcd's answer, which a dead stream never gives.
    return old ? old.cancel().catch(() => {}) : Promise.resolve();
  }

  function attachWatcher(etcd: Etcd3, fromRevision: number): void {
    const mine = ++generation;
    const current = () => mine === generation && !stopped;
    let connectedOnce = false;
    let changed = false;
    const w = etcd
      .watch()
      .prefix(prefix)
      .startRevision(String(fromRevision + 1))
      .watcher();
    watcher = w;
    w.on("connected", (response: IWatchResponse) => {
      if (!current()) return;
      watching = true;
      const headerRevision = Number(response.header.revision);
      if (!connectedOnce) {
        connectedOnce = true;
        if (headerRevision < revision) resync(`etcd revision went backwards (${revision} → ${headerRevision})`);
        return;
      }
      // Reconnected: etcd may have restarted, and if it lost its data this watch would miss puts and never
      // deliver the deletes. A revision going backwards says so for sure; a fresh get settles every case.
      resync(
        headerRevision < revision
          ? `etcd revision went backwards (${revision} → ${headerRevision})`
          : "watch reconnected",
      );
    });
    w.on("disconnected", (error: Error) => {
      if (!current() || !watching) return;
      watching = false;
      lastError = message(error);
      log.warn({ err: lastError, known: snapshot.length }, "etcd watch disconnected; keeping the known instances");
    });
    w.on("put", (kv: IKeyValue) => {
      if (!current()) return;
      const instance = toInstance(kv);
      if (instance) entries.set(instance.key, instance);
      else entries.delete(kv.key.toString());
      changed = true;
    });
    w.on("delete", (kv: IKeyValue) => {
      if (!current()) return;
      changed = entries.delete(kv.key.toString()) || changed;
    });
    // Emitted after the put/delete events of one response: publish once per response.
    w.on("data", (response: IWatchResponse) => {
      if (!current()) return;
      revision = Math.max(revision, Number(response.header.revision));
      if (changed) {
        changed = false;
        publish();
      }
    });
    w.on("error", (error: Error) => {
      if (!current()) return;
      lastError = message(error);
      resync(`watch cancelled: ${lastError}`);
    });
  }

  /** Replaces the list with a fresh get and restarts the watch after it; retries until it succeeds. */
  function resync(reason: string): void {
    if (stopped || !client) return;
    if (resyncing) {
      resyncAgain = true;
      return;
    }
    const etcd = client;
    if (syncs > 0) log.info({ reason }, "resyncing from etcd");
    resyncing = (async () => {
      for (let attempt = 0; !stopped; ) {
        resyncAgain = false;
        detachWatcher();
        try {
          const response = await etcd.getAll().prefix(prefix).exec();
          if (stopped) return;
          const headerRevision = Number(response.header.revision);
          entries.clear();
          for (const kv of response.kvs) {
            const instance = toInstance(kv);
            if (instance) entries.set(instance.key, instance);
          }
          revision = headerRevision;
          syncs += 1;
          publish();
          firstSync();
          attachWatcher(etcd, headerRevision);
          if (!resyncAgain) return;
        } catch (error) {
          lastError = message(error);
          if (attempt === 0) log.warn({ err: lastError, known: snapshot.length }, "cannot read from etcd; retrying");
          await sleep(jitteredDelay(attempt, initialDelayMs, maxDelayMs));
          attempt += 1;
        }
      }
    })().finally(() => {
      resyncing = undefined;
    });
  }

  /** Compares the list with a fresh get; a difference means the watch missed something: resync. */
  async function verify(etcd: Etcd3): Promise<void> {
    if (stopped) return;
    if (!resyncing && syncs > 0) {
      const watched = generation;
      try {
        const response = await etcd.getAll().prefix(prefix).exec();
        const fresh = new Map<string, Instance>();
        for (const kv of response.kvs) {
          const instance = parseInstance(kv.key.toString(), prefix, kv.value.toString());
          if (instance) fresh.set(instance.key, instance);
        }
        const same =
          fresh.size === entries.size && [...fresh.values()].every((i) => sameInstance(entries.get(i.key), i));
        if (!same && !stopped && !resyncing && watched === generation) {
          resync(`the list differed from etcd at revision ${response.header.revision}`);
        }
      } catch (error) {
        log.debug({ err: message(error) }, "could not verify the list");
      }
    }
    if (!stopped) {
      verifyTimer = setTimeout(() => void verify(etcd), verifyIntervalMs);
      verifyTimer.unref();
    }
  }

  return {
    start() {
      if (stopped) return Promise.reject(new Error("the discovery was stopped; create a new one"));
      if (!client) {
        const etcd = createEtcdClient({ endpoints: opts.endpoints, tls: opts.tls });
        client = etcd;
        resync("start");
        if (verifyIntervalMs > 0) {
          verifyTimer = setTimeout(() => void verify(etcd), verifyIntervalMs);
          verifyTimer.unref();
        }
      }
      return synced;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopSignal.abort();
      clearTimeout(verifyTimer);
      firstSync();
      const cancelling = detachWatcher();
      await resyncing;
      // Let the cancel reach etcd before closing (a watcher left attached to a closed client keeps trying
      // to reconnect), but never wait on a dead stream for long.
      await Promise.race([cancelling, delay(1_000)]);
      client?.close();
      listeners.clear();
    },
    endpoints: () => snapshot,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    state: () => ({ synced: syncs > 0, watching, revision, syncs, lastError }),
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
