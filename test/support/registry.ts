/** Helpers for the registry tests: waiting on conditions, capturing logs, reading etcd directly. */
import { Writable } from "node:stream";
import { after } from "node:test";
import type { Etcd3 } from "etcd3";
import { pino } from "pino";
import type { Logger } from "../../platform/logging.js";
import { createEtcdClient } from "../../platform/registry/etcd-client.js";
import { type RunningServer, startEtcd } from "../../scripts/infra/index.js";
import { waitFor as waitUntilDefined } from "../../scripts/lib/processes.js";

/** Polls `condition` until it returns a truthy value (returned) or `timeoutMs` passes (throws `what`). */
export const waitFor = <T>(
  what: string,
  condition: () => T | Promise<T>,
  { timeoutMs, intervalMs = 50 }: { timeoutMs: number; intervalMs?: number },
): Promise<NonNullable<T>> =>
  waitUntilDefined(
    what,
    async () => ((await condition()) || undefined) as NonNullable<T> | undefined,
    timeoutMs,
    intervalMs,
  );

/**
 * Checks `condition` repeatedly for `durationMs` and fails at the first false: for what must *stay* true
 * (a key that must not vanish while something else happens).
 */
export async function holdsFor(what: string, condition: () => Promise<boolean>, durationMs: number): Promise<void> {
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    if (!(await condition())) throw new Error(`${what} stopped holding`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface CapturedLogs {
  readonly logger: Logger;
  /** Parsed log lines so far. */
  lines(): readonly Record<string, unknown>[];
  /** How many lines have this `msg`. */
  count(msg: string): number;
}

/** A pino logger that keeps its lines in memory (printed on stderr too when REGISTRY_TEST_LOGS is set). */
export function captureLogs(level = "debug"): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const echo = process.env.REGISTRY_TEST_LOGS !== undefined;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (line === "") continue;
        lines.push(JSON.parse(line) as Record<string, unknown>);
        if (echo) process.stderr.write(`${line}\n`);
      }
      done();
    },
  });
  const logger = pino({ level, base: { service: "registry-test" } }, stream);
  return { logger, lines: () => lines, count: (msg) => lines.filter((line) => line.msg === msg).length };
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Real etcd servers and clients for a test file, all stopped or closed (newest first) after the file's tests;
 * `cleanups` takes anything else to undo then.
 */
export function etcdTestKit() {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return {
    cleanups,
    async etcdServer(): Promise<RunningServer> {
      const etcd = await startEtcd();
      cleanups.push(() => etcd.stop());
      return etcd;
    },
    /** A client for reading and writing etcd directly. */
    reader(etcd: RunningServer): Etcd3 {
      const client = createEtcdClient({ endpoints: [etcd.url], callTimeoutMs: 2_000 });
      cleanups.push(() => client.close());
      return client;
    },
  };
}
