/**
 * Erasure of a deleted user's personal data from the history (EraseUserHistory): now, or — with a time still to
 * come — kept by the store as a pending erasure that a sweep carries out once it is due. The sweep runs every
 * `sweepMs` while the service runs; pending erasures live in the store, so they survive a restart. Logs name user
 * ids and counts, never a name or an e-mail.
 *
 * The user's dead letters (copies of messages the consumer could not decode, keyed by user id) are erased too: each
 * erasure, pending or not once carried out, sends a tombstone for the user id to the dead-letter topic, which is
 * compacted (its configuration in the AsyncAPI contract), so the broker drops the key's earlier messages.
 */
import { Counter, type Registry } from "prom-client";
import { userEventChannels } from "../../../generated/asyncapi/users-events.js";
import type { EventProducer } from "../../../platform/events/bus.js";
import type { Logger } from "../../../platform/logging.js";
import { checkEraseRequest, type HistoryStore } from "../domain/history.js";

export interface HistoryEraserOptions {
  readonly store: HistoryStore;
  /** Where the tombstones of erased users' dead letters go (the audit service's producer). */
  readonly deadLetters: EventProducer;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** The interval of the sweep of due erasures (AUDIT_ERASURE_SWEEP_MS). */
  readonly sweepMs: number;
  /** The clock (tests move it). */
  readonly now?: () => Date;
}

export interface HistoryEraser {
  /** Erases now, or keeps a pending erasure when `eraseAfter` is still to come. */
  erase(userId: string, eraseAfter: string | undefined): Promise<{ erasedEvents: number; pending: boolean }>;
  /** Carries out the erasures that are due; how many users it erased. */
  sweep(): Promise<number>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The most due erasures one sweep takes; the rest wait for the next one. */
const ERASURES_PER_SWEEP_ROUND = 100;

export function createHistoryEraser(opts: HistoryEraserOptions): HistoryEraser {
  const log = opts.logger.child({ component: "history-eraser" });
  const now = opts.now ?? (() => new Date());
  const erased = new Counter({
    name: "charter_audit_erasures_total",
    help: "Users whose history was erased (now: on request; swept: a pending erasure once due), and pending ones kept.",
    labelNames: ["outcome"] as const,
    registers: opts.metrics ? [opts.metrics] : [],
  });
  for (const outcome of ["now", "swept", "pending"]) erased.inc({ outcome }, 0);
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;

  /** The history, then the dead letters: a failed tombstone fails the call, and erasing again is harmless. */
  const eraseNow = async (userId: string, at: string): Promise<number> => {
    const events = await opts.store.erase(userId, at);
    await opts.deadLetters.send(userEventChannels.userEventsDeadLetter, [{ key: userId, value: null }]);
    return events;
  };

  const sweep = async (): Promise<number> => {
    const at = now().toISOString();
    const due = await opts.store.dueErasures(at, ERASURES_PER_SWEEP_ROUND);
    for (const userId of due) {
      const events = await eraseNow(userId, at);
      erased.inc({ outcome: "swept" });
      log.info({ userId, erasedEvents: events }, "a pending erasure was carried out");
    }
    return due.length;
  };

  return {
    async erase(userId, eraseAfter) {
      const at = now();
      const request = checkEraseRequest(userId, eraseAfter, at);
      if (request.due !== undefined) {
        const pending = await opts.store.scheduleErasure(request.userId, request.due.toISOString());
        if (pending) {
          erased.inc({ outcome: "pending" });
          log.info({ userId, due: request.due.toISOString() }, "an erasure is pending");
        }
        return { erasedEvents: 0, pending };
      }
      const events = await eraseNow(request.userId, at.toISOString());
      erased.inc({ outcome: "now" });
      log.info({ userId, erasedEvents: events }, "a user's history was erased");
      return { erasedEvents: events, pending: false };
    },
    sweep,
    async start() {
      timer = setInterval(() => {
        // One sweep at a time (a tick during one is skipped); a failing store is logged and tried on the next tick.
        if (sweeping) return;
        sweeping = sweep()
          .catch((error: unknown) => log.error({ err: error }, "the erasure sweep failed"))
          .finally(() => {
            sweeping = undefined;
          });
      }, opts.sweepMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await sweeping;
    },
  };
}
