/**
 * file_sd target files for deploy/prometheus/prometheus.yml: targets/gateway.json and targets/users.json,
 * each a list of `host:port` addresses whose /metrics Prometheus scrapes: given, or (users) found in etcd.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../platform/logging.js";
import { createEtcdDiscovery } from "../../platform/registry/etcd-discovery.js";
import type { Instance } from "../../platform/registry/instance.js";

export const SCRAPE_JOBS = ["gateway", "users"] as const;
export type ScrapeJob = (typeof SCRAPE_JOBS)[number];
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
  /** Where the file_sd files go. */
  readonly dir: string;
  /** The gateway's /metrics addresses: the gateway is the edge and does not register, so they are given. */
  readonly gateway: readonly string[];
  readonly logger: Logger;
  /** Called after every write with the targets written. */
  readonly onWrite?: (targets: ScrapeTargets) => void;
}

/**
 * Keeps targets/users.json equal to the `metricsAddress` of every users instance registered in etcd (watched, so
 * instances that come and go are added and dropped within a scrape or two), with targets/gateway.json as given.
 * Resolves once the first list is written; stop() ends the watch.
 */
export async function watchRegistryTargets(opts: RegistryTargetsOptions): Promise<{ stop(): Promise<void> }> {
  const discovery = createEtcdDiscovery({ endpoints: opts.endpoints, service: "users", logger: opts.logger });
  let writing = Promise.resolve();
  const write = (instances: readonly Instance[]) => {
    const users = instances.flatMap((instance) => (instance.metricsAddress ? [instance.metricsAddress] : []));
    const targets = { gateway: opts.gateway, users };
    writing = writing
      .then(() => writeTargets(opts.dir, targets))
      .then(
        () => opts.onWrite?.(targets),
        (error: unknown) => opts.logger.error({ err: error }, "could not write the scrape targets"),
      );
    return writing;
  };
  discovery.onChange((instances) => void write(instances));
  await discovery.start();
  await write(discovery.endpoints());
  return {
    async stop() {
      await discovery.stop();
      await writing;
    },
  };
}
