/**
 * The users service composed in-process (memory store and cache, port 0) and driven over gRPC: with an event
 * producer its writes reach the bus through the outbox relay and the relay's metrics are served; without one,
 * events wait in the store. Built without listening, it binds and starts nothing.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { after, test } from "node:test";
import { userEventChannels } from "../../generated/asyncapi/users-events.js";
import { UserEvent, UserEventType } from "../../generated/proto/charter/users/v1/events.js";
import { createMemoryBus } from "../../platform/events/memory-bus.js";
import { createLogger } from "../../platform/logging.js";
import { freePorts } from "../../scripts/infra/index.js";
import { metricValue, waitFor } from "../../scripts/lib/processes.js";
import { startTestIssuer } from "../../test/support/auth.js";
import { usersClient } from "../../test/support/contract-client.js";
import { AUDIT_SERVICE_NAME, createAuditParts } from "../audit/audit-app.js";
import { loadAuditConfig } from "../audit/audit-config.js";
import { buildUsers, startUsers, USERS_SERVICE_NAME } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

/** The issuer the service trusts: every call brings one of its tokens. */
const issuer = await startTestIssuer();
after(() => issuer.close());
const authorization = await issuer.bearer();
const config = loadUsersConfig({
  ...issuer.env,
  USERS_HOST: "127.0.0.1",
  USERS_GRPC_PORT: "0",
  USERS_METRICS_PORT: "0",
  // Longer than the test: events go out because writes wake the relay (and because stop() sends the last ones).
  OUTBOX_POLL_INTERVAL_MS: "60000",
});
/** A logger whose messages land in `lines`. */
function capturing(lines: string[]) {
  return createLogger(
    "users",
    "info",
    new Writable({
      write(chunk, _encoding, done) {
        lines.push((JSON.parse(String(chunk)) as { msg: string }).msg);
        done();
      },
    }),
  );
}
const until = (what: string, check: () => boolean | Promise<boolean>) =>
  waitFor(what, async () => ((await check()) ? true : undefined), 60_000, 20);

test("with a producer: each write over gRPC is one event on the bus, the relay is measured, stop() sends the last", async () => {
  const bus = createMemoryBus();
  const received: UserEvent[] = [];
  const consumer = bus.consumer({ groupId: `test-${randomUUID()}`, topic: userEventChannels.userEvents });
  await consumer.start(async (message) => {
    received.push(UserEvent.fromJSON(JSON.parse(message.value?.toString("utf8") ?? "")));
  });
  const lines: string[] = [];
  const logger = capturing(lines);
  const running = await startUsers(config, logger, { events: bus.producer() });
  const client = usersClient(`127.0.0.1:${running.grpcPort}`, authorization);
  try {
    const request = { user: { name: "Ada Lovelace", email: `ada-${randomUUID()}@example.com` }, requestId: "r-1" };
    const created = (await client.call("CreateUser", request)).user;
    assert.deepEqual((await client.call("CreateUser", request)).user, created, "a retry returns the first user");
    const renamed = (
      await client.call("UpdateUser", {
        user: { id: created.id, etag: created.etag, name: "Ada King" },
        updateMask: { paths: ["name"] },
      })
    ).user;
    await client.call("DeleteUser", { id: created.id, etag: renamed.etag });

    await until("three events", () => received.length >= 3);
    assert.deepEqual(
      received.map((e) => [e.eventId, e.type, e.userId, e.version, e.user?.name, e.user?.etag]),
      [
        [`${created.id}-1`, UserEventType.USER_EVENT_TYPE_CREATED, created.id, "1", "Ada Lovelace", "1"],
        [`${created.id}-2`, UserEventType.USER_EVENT_TYPE_UPDATED, created.id, "2", "Ada King", "2"],
        [`${created.id}-3`, UserEventType.USER_EVENT_TYPE_DELETED, created.id, "3", undefined, undefined],
      ],
      "one CREATED for a create and its retry",
    );
    assert.deepEqual(
      received.map((e) => e.actor),
      ["charter-dev", "charter-dev", "charter-dev"],
      "each event names the subject of the token that made the change",
    );
    const metric = (name: string, labels: Record<string, string> = {}) =>
      metricValue(running.metricsPort, name, labels);
    for (const type of ["CREATED", "UPDATED", "DELETED"]) {
      assert.equal(await metric("charter_users_events_published_total", { type }), 1, type);
    }
    assert.equal(await metric("charter_users_outbox_lag_seconds_count"), 3);
    assert.equal(await metric("charter_users_outbox_publish_errors_total"), 0);
    await until("an empty backlog", async () => (await metric("charter_users_outbox_backlog")) === 0);

    // Recorded without waking the relay (as by another instance sharing the store): stop() sends it.
    const late = { id: "77", name: "Late", email: `late-${randomUUID()}@example.com`, version: 1 };
    const time = new Date().toISOString();
    await running.store.insert({ ...late, createTime: time, updateTime: time });
    assert.equal(await running.store.outboxSize(), 1);
  } finally {
    client.close();
    await running.stop();
  }
  await until("the last event", () => received.length === 4);
  assert.equal(received[3]?.eventId, "77-1");
  assert.ok(lines.indexOf("outbox relay started") < lines.indexOf("users service ready"));
  assert.ok(lines.indexOf("outbox relay stopped") >= 0);
  assert.ok(lines.indexOf("outbox relay stopped") < lines.indexOf("users service stopped"));
  await consumer.stop();
  await bus.close();
});

test("without a producer there is no relay: events wait in the store's outbox", async () => {
  const running = await startUsers(config, createLogger("users", "silent"));
  const client = usersClient(`127.0.0.1:${running.grpcPort}`, authorization);
  try {
    const created = (await client.call("CreateUser", { user: { name: "Ada", email: `a-${randomUUID()}@example.com` } }))
      .user;
    await client.call("DeleteUser", { id: created.id });
    assert.equal(await running.store.outboxSize(), 2);
    await assert.rejects(metricValue(running.metricsPort, "charter_users_outbox_backlog"), /not found/);
  } finally {
    client.close();
    await running.stop();
  }
});

test("built without listen(): nothing is bound or started; the embedded audit service is declared beside UsersService", async () => {
  const [grpcPort, metricsPort] = await freePorts(2);
  const isFree = (port: number | undefined) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
  const bus = createMemoryBus();
  const lines: string[] = [];
  const logger = capturing(lines);
  const built = await buildUsers({ ...config, grpcPort: grpcPort ?? 0, metricsPort: metricsPort ?? 0 }, logger, {
    events: bus.producer(),
    alongside: (registry) => createAuditParts(loadAuditConfig({}), logger, { bus, registry }),
  });
  try {
    assert.deepEqual(built.host.services, [USERS_SERVICE_NAME, AUDIT_SERVICE_NAME]);
    assert.equal(built.host.health(""), "NOT_SERVING");
    assert.equal(await isFree(grpcPort), true, "the gRPC port is not bound");
    assert.equal(await isFree(metricsPort), true, "the metrics port is not bound");
    assert.match(
      (await built.host.metrics?.metrics()) ?? "",
      /^charter_users_rpc_total\{method="CreateUser",code="OK",service="users"\} 0$/m,
    );
    assert.equal(lines.includes("outbox relay started"), false, "the relay starts with listen()");
  } finally {
    await built.host.stop();
    await bus.close();
  }
  assert.equal(lines.includes("outbox relay stopped"), false, "what never started is not stopped");
});
