/**
 * The health loop a service runs over its store: ping it every `intervalMs` (a ping still unanswered after
 * one interval counts as down), log each change of state once, and hand every result to `onCheck`, which
 * sets the gRPC health statuses (and whatever else follows the store's health).
 */
import type { Logger } from "./logging.js";

export interface StoreHealthWatch {
  stop(): void;
}

/** Checks once (resolving after that check) and then every `intervalMs` until stopped. */
export async function watchStoreHealth(opts: {
  readonly ping: () => Promise<unknown>;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Names the store in the log line, e.g. "user store". */
  readonly name: string;
  readonly onCheck: (up: boolean) => void;
}): Promise<StoreHealthWatch> {
  let last: boolean | undefined;
  const check = async (): Promise<void> => {
    let timeout: NodeJS.Timeout | undefined;
    const up = await Promise.race([
      opts.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(resolve, opts.intervalMs, false);
      }),
    ]);
    clearTimeout(timeout);
    if (up !== last) opts.logger[up ? "info" : "error"]({ store: up ? "up" : "down" }, `${opts.name} health changed`);
    last = up;
    opts.onCheck(up);
  };
  await check();
  const timer = setInterval(() => void check(), opts.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
