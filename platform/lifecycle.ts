import { ConfigError } from "./config.js";

export interface Stoppable {
  stop(): Promise<void>;
  /** How long stop() may take before the process exits anyway (default: runMain's stopTimeoutMs). */
  readonly stopTimeoutMs?: number;
}

/**
 * A stop budget for a service: its SHUTDOWN_TIMEOUT_MS for in-flight work, the registry's drain (at most 60 s),
 * and 20 s for the rest (the in-process bus's drain, the last spans' export).
 */
export const stopBudgetMs = (shutdownTimeoutMs: number, drainMs = 0): number => shutdownTimeoutMs + drainMs + 20_000;

/**
 * What a process stops: the running service, then tracing — in a `finally`, so the last spans leave before the
 * process does, whatever failed before — within `stopTimeoutMs`.
 */
export const stopThenFlush = (
  running: { stop(): Promise<void> },
  tracing: { shutdown(): Promise<void> },
  stopTimeoutMs: number,
): Stoppable => ({
  stopTimeoutMs,
  async stop() {
    try {
      await running.stop();
    } finally {
      await tracing.shutdown();
    }
  },
});

/**
 * Runs a service's entry point: start() builds and starts everything and returns what
 * to stop. A bad configuration or a failed start prints one line and exits 1, with no
 * stack trace; SIGTERM/SIGINT stop gracefully within the stop's own stopTimeoutMs (or this one), then exit.
 */
export function runMain(name: string, start: () => Promise<Stoppable>, stopTimeoutMs = 15_000): void {
  const fail = (error: unknown): never => {
    const message = error instanceof Error ? error.message : String(error);
    const kind = error instanceof ConfigError ? "configuration error" : "cannot start";
    process.stderr.write(`${name}: ${kind}: ${message.split("\n")[0]}\n`);
    process.exit(1);
  };
  start().then((running) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      const budgetMs = running.stopTimeoutMs ?? stopTimeoutMs;
      const force = setTimeout(() => {
        process.stderr.write(`${name}: did not stop within ${budgetMs} ms after ${signal}; exiting\n`);
        process.exit(1);
      }, budgetMs);
      force.unref();
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`${name}: error while stopping: ${String(error)}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  }, fail);
}
