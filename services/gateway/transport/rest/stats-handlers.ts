/**
 * The user stats operation of contracts/openapi/users.v1.yaml (getUserStats), as a call to the audit service: the
 * latest window's proto UserStats becomes the contract's UserStats with every count present, zeros included (each
 * has explicit presence in the proto; one that is missing is a server fault, never a made-up zero). While the stats pipeline is not running,
 * the audit service answers UNAVAILABLE and the client gets the 503 problem that says so.
 */
import type { components } from "../../../../generated/openapi/users.v1.js";
import type { UserStats as UserStatsMessage } from "../../../../generated/proto/charter/users/v1/stats.js";
import { AppError } from "../../../../platform/errors.js";
import type { AuditBackend } from "../../app/backends.js";
import type { OperationHandler } from "./operation-types.js";

type UserStats = components["schemas"]["UserStats"];

/** The audit service's stats as the contract's UserStats (REST, and GraphQL's type of the same fields). */
export function toContractStats(stats: UserStatsMessage | undefined): UserStats {
  const { windowStart, windowEnd, created, updated, deleted, liveUsers, lateEvents } = stats ?? {};
  if (
    !windowStart ||
    !windowEnd ||
    created === undefined ||
    updated === undefined ||
    deleted === undefined ||
    liveUsers === undefined ||
    lateEvents === undefined
  ) {
    throw new AppError("INTERNAL", "the audit service returned incomplete user stats");
  }
  return { windowStart, windowEnd, created, updated, deleted, liveUsers, lateEvents };
}

export function createStatsHandlers(audit: AuditBackend): { getUserStats: OperationHandler<"getUserStats"> } {
  return {
    async getUserStats({ context }) {
      const { stats } = await audit.getUserStats({}, context);
      return { status: 200, body: toContractStats(stats) };
    },
  };
}
