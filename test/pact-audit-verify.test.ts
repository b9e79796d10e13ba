/**
 * The users service's event builder against the audit service's message pact: the real builder honours it; a
 * builder that leaves out a field the pact relies on (the contracts unchanged) fails verification, naming the
 * interactions.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  MESSAGE_CREATED,
  MESSAGE_UPDATED,
  USER_EVENTS_CONSUMER,
  USERS_PROVIDER,
  userEventMessage,
  verifyUserEventPacts,
} from "../scripts/lib/user-event-pacts.js";
import { PACTS_DIR } from "./support/pact-files.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const pactFile = join(PACTS_DIR, `${USER_EVENTS_CONSUMER}-${USERS_PROVIDER}.json`);

describe("message pact verification: charter-users → charter-audit", () => {
  test("the users service's event builder honours the audit service's pact", async () => {
    await verifyUserEventPacts([pactFile]);
  });

  test("a builder that leaves out occurredAt fails, naming the interactions", async () => {
    const drifted = (event: Parameters<typeof userEventMessage>[0]) => {
      const message = userEventMessage(event);
      const { occurredAt: _dropped, ...rest } = JSON.parse(message.value) as Record<string, unknown>;
      return { ...message, value: JSON.stringify(rest) };
    };
    await assert.rejects(verifyUserEventPacts([pactFile], drifted), (error: Error) => {
      assert.match(error.message, new RegExp(MESSAGE_CREATED));
      assert.match(error.message, new RegExp(MESSAGE_UPDATED));
      return true;
    });
  });
});
