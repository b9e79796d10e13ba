/**
 * The user stats the audit service serves: the counts of one-minute windows that the user-stats streaming job
 * publishes on `charter.users.v1.stats` (contracts/proto/charter/users/v1/stats.proto). A window may come more than
 * once (a late firing updates its counts), so the latest stats are the window with the greatest start, in the last
 * version of it read. No I/O.
 */
import { AppError } from "../../../platform/errors.js";

/** One window's counts as the contract's proto3 JSON names them (timestamps as RFC 3339 text). */
export interface UserStatsRecord {
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly liveUsers: number;
  readonly lateEvents: number;
}

/** The read model port: the latest window read so far. */
export interface LatestStatsStore {
  /**
   * Keeps `record` when it is the latest window: a greater window start than the one held, or the same window read
   * again (its later version replaces the earlier). Says whether it was kept; an older window changes nothing.
   */
  offer(record: UserStatsRecord): boolean;
  /** The latest window, or undefined while none has been read. */
  latest(): UserStatsRecord | undefined;
}

/** Whether `candidate` replaces `held` as the latest stats: a window at least as recent (the same one read again). */
export const supersedes = (candidate: UserStatsRecord, held: UserStatsRecord | undefined): boolean =>
  held === undefined || Date.parse(candidate.windowStart) >= Date.parse(held.windowStart);

/** google.rpc.ErrorInfo reason of GetUserStats while no stats have been read. */
export const STATS_PIPELINE_NOT_RUNNING = "STATS_PIPELINE_NOT_RUNNING";

/** The answer while no window has been read: on embedded defaults always (no Kafka, so no streaming job). */
export const statsPipelineNotRunning = (): AppError =>
  new AppError("UNAVAILABLE", "the stats pipeline is not running: no user stats have been received yet", {
    reason: STATS_PIPELINE_NOT_RUNNING,
  });
