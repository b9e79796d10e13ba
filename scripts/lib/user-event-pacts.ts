/**
 * Verification of the audit service's message pacts (pacts/*-charter-users.json) against the users service's
 * real event builder: each interaction's description names a change, the provider side makes that change's
 * OutboxEvent as the user store records it and turns it into the Kafka message with services/users/domain/user-events.ts.
 * Tests pass another builder to prove the verification notices a message that drifted from the pact.
 */
import { Verifier } from "@pact-foundation/pact";
import { providerWithMetadata } from "@pact-foundation/pact/src/messageProviderPact.js";
import type { User } from "../../services/users/domain/user.js";
import { outboxMessage, type UserEventMessage } from "../../services/users/domain/user-events.js";
import { type OutboxEvent, outboxEvent } from "../../services/users/domain/user-store.js";

export const USERS_PROVIDER = "charter-users";
export const USER_EVENTS_CONSUMER = "charter-audit";
export const MESSAGE_CREATED = "a user created event";
export const MESSAGE_UPDATED = "a user updated event";
export const MESSAGE_DELETED = "a user deleted event";

export type MessageBuilder = (event: OutboxEvent) => UserEventMessage;
export const userEventMessage: MessageBuilder = outboxMessage;

const ada: User = {
  id: "7281634251938816001",
  name: "Ada Lovelace",
  email: "ada@example.com",
  version: 1,
  createTime: "2026-01-15T09:30:00.000Z",
  updateTime: "2026-01-15T09:30:00.000Z",
};
const renamed: User = { ...ada, name: "Ada King", version: 2, updateTime: "2026-01-16T10:00:00.000Z" };

/** The change each message describes, as the user store records it. */
const changes: Record<string, () => OutboxEvent> = {
  [MESSAGE_CREATED]: () => outboxEvent("CREATED", ada, ada.createTime),
  [MESSAGE_UPDATED]: () => outboxEvent("UPDATED", renamed, renamed.updateTime),
  [MESSAGE_DELETED]: () => outboxEvent("DELETED", { ...renamed, version: 3 }, "2026-01-17T11:00:00.000Z"),
};

/** Verifies the message pacts at `pactUrls`; rejects (with the verifier's report) when a message breaks one. */
export async function verifyUserEventPacts(pactUrls: readonly string[], build = userEventMessage): Promise<void> {
  const messageProviders = Object.fromEntries(
    Object.entries(changes).map(([description, change]) => {
      const message = build(change());
      return [description, providerWithMetadata(() => JSON.parse(message.value), { ...message.headers })];
    }),
  );
  await new Verifier({
    provider: USERS_PROVIDER,
    pactUrls: [...pactUrls],
    messageProviders,
    logLevel: "warn",
  }).verifyProvider();
}
