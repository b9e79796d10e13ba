/**
 * Message pact of the audit service (`charter-audit`) with the users service (`charter-users`): Pact V4
 * asynchronous messages stating what the audit service relies on in each kind of UserEvent and in its
 * CloudEvents headers. Each interaction's message is handed to the audit service's real decoder and history
 * store, which must record it. The pact is written into a temp dir and compared with
 * pacts/charter-audit-charter-users.json (`UPDATE_PACTS=1 npm run pact:consumer` refreshes it); the users
 * service's event builder is verified against it (scripts/lib/user-event-pacts.ts, in `npm run pact:verify`).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { MatchersV3, PactV4 } from "@pact-foundation/pact";
import type { IncomingMessage } from "../platform/events/bus.js";
import {
  MESSAGE_CREATED,
  MESSAGE_DELETED,
  MESSAGE_UPDATED,
  USER_EVENTS_CONSUMER,
  USERS_PROVIDER,
} from "../scripts/lib/user-event-pacts.js";
import { createMemoryHistoryStore } from "../services/audit/adapters/memory-history-store.js";
import { decodeUserEvent } from "../services/audit/domain/user-event-codec.js";
import { checkPactFile, createPactOutput } from "./support/pact-files.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

const { regex, like } = MatchersV3;
const ID = "^[0-9]{1,19}$";
const VERSION = "^[1-9][0-9]{0,18}$";
const TIMESTAMP = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$";

const output = createPactOutput();
const pact = new PactV4({
  consumer: USER_EVENTS_CONSUMER,
  provider: USERS_PROVIDER,
  dir: output.dir,
  logLevel: "warn",
});
after(() => output.remove());

/** The CloudEvents headers the audit service reads: ce_id must be the event id. */
const headers = (eventId: string) => ({
  ce_specversion: "1.0",
  ce_type: "charter.users.v1.UserEvent",
  ce_source: "/charter/users",
  ce_id: like(eventId),
  ce_time: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
});

const user = (name: string, version: string) => ({
  id: regex(ID, "7281634251938816001"),
  name: like(name),
  email: like("ada@example.com"),
  etag: regex(VERSION, version),
  createTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
  updateTime: regex(TIMESTAMP, "2026-01-15T09:30:00Z"),
});

/** What the audit service does with a message: decode it strictly and record it in its history. */
async function record(message: { contents: { content: unknown } }, metadata: Record<string, unknown>) {
  const content = message.contents.content;
  const text = Buffer.isBuffer(content) ? content.toString("utf8") : JSON.stringify(content);
  const body = JSON.parse(text) as { userId: string };
  const incoming: IncomingMessage = {
    topic: "charter.users.v1.events",
    partition: 0,
    offset: "0",
    key: body.userId,
    value: Buffer.from(text),
    headers: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])),
  };
  const decoded = decodeUserEvent(incoming);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.reason);
  const store = createMemoryHistoryStore();
  assert.equal(await store.record(decoded.entry), true);
  return decoded.entry;
}

/** One interaction per kind of event; a delete carries no user. */
const events = [
  { description: MESSAGE_CREATED, type: "CREATED", version: 1, user: "Ada Lovelace", at: "2026-01-15T09:30:00Z" },
  { description: MESSAGE_UPDATED, type: "UPDATED", version: 2, user: "Ada King", at: "2026-01-16T10:00:00Z" },
  { description: MESSAGE_DELETED, type: "DELETED", version: 3, user: undefined, at: "2026-01-17T11:00:00Z" },
] as const;

describe("pact: charter-audit ← charter-users (user events)", () => {
  for (const event of events) {
    test(event.description, async () => {
      const eventId = `7281634251938816001-${event.version}`;
      await pact
        .addAsynchronousInteraction()
        .expectsToReceive(event.description, (builder) => {
          builder
            .withJSONContent({
              eventId: like(eventId),
              type: `USER_EVENT_TYPE_${event.type}`,
              userId: regex(ID, "7281634251938816001"),
              ...(event.user === undefined ? {} : { user: user(event.user, String(event.version)) }),
              version: regex(VERSION, String(event.version)),
              occurredAt: regex(TIMESTAMP, event.at),
            })
            .withMetadata(headers(eventId));
        })
        .executeTest(async (message) => {
          const entry = await record(message, message.metadata as Record<string, unknown>);
          assert.equal(entry.version, event.version);
        });
    });
  }

  test("the committed pact file is what these interactions write", () => {
    checkPactFile(output.dir, `${USER_EVENTS_CONSUMER}-${USERS_PROVIDER}.json`);
  });
});
