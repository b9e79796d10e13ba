/**
 * file_sd target files for deploy/prometheus/prometheus.yml: targets/gateway.json, targets/users.json and
 * targets/audit.json, each a list of `host:port` addresses whose /metrics Prometheus scrapes: given, or (the
 * services that register) found in etcd.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../platform/logging.js";
import { createEtcdDiscovery } from "../../platform/registry/etcd-discovery.js";
import type { Instance } from "../../platform/registry/instance.js";
import type { ClientTls } from "../../platform/tls-config.js";

export const SCRAPE_JOBS = ["gateway", "users", "audit"] as const;
export type ScrapeJob = (typeof SCRAPE_JOBS)[number];
/** The jobs whose instances register in etcd under the job's name (the gateway, the edge, does not). */
export const REGISTERED_JOBS = ["users", "audit"] as const satisfies readonly ScrapeJob[];
export type ScrapeTargets = Readonly<Record<ScrapeJob, readonly string[]>>;

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/** Splits a comma-separated list of `host:port` addresses; throws naming `source` on a malformed one. */
export function parseTargets(list: string, source: string): string[] {
  const targets = list
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const target of targets) {
    const port = Number(ADDRESS.exec(target)?.[2]);
    if (!(port >= 1 && port <= 65_535)) {
      throw new Error(`${source}: "${target}" is not a host:port address (e.g. 127.0.0.1:9464)`);
    }
  }
  return targets;
}

/**
 * Writes one file_sd file per job into `dir`. Each file is written beside its final name and renamed over it,
 * so a Prometheus watching the directory never reads half a file.
 */
export async function writeTargets(dir: string, targets: ScrapeTargets): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const job of SCRAPE_JOBS) {
    const path = join(dir, `${job}.json`);
    const groups = targets[job].length > 0 ? [{ targets: [...targets[job]] }] : [];
    await writeFile(`${path}.tmp`, `${JSON.stringify(groups, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    written.push(path);
  }
  return written;
}

export interface RegistryTargetsOptions {
  /** etcd client URLs (ETCD_ENDPOINTS). */
  readonly endpoints: readonly string[];
  /** TLS to etcd (https endpoints with client certificates). */
  readonly tls?: ClientTls | undefined;
  /** Where the file_sd files go. */
  readonly dir: string;
  /** The gateway's /metrics addresses: the gateway is the edge and does not register, so they are given (see setGateway). */
  readonly gateway: readonly string[];
  readonly logger: Logger;
  /** Called after every write with the targets written. */
  readonly onWrite?: (targets: ScrapeTargets) => void;
}

export interface RegistryTargets {
  /** Replaces the gateway's addresses and writes the files again; resolves once they are written. */
  setGateway(addresses: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps targets/users.json and targets/audit.json equal to the `metricsAddress` of every instance of those
 * services registered in etcd (watched, so instances that come and go are added and dropped within a scrape or
 * two), with targets/gateway.json as given. Resolves once the first lists are written; stop() ends the watches.
 * Writes are serialised, so one watcher per directory never races itself.
 */
export async function watchRegistryTargets(opts: RegistryTargetsOptions): Promise<RegistryTargets> {
  const discoveries = REGISTERED_JOBS.map((job) => ({
    job,
    discovery: createEtcdDiscovery({ endpoints: opts.endpoints, tls: opts.tls, service: job, logger: opts.logger }),
  }));
  const metricsAddresses = (instances: readonly Instance[]) =>
    instances.flatMap((instance) => (instance.metricsAddress ? [instance.metricsAddress] : []));
  let gateway = [...opts.gateway];
  let writing = Promise.resolve();
  const write = () => {
    const targets: ScrapeTargets = {
      gateway,
      ...(Object.fromEntries(
        discoveries.map(({ job, discovery }) => [job, metricsAddresses(discovery.endpoints())]),
      ) as Record<(typeof REGISTERED_JOBS)[number], string[]>),
    };
    writing = writing
      .then(() => writeTargets(opts.dir, targets))
      .then(
        () => opts.onWrite?.(targets),
        (error: unknown) => opts.logger.error({ err: error }, "could not write the scrape targets"),
      );
    return writing;
  };
  for (const { discovery } of discoveries) discovery.onChange(() => void write());
  await Promise.all(discoveries.map(({ discovery }) => discovery.start()));
  await write();
  return {
    setGateway(addresses) {
      gateway = [...addresses];
      return write();
    },
    async stop() {
      await Promise.all(discoveries.map(({ discovery }) => discovery.stop()));
      await writing;
    },
  };
}
