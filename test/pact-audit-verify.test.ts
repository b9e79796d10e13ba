/**
 * The users service's event builder against the audit service's message pact: the real builder honours it; a
 * builder that leaves out a field the pact relies on (the contracts unchanged) fails verification, naming the
 * interactions.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runToExit } from "../scripts/lib/processes.js";
import {
  MESSAGE_CREATED,
  MESSAGE_DELETED,
  MESSAGE_UPDATED,
  USER_EVENTS_CONSUMER,
  USERS_PROVIDER,
  verifyUserEventPacts,
} from "../scripts/lib/user-event-pacts.js";
import { failedInteractions, PACTS_DIR } from "./support/pact-files.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const pactFile = join(PACTS_DIR, `${USER_EVENTS_CONSUMER}-${USERS_PROVIDER}.json`);

describe("message pact verification: charter-users → charter-audit", () => {
  test("the users service's event builder honours the audit service's pact", async () => {
    await verifyUserEventPacts([pactFile]);
  });

  test("a builder that leaves out occurredAt fails, naming the interactions", async () => {
    const run = await runToExit("test/support/verify-drifted-user-events.ts", {}, 60_000);
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 1, `verification passed against the drifted builder:\n${output}`);
    const prefix = `Verifying a pact between ${USER_EVENTS_CONSUMER} and ${USERS_PROVIDER} - `;
    assert.deepEqual(
      failedInteractions(output).sort(),
      [MESSAGE_CREATED, MESSAGE_DELETED, MESSAGE_UPDATED].map((description) => prefix + description).sort(),
      `every message carries occurredAt and the pact relies on it in each:\n${output}`,
    );
  });
});
