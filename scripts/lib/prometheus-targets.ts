/**
 * file_sd target files for deploy/prometheus/prometheus.yml: targets/gateway.json and targets/users.json,
 * each a list of `host:port` addresses whose /metrics Prometheus scrapes.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

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
