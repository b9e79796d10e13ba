/**
 * Runs the audit service's message pact verification against an event builder that leaves out `occurredAt`
 * (the contracts unchanged), in a process of its own so that the test can read the verifier's report, which
 * the verifier prints straight to stdout. Exits 1 when verification fails, 0 when it (wrongly) passes.
 */
import { join } from "node:path";
import {
  USER_EVENTS_CONSUMER,
  USERS_PROVIDER,
  userEventMessage,
  verifyUserEventPacts,
} from "../../scripts/lib/user-event-pacts.js";
import { PACTS_DIR } from "./pact-files.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const drifted: typeof userEventMessage = (event) => {
  const message = userEventMessage(event);
  const { occurredAt: _dropped, ...rest } = JSON.parse(message.value) as Record<string, unknown>;
  return { ...message, value: JSON.stringify(rest) };
};

try {
  await verifyUserEventPacts([join(PACTS_DIR, `${USER_EVENTS_CONSUMER}-${USERS_PROVIDER}.json`)], drifted);
  process.exitCode = 0;
} catch (error) {
  console.error(`verification failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
