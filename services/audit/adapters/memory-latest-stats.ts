/** The latest-stats read model in this process's memory: one window, rebuilt from the topic on every start. */
import { type LatestStatsStore, supersedes, type UserStatsRecord } from "../domain/user-stats.js";

export function createMemoryLatestStats(): LatestStatsStore {
  let held: UserStatsRecord | undefined;
  return {
    offer(record) {
      if (!supersedes(record, held)) return false;
      held = record;
      return true;
    },
    latest: () => held,
  };
}
