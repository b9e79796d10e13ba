/**
 * Functions triggered by user events, on one real Apache Kafka (KRaft, one node) shared by every part of this file.
 *
 * - Delivery: the triggers process (services/triggers) sends each event to a function's URL as a binary-mode
 *   CloudEvent; a function that fails twice gets the event once more after each failure and then the next ones, in
 *   order; an event a function always refuses goes to the functions' dead-letter topic with its reason headers and
 *   the partition goes on; a message that is no CloudEvent is set aside at once; a filter keeps the other types away.
 * - The platform with its functions: users, audit and gateway on Kafka, the erasure and notify functions on
 *   faas-js-runtime, the triggers in front of them. A user created and updated through the gateway gets a welcome
 *   mail and a change notice at a real SMTP sink (and no log line names the address); once deleted, their history
 *   shows no name or e-mail over REST, GraphQL and gRPC — every event keeps its skeleton — and the DELETED event
 *   delivered again changes nothing.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { CloudEvent, HTTP } from "cloudevents";
import kafkajs from "kafkajs";
import { SMTPServer } from "smtp-server";
import { userEventChannels, userEventTopicConfigs } from "../generated/asyncapi/users-events.js";
import { type DevClient, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";
import type { EventBus, IncomingMessage, OutgoingMessage } from "../platform/events/bus.js";
import { createKafkaBus } from "../platform/events/kafka-bus.js";
import { createLogger } from "../platform/logging.js";
import { type RunningServer, startKafka } from "../scripts/infra/index.js";
import { metricValue, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { contractServiceClient, grpc } from "./support/contract-client.js";
import { contractRequest, createOpenApiValidator } from "./support/openapi-validator.js";

const issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES });
/** The development issuer's client of the platform's functions (users:erase). */
const functionsClient = issuer.clients.find((client) => client.clientId === "charter-functions") as DevClient;
const issuerEnv = {
  AUTH_ISSUER: issuer.issuer,
  AUTH_AUDIENCE: issuer.audience,
  AUTH_JWKS_CACHE_MS: "1000",
  AUTH_JWKS_COOLDOWN_MS: "0",
};
const DEADLINE_MS = 20_000;
// From the default export: Node's CommonJS interop does not see kafkajs's ConfigResourceTypes as named.
const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;
/** Fast retries: four sends in all, 50 ms then about 100 and 200 between them. */
const RETRY_ENV = { TRIGGERS_MAX_ATTEMPTS: "4", TRIGGERS_BACKOFF_INITIAL_MS: "50", TRIGGERS_BACKOFF_MAX_MS: "200" };

let kafka: RunningServer;
let bus: EventBus;
const stops: (() => Promise<unknown>)[] = [];

before(async () => {
  kafka = await startKafka();
  bus = createKafkaBus({ brokers: [kafka.url], clientId: "functions-test", logger: createLogger("test", "error") });
});
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await bus?.close();
  await kafka?.stop();
  await issuer.close();
});

/** Every line a process writes from its start, kept whole (startService keeps the last 500). */
async function startLogged(
  entry: string,
  env: Record<string, string>,
  ready: string,
): Promise<{ process: ServiceProcess; lines: string[] }> {
  const process = await startService(entry, env, ready, 60_000);
  const lines = [...process.output];
  process.onLine((line) => lines.push(line));
  stops.push(() => process.stop());
  return { process, lines };
}

/** The messages of a topic from its start, read by a group of this test's own. */
async function collect(topic: string): Promise<IncomingMessage[]> {
  const seen: IncomingMessage[] = [];
  const consumer = bus.consumer({ groupId: `test-${randomUUID()}`, topic });
  await consumer.start(async (message) => {
    seen.push(message);
  });
  stops.push(() => consumer.stop());
  return seen;
}

/** A user event as the users service publishes it: proto3 JSON, keyed by user id, with the CloudEvents headers. */
function userEvent(userId: string, version: number, type: "CREATED" | "UPDATED" | "DELETED") {
  const occurredAt = new Date(Date.UTC(2026, 0, 15, 9, 30, version)).toISOString();
  const eventId = `${userId}-${version}`;
  const payload: Record<string, unknown> = {
    eventId,
    type: `USER_EVENT_TYPE_${type}`,
    userId,
    version: String(version),
    occurredAt,
    actor: "charter-dev",
  };
  if (type !== "DELETED") {
    payload.user = {
      id: userId,
      name: "Ada Lovelace",
      email: `ada-${version}@example.com`,
      etag: String(version),
      createTime: occurredAt,
      updateTime: occurredAt,
    };
  }
  const message: OutgoingMessage = {
    key: userId,
    value: JSON.stringify(payload),
    headers: {
      ce_specversion: "1.0",
      ce_id: eventId,
      ce_type: "charter.users.v1.UserEvent",
      ce_source: "/charter/users",
      ce_time: occurredAt,
      "content-type": "application/json",
    },
  };
  return { payload, message };
}

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

/** A function stand-in on loopback: records every request and answers with what `answer` says. */
async function fakeFunction(answer: (id: string, body: string) => number): Promise<{ url: string; seen: Received[] }> {
  const seen: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      const status = answer(String(req.headers["ce-id"] ?? ""), body);
      seen.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

describe("delivery of user events to functions", () => {
  const ada = "900000000000000001";
  const bob = "900000000000000002";
  const odd = "900000000000000003";
  let flaky: Awaited<ReturnType<typeof fakeFunction>>;
  let broken: Awaited<ReturnType<typeof fakeFunction>>;
  let triggers: ServiceProcess;
  let deadLetters: IncomingMessage[];

  before(async () => {
    const failures = new Map<string, number>();
    // Fails the first event of Ada twice (503), then takes everything.
    flaky = await fakeFunction((id) => {
      if (id !== `${ada}-1`) return 200;
      const n = (failures.get(id) ?? 0) + 1;
      failures.set(id, n);
      return n <= 2 ? 503 : 200;
    });
    // Never takes Bob's first event (500); takes everything else.
    broken = await fakeFunction((id) => (id === `${bob}-1` ? 500 : 200));
    deadLetters = await collect(userEventChannels.userEventsFunctionsDeadLetter);
    ({ process: triggers } = await startLogged(
      "services/triggers/main.ts",
      {
        KAFKA_BROKERS: kafka.url,
        TRIGGERS: `flaky=${flaky.url} broken=${broken.url}`,
        TRIGGER_FILTERS: "broken=USER_EVENT_TYPE_CREATED+USER_EVENT_TYPE_UPDATED",
        TRIGGERS_HOST: "127.0.0.1",
        TRIGGERS_METRICS_PORT: "0",
        ...RETRY_ENV,
      },
      "triggers ready",
    ));
    const producer = bus.producer();
    await producer.send(userEventChannels.userEvents, [
      userEvent(ada, 1, "CREATED").message,
      userEvent(ada, 2, "UPDATED").message,
      userEvent(ada, 3, "DELETED").message,
      userEvent(bob, 1, "CREATED").message,
      userEvent(bob, 2, "UPDATED").message,
      userEvent(bob, 3, "DELETED").message,
      { key: odd, value: "not an event", headers: { "content-type": "text/plain" } },
    ]);
    await producer.close();
  });

  test("a function that fails twice gets the event again after each failure, then the next ones in order, as binary-mode CloudEvents", async () => {
    const adaIds = [`${ada}-1`, `${ada}-2`, `${ada}-3`];
    const took = await waitFor(
      "Ada's three events delivered",
      () => {
        const ok = flaky.seen.filter((r) => r.status === 200 && adaIds.includes(String(r.headers["ce-id"])));
        return ok.length >= 3 ? ok : undefined;
      },
      DEADLINE_MS,
    );
    const adaSends = flaky.seen.filter((r) => adaIds.includes(String(r.headers["ce-id"])));
    assert.deepEqual(
      adaSends.map((r) => [r.headers["ce-id"], r.status]),
      [
        [`${ada}-1`, 503],
        [`${ada}-1`, 503],
        [`${ada}-1`, 200],
        [`${ada}-2`, 200],
        [`${ada}-3`, 200],
      ],
    );
    // Binary content mode: the attributes as ce- headers, the contract's event as the JSON body.
    const first = took[0] as Received;
    assert.equal(first.headers["ce-specversion"], "1.0");
    assert.equal(first.headers["ce-type"], "charter.users.v1.UserEvent");
    assert.equal(first.headers["ce-source"], "/charter/users");
    assert.equal(Date.parse(String(first.headers["ce-time"])), Date.UTC(2026, 0, 15, 9, 30, 1));
    assert.match(String(first.headers["content-type"]), /^application\/json/);
    assert.deepEqual(JSON.parse(first.body), userEvent(ada, 1, "CREATED").payload);
    assert.equal(
      await metricValue(Number(triggers.ready.metricsPort), "charter_triggers_deliveries_total", {
        trigger: "flaky",
        outcome: "retried",
      }),
      2,
    );
  });

  test("an event a function never takes goes to the dead-letter topic with its reasons, and the partition goes on", async () => {
    const letter = await waitFor(
      "Bob's first event in the dead-letter topic",
      () => deadLetters.find((m) => m.headers.dlq_trigger === "broken" && m.headers.ce_id === `${bob}-1`),
      DEADLINE_MS,
    );
    assert.equal(letter.key, bob);
    assert.deepEqual(JSON.parse(String(letter.value)), userEvent(bob, 1, "CREATED").payload);
    assert.equal(letter.headers.dlq_reason, "HTTP 500");
    assert.equal(letter.headers.dlq_status, "500");
    assert.equal(letter.headers.dlq_attempts, "4");
    assert.equal(letter.headers.dlq_topic, userEventChannels.userEvents);
    assert.match(String(letter.headers.dlq_partition), /^\d+$/);
    assert.match(String(letter.headers.dlq_offset), /^\d+$/);
    assert.equal(broken.seen.filter((r) => r.headers["ce-id"] === `${bob}-1`).length, 4, "four sends in all");
    // The dead-letter topic is time-bounded as the contract configures it (it may carry names and e-mails).
    const admin = new Kafka({
      clientId: "functions-test-admin",
      brokers: [kafka.url],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: userEventChannels.userEventsFunctionsDeadLetter }],
      });
      const entries = new Map(described.resources[0]?.configEntries.map((e) => [e.configName, e.configValue]));
      for (const [name, value] of Object.entries(
        userEventTopicConfigs[userEventChannels.userEventsFunctionsDeadLetter] ?? {},
      )) {
        assert.equal(entries.get(name), value, name);
      }
      assert.equal(entries.get("retention.ms"), "1209600000");
    } finally {
      await admin.disconnect();
    }
    // The next event of the same user (same partition) went on; the DELETED one was filtered out.
    await waitFor(
      "Bob's update delivered",
      () => broken.seen.find((r) => r.headers["ce-id"] === `${bob}-2` && r.status === 200),
      DEADLINE_MS,
    );
    const metricsPort = Number(triggers.ready.metricsPort);
    await waitFor(
      "the DELETED events filtered",
      async () =>
        (await metricValue(metricsPort, "charter_triggers_deliveries_total", {
          trigger: "broken",
          outcome: "filtered",
        })) >= 2
          ? true
          : undefined,
      DEADLINE_MS,
    );
    assert.equal(broken.seen.filter((r) => String(r.body).includes("USER_EVENT_TYPE_DELETED")).length, 0);
  });

  test("a message that is no CloudEvent is set aside at once, by every trigger", async () => {
    const letters = await waitFor(
      "the odd message set aside by both triggers",
      () => {
        const found = deadLetters.filter((m) => m.key === odd);
        return found.length >= 2 ? found : undefined;
      },
      DEADLINE_MS,
    );
    assert.deepEqual(letters.map((m) => m.headers.dlq_trigger).sort(), ["broken", "flaky"]);
    for (const letter of letters) {
      assert.equal(letter.headers.dlq_attempts, "0");
      assert.match(String(letter.headers.dlq_reason), /CloudEvents headers/);
      assert.equal(String(letter.value), "not an event");
    }
  });

  after(() => triggers?.stop());
});

interface Mail {
  readonly to: readonly string[];
  readonly text: string;
}

/** A real SMTP server on loopback (smtp-server) that keeps every mail it is given. */
async function smtpSink(): Promise<{ url: string; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      let text = "";
      stream.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      stream.on("end", () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), text });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, mails };
}

describe("the platform with its functions", () => {
  const validator = createOpenApiValidator();
  let baseUrl: string;
  let auditAddress: string;
  let authorization: string;
  let sink: Awaited<ReturnType<typeof smtpSink>>;
  let erasureLog: string[];
  let erasureUrl: string;
  let notifyLog: string[];
  let triggersLog: string[];

  before(async () => {
    sink = await smtpSink();
    authorization = `Bearer ${await issuer.token(issuer.clients[0] as DevClient)}`;
    const onKafka = { KAFKA_BROKERS: kafka.url, ...issuerEnv };
    const [users, audit] = await Promise.all([
      startLogged(
        "services/users/main.ts",
        {
          ...onKafka,
          USERS_HOST: "127.0.0.1",
          USERS_GRPC_PORT: "0",
          USERS_METRICS_PORT: "0",
          OUTBOX_POLL_INTERVAL_MS: "100",
        },
        "users service ready",
      ),
      startLogged(
        "services/audit/main.ts",
        {
          ...onKafka,
          AUDIT_HOST: "127.0.0.1",
          AUDIT_GRPC_PORT: "0",
          AUDIT_METRICS_PORT: "0",
          AUDIT_RETRY_DELAY_MS: "100",
        },
        "audit service ready",
      ),
    ]);
    auditAddress = `127.0.0.1:${audit.process.ready.grpcPort}`;
    const functionEnv = { ...issuerEnv, FUNCTION_HOST: "127.0.0.1", FUNCTION_PORT: "0" };
    const [gateway, erasure, notify] = await Promise.all([
      startLogged(
        "services/gateway/main.ts",
        {
          ...issuerEnv,
          GATEWAY_HOST: "127.0.0.1",
          GATEWAY_PORT: "0",
          ...otherServicesOffline(),
          USERS_ADDR: `127.0.0.1:${users.process.ready.grpcPort}`,
          AUDIT_ADDR: auditAddress,
          ...LOAD_BUDGET,
        },
        "gateway ready",
      ),
      startLogged(
        "functions/main.ts",
        {
          ...functionEnv,
          FUNCTION_NAME: "erasure",
          AUDIT_ADDR: auditAddress,
          ERASURE_RETENTION_S: "0",
          FUNCTION_CLIENT_ID: functionsClient.clientId,
          FUNCTION_CLIENT_SECRET: functionsClient.clientSecret,
        },
        "function ready",
      ),
      startLogged(
        "functions/main.ts",
        { ...functionEnv, FUNCTION_NAME: "notify", SMTP_URL: sink.url },
        "function ready",
      ),
    ]);
    baseUrl = `http://127.0.0.1:${gateway.process.ready.port}`;
    erasureLog = erasure.lines;
    erasureUrl = `http://127.0.0.1:${erasure.process.ready.port}/`;
    notifyLog = notify.lines;
    const triggers = await startLogged(
      "services/triggers/main.ts",
      {
        KAFKA_BROKERS: kafka.url,
        TRIGGERS: `erasure=http://127.0.0.1:${erasure.process.ready.port} notify=http://127.0.0.1:${notify.process.ready.port}`,
        TRIGGER_FILTERS: "erasure=USER_EVENT_TYPE_DELETED notify=USER_EVENT_TYPE_CREATED+USER_EVENT_TYPE_UPDATED",
        TRIGGERS_HOST: "127.0.0.1",
        TRIGGERS_METRICS_PORT: "0",
        ...RETRY_ENV,
      },
      "triggers ready",
    );
    triggersLog = triggers.lines;
  });

  /** A gateway request whose response must conform to the contract; its status and JSON body. */
  const rest = (method: string, path: string, body?: unknown) =>
    contractRequest(validator, baseUrl, { method, path, authorization, body });

  type Event = Record<string, unknown>;
  const historyOf = async (id: string): Promise<Event[]> =>
    ((await rest("GET", `/v1/users/${id}/history?pageSize=100`)).body?.events ?? []) as Event[];

  async function graphqlHistory(id: string): Promise<Event[]> {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({
        query:
          "query ($id: ID!) { userHistory(id: $id, first: 10) { nodes { eventId type version actor redactedAt user { name email } } } }",
        variables: { id },
      }),
    });
    const result = (await response.json()) as { data?: { userHistory: { nodes: Event[] } }; errors?: unknown };
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data?.userHistory.nodes ?? [];
  }

  async function grpcHistory(id: string): Promise<Event[]> {
    const client = contractServiceClient("charter/audit/v1/audit.proto", "charter.audit.v1.AuditService", auditAddress);
    try {
      const served = await client.call<{ events: Event[] }>(
        "ListUserHistory",
        { userId: id },
        grpc.Metadata.fromHttp2Headers({ authorization }),
      );
      return served.events;
    } finally {
      client.close();
    }
  }

  let userId: string;
  let email: string;

  test("notify: a created and then changed user gets a welcome mail and a change notice; no log line names the address", async () => {
    email = `grace-${randomUUID()}@example.com`;
    const created = await rest("POST", "/v1/users", { name: "Grace Hopper", email });
    assert.equal(created.status, 201);
    userId = created.body?.id as string;
    assert.equal((await rest("PATCH", `/v1/users/${userId}`, { name: "Grace B. Hopper" })).status, 200);
    const mails = await waitFor(
      "two mails to the user",
      () => {
        const found = sink.mails.filter((mail) => mail.to.includes(email));
        return found.length >= 2 ? found : undefined;
      },
      DEADLINE_MS,
    );
    assert.match(mails[0]?.text ?? "", /Subject: Welcome to Charter/);
    assert.match(mails[0]?.text ?? "", /Hello Grace Hopper/);
    assert.match(mails[1]?.text ?? "", /Subject: Your Charter account was changed/);
    assert.match(mails[1]?.text ?? "", /Hello Grace B\. Hopper/);
    assert.match(mails[0]?.text ?? "", new RegExp(`Message-ID: <${userId}-1@`, "i"));
    assert.ok(
      notifyLog.some((line) => line.includes('"mail sent"') && line.includes(userId)),
      notifyLog.join("\n"),
    );
    const local = email.split("@")[0] as string;
    for (const line of [...notifyLog, ...triggersLog])
      assert.ok(!line.includes(local), `a log line names the address: ${line}`);
  });

  test("a function refuses an event that breaks the contract with a 400 naming the field, and takes one it ignores", async () => {
    const send = async (data: Record<string, unknown>) => {
      const { headers, body } = HTTP.binary(
        new CloudEvent({ id: randomUUID(), type: "charter.users.v1.UserEvent", source: "/charter/users", data }),
      );
      const response = await fetch(erasureUrl, {
        method: "POST",
        headers: headers as Record<string, string>,
        body: body as string,
      });
      return { status: response.status, text: await response.text() };
    };
    const event = {
      eventId: "e-1",
      type: "USER_EVENT_TYPE_DELETED",
      userId: "42",
      version: "1",
      occurredAt: "2026-01-15T09:30:00Z",
    };
    const refused = await send({ ...event, userId: "not-a-number" });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /userId/);
    assert.equal((await send({ ...event, occurredAt: "yesterday" })).status, 400);
    // Not a deletion: accepted and ignored, so the delivery does not try again.
    assert.equal((await send({ ...event, type: "USER_EVENT_TYPE_CREATED" })).status, 204);
  });

  test("erasure: once the user is deleted, the history shows no name or e-mail on any protocol; a redelivered DELETED event changes nothing", async () => {
    assert.ok(userId, "the notify test created the user");
    assert.equal((await rest("DELETE", `/v1/users/${userId}`)).status, 204);
    const erased = await waitFor(
      "the history erased",
      async () => {
        const events = await historyOf(userId);
        return events.length === 3 && events.every((e) => e.redactedAt !== undefined) ? events : undefined;
      },
      DEADLINE_MS,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nthe erasure function's log:\n${erasureLog.slice(-10).join("\n")}`);
    });
    // The skeleton stays: type, version, time and actor of each change.
    assert.deepEqual(
      erased.map((e) => [e.type, e.version, e.actor, e.user]),
      [
        ["CREATED", "1", "charter-dev", undefined],
        ["UPDATED", "2", "charter-dev", undefined],
        ["DELETED", "3", "charter-dev", undefined],
      ],
    );
    for (const e of erased) assert.ok(Date.parse(String(e.occurredAt)) > 0);
    const graphql = await graphqlHistory(userId);
    assert.deepEqual(
      graphql.map((e) => [e.type, e.version, e.user, typeof e.redactedAt]),
      [
        ["CREATED", "1", null, "string"],
        ["UPDATED", "2", null, "string"],
        ["DELETED", "3", null, "string"],
      ],
    );
    const overGrpc = await grpcHistory(userId);
    assert.equal(overGrpc.length, 3);
    for (const e of overGrpc) {
      assert.equal(e.user ?? null, null, "gRPC: no user");
      assert.ok(e.redactedAt, "gRPC: redactedAt");
    }
    const everything = JSON.stringify([erased, graphql, overGrpc]);
    assert.ok(!everything.includes(email) && !everything.includes("Grace"), everything);

    // The DELETED event again, as the users service sent it: the erasure is asked for again and changes nothing.
    const deleted = erased[2] as Event;
    const handled = () => erasureLog.filter((line) => line.includes(String(deleted.eventId))).length;
    const before = handled();
    assert.ok(before >= 1, erasureLog.join("\n"));
    const producer = bus.producer();
    await producer.send(userEventChannels.userEvents, [
      {
        key: userId,
        value: JSON.stringify({
          eventId: deleted.eventId,
          type: "USER_EVENT_TYPE_DELETED",
          userId,
          version: deleted.version,
          occurredAt: deleted.occurredAt,
          actor: deleted.actor,
        }),
        headers: {
          ce_specversion: "1.0",
          ce_id: String(deleted.eventId),
          ce_type: "charter.users.v1.UserEvent",
          ce_source: "/charter/users",
          ce_time: String(deleted.occurredAt),
          "content-type": "application/json",
        },
      },
    ]);
    await producer.close();
    await waitFor(
      "the erasure function handled the event again",
      () => (handled() > before ? true : undefined),
      DEADLINE_MS,
    );
    assert.deepEqual(await historyOf(userId), erased);
    assert.deepEqual(await grpcHistory(userId), overGrpc);
  });
});
