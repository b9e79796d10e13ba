/**
 * The user-stats streaming job (jobs/user-stats, docs/jobs.md) on a real Kafka, in one scenario with two job starts:
 *
 * - 10,000 user events (seeded, out of order within the watermark's bound, so none is late) over 25 one-minute
 *   windows, plus a few values that break the contract (skipped, never counted);
 * - the job runs on the first part until a checkpoint is observed complete, is SIGKILLed once it has written
 *   windows of a second part (as a rule still in an open transaction: the test prints how many records the restored
 *   job aborted), and is started again from the retained checkpoint; the
 *   second part starts with an event for a window dropped long before, late both before the kill and when it is
 *   replayed after the restore (when Flink's own watermark starts again from nothing);
 * - the rest and an event that moves the watermark past the last window follow; every window is then in the
 *   committed output exactly once, with the counts and live users of a reference computed here from the events;
 * - lateness: an event within the allowed lateness fires its window again with updated counts, an event beyond it
 *   is counted in lateEvents and in no window.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import { UserEvent, UserEventType } from "../generated/proto/charter/users/v1/events.js";
import {
  ensureFlink,
  type Flink,
  flinkJobEnv,
  freePorts,
  latestCheckpoint,
  type RunningServer,
  startKafka,
  USER_STATS_JOB,
} from "../scripts/infra/index.js";
import { waitFor } from "../scripts/lib/processes.js";
import { decodeUserStats } from "../services/audit/domain/user-stats-codec.js";
import { toUserEventMessage, type UserEventMessage } from "../services/users/domain/user-events.js";

const EVENTS_TOPIC = "charter.users.v1.events";
const STATS_TOPIC = "charter.users.v1.stats";
const EVENTS = 10_000;
const FIRST_PART = 5_000;
const SECOND_PART = 2_500;
const MINUTE = 60_000;
const T0 = Date.parse("2026-01-15T09:00:00Z");
const WINDOWS = 25;
const OUT_OF_ORDERNESS_S = 5;
const ALLOWED_LATENESS_S = 60;
/** How far an event's occurredAt may be from its place in the stream: less than the out-of-orderness, none late. */
const JITTER_MS = 4_000;
const JOB_DEADLINE_MS = 240_000;

let kafka: RunningServer;
let flink: Flink;
let producer: Producer;
const consumers: Consumer[] = [];
let checkpointDir: string;
let job: Job | undefined;

interface StatsRecord {
  readonly key: string;
  readonly value: Record<string, unknown>;
  readonly headers: Record<string, string>;
  /** What the audit service's reader of the stats channel makes of the record: the contract's check. */
  readonly decoded: ReturnType<typeof decodeUserStats>;
}

/** The stats as a read_committed consumer sees them, and as a read_uncommitted one does (open transactions too). */
const committed: StatsRecord[] = [];
const uncommitted: StatsRecord[] = [];
/** What made a consumer crash, if one did: part of a failed wait's message. */
const consumerCrashes: string[] = [];

/** mulberry32: a small seeded PRNG, so that a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

interface Generated {
  readonly type: UserEventType;
  readonly at: number;
  readonly message: UserEventMessage;
}

let sequence = 0;
function event(type: UserEventType, userId: string, at: number, version: number): Generated {
  sequence += 1;
  const occurredAt = new Date(at).toISOString();
  const user =
    type === UserEventType.USER_EVENT_TYPE_DELETED
      ? undefined
      : {
          id: userId,
          name: `User ${userId}`,
          email: `u${userId}@example.com`,
          etag: String(version),
          createTime: occurredAt,
          updateTime: occurredAt,
        };
  const message = toUserEventMessage({
    eventId: `evt-${sequence}`,
    type,
    userId,
    user,
    redactedAt: undefined,
    version: String(version),
    occurredAt,
    actor: "user-stats-test",
  });
  return { type, at, message };
}

/** 10,000 events: creations, updates and deletions of live users, their occurredAt shuffled within JITTER_MS. */
function generate(): Generated[] {
  const random = prng(18);
  const live: { id: string; version: number }[] = [];
  let nextId = 1_000;
  const span = WINDOWS * MINUTE - JITTER_MS - 1;
  return Array.from({ length: EVENTS }, (_, i) => {
    const at = T0 + Math.floor((i * span) / EVENTS) + Math.floor(random() * JITTER_MS);
    const pick = random();
    if (live.length === 0 || pick < 0.5) {
      nextId += 1;
      live.push({ id: String(nextId), version: 1 });
      return event(UserEventType.USER_EVENT_TYPE_CREATED, String(nextId), at, 1);
    }
    const index = Math.floor(random() * live.length);
    const user = live[index] as { id: string; version: number };
    user.version += 1;
    if (pick < 0.85) return event(UserEventType.USER_EVENT_TYPE_UPDATED, user.id, at, user.version);
    live.splice(index, 1);
    return event(UserEventType.USER_EVENT_TYPE_DELETED, user.id, at, user.version);
  });
}

/** Values on the topic that break the contract: the job must skip them and keep going. */
const invalidValues = [
  "not json",
  JSON.stringify({
    eventId: "bad-1",
    type: "USER_EVENT_TYPE_BOGUS",
    userId: "1",
    version: "1",
    occurredAt: rfc3339(T0),
  }),
  JSON.stringify({ eventId: "bad-2", type: "USER_EVENT_TYPE_CREATED", userId: "1", version: "1" }),
  JSON.stringify({ eventId: "bad-3", type: "USER_EVENT_TYPE_CREATED", userId: "1", version: "1", occurredAt: "soon" }),
];

interface WindowStats {
  windowStart: string;
  windowEnd: string;
  created: number;
  updated: number;
  deleted: number;
  liveUsers: number;
  lateEvents: number;
}

/** The stats of every window, computed from the events without the job's code. */
function reference(events: readonly Generated[]): Map<string, WindowStats> {
  const windows = new Map<number, WindowStats>();
  for (const { type, at } of events) {
    const start = at - (at % MINUTE);
    const stats = windows.get(start) ?? {
      windowStart: rfc3339(start),
      windowEnd: rfc3339(start + MINUTE),
      created: 0,
      updated: 0,
      deleted: 0,
      liveUsers: 0,
      lateEvents: 0,
    };
    if (type === UserEventType.USER_EVENT_TYPE_CREATED) stats.created += 1;
    if (type === UserEventType.USER_EVENT_TYPE_UPDATED) stats.updated += 1;
    if (type === UserEventType.USER_EVENT_TYPE_DELETED) stats.deleted += 1;
    windows.set(start, stats);
  }
  let live = 0;
  const byKey = new Map<string, WindowStats>();
  for (const start of [...windows.keys()].sort((a, b) => a - b)) {
    const stats = windows.get(start) as WindowStats;
    live += stats.created - stats.deleted;
    stats.liveUsers = live;
    byKey.set(stats.windowStart, stats);
  }
  return byKey;
}

async function produce(messages: readonly { key?: string; value: string; headers?: UserEventMessage["headers"] }[]) {
  for (let i = 0; i < messages.length; i += 1_000) {
    const batch = messages
      .slice(i, i + 1_000)
      .map(({ key, value, headers }) => ({ key: key ?? null, value, headers: { ...headers } }));
    await producer.send({ topic: EVENTS_TOPIC, messages: batch });
  }
}

interface Job {
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<void>;
  /** The mini cluster's REST API, for what a failed wait reports. */
  readonly restUrl: string;
}

/** The job's state as Flink's REST API tells it (checkpoints, exceptions, watermarks), for failure messages. */
async function flinkState(target: Job): Promise<string> {
  const get = async (path: string) =>
    (await fetch(`${target.restUrl}${path}`, { signal: AbortSignal.timeout(2_000) })).json() as Promise<
      Record<string, unknown>
    >;
  try {
    const overview = (await get("/jobs/overview")) as { jobs: { jid: string; state: string }[] };
    const lines: string[] = [];
    for (const { jid, state } of overview.jobs) {
      const checkpoints = (await get(`/jobs/${jid}/checkpoints`)) as { counts: unknown };
      const exceptions = (await get(`/jobs/${jid}/exceptions`)) as { exceptionHistory?: { entries?: unknown[] } };
      const { vertices } = (await get(`/jobs/${jid}`)) as { vertices: { id: string; name: string }[] };
      lines.push(`job ${jid} ${state}, checkpoints ${JSON.stringify(checkpoints.counts)}`);
      lines.push(`exceptions: ${JSON.stringify(exceptions.exceptionHistory?.entries ?? []).slice(0, 2_000)}`);
      for (const vertex of vertices) {
        const watermarks = await get(`/jobs/${jid}/vertices/${vertex.id}/watermarks`);
        lines.push(`${vertex.name.slice(0, 60)}: watermarks ${JSON.stringify(watermarks)}`);
      }
    }
    return lines.join("\n");
  } catch (error) {
    return `(Flink's REST API did not answer: ${String(error)})`;
  }
}

/** Starts the job in a process group of its own (PyFlink's JVM and Python workers with it), SIGKILLed as one. */
async function startJob(restoreFrom?: string): Promise<Job> {
  const [restPort] = await freePorts(1);
  const env = await flinkJobEnv(flink, {
    ...process.env,
    KAFKA_BROKERS: kafka.url,
    STATS_CHECKPOINT_DIR: checkpointDir,
    STATS_CHECKPOINT_INTERVAL_MS: "2000",
    STATS_OUT_OF_ORDERNESS_S: String(OUT_OF_ORDERNESS_S),
    STATS_ALLOWED_LATENESS_S: String(ALLOWED_LATENESS_S),
    STATS_PARALLELISM: "1",
    STATS_FLINK_REST_PORT: String(restPort),
    ...(restoreFrom ? { STATS_RESTORE_FROM: restoreFrom } : {}),
  });
  const child = spawn(flink.python, [USER_STATS_JOB], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    output.splice(0, Math.max(0, output.length - 200));
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { process: child, output, exited, restUrl: `http://127.0.0.1:${restPort}` };
}

async function killJob(target: Job): Promise<void> {
  if (target.process.exitCode !== null || target.process.signalCode !== null) return;
  process.kill(-(target.process.pid as number), "SIGKILL");
  await target.exited;
}

/** Waits for `check` while the job runs; a job that exits fails the wait at once, with its last output. */
async function whileJobRuns<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const running = job as Job;
  let exited = false;
  void running.exited.then(() => {
    exited = true;
  });
  return waitFor(
    what,
    () => {
      if (exited) throw new Error(`the job exited:\n${running.output.slice(-40).join("\n")}`);
      return check();
    },
    JOB_DEADLINE_MS,
    100,
  ).catch(async (error: Error) => {
    const seen =
      `the stats seen: ${committed.length} committed, ${uncommitted.length} with the uncommitted; ` +
      `consumer crashes: ${consumerCrashes.join("; ") || "none"}`;
    const output = running.output.slice(-40).join("\n");
    throw new Error(`${error.message}\n${seen}\n${await flinkState(running)}\njob output:\n${output}`);
  });
}

async function consume(into: StatsRecord[], readUncommitted: boolean, groupId: string): Promise<void> {
  const client = new Kafka({ clientId: groupId, brokers: [kafka.url], logLevel: logLevel.NOTHING });
  const consumer = client.consumer({ groupId, readUncommitted });
  consumers.push(consumer);
  consumer.on(consumer.events.CRASH, ({ payload }) => consumerCrashes.push(`${groupId}: ${String(payload.error)}`));
  await consumer.connect();
  await consumer.subscribe({ topic: STATS_TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      into.push({
        decoded: decodeUserStats({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString("utf8"),
          value: message.value ?? undefined,
          headers: {},
        }),
        key: message.key?.toString("utf8") ?? "",
        value: JSON.parse(message.value?.toString("utf8") ?? "null"),
        headers: Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
        ),
      });
    },
  });
}

/** Resolves once Flink's REST API reports the job RUNNING (its tasks deployed): the job's start-up time. */
async function running(target: Job): Promise<void> {
  await whileJobRuns("the job running", async () => {
    const overview = await fetch(`${target.restUrl}/jobs/overview`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.json() as Promise<{ jobs: { state: string }[] }>)
      .catch(() => undefined);
    return overview?.jobs.some((j) => j.state === "RUNNING") ? true : undefined;
  });
}

const keys = (records: readonly StatsRecord[]) => new Set(records.map((record) => record.key));
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

before(async () => {
  const started = Date.now();
  [kafka, flink] = await Promise.all([startKafka(), ensureFlink()]);
  console.log(`# kafka and flink ready in ${seconds(started)}`);
  checkpointDir = await mkdtemp(join(tmpdir(), "charter-user-stats-"));
  const client = new Kafka({ clientId: "user-stats-test", brokers: [kafka.url], logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [EVENTS_TOPIC, STATS_TOPIC].map((topic) => ({ topic, numPartitions: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await consume(committed, false, "user-stats-test-committed");
  await consume(uncommitted, true, "user-stats-test-uncommitted");
});

after(async () => {
  if (job) await killJob(job);
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await producer?.disconnect();
  await kafka?.stop();
  if (checkpointDir) await rm(checkpointDir, { recursive: true, force: true });
});

test("exact per-minute stats over 10,000 out-of-order events, across a SIGKILL and a restore, and lateness", async () => {
  const events = generate();
  const expected = reference(events);
  assert.equal(expected.size, WINDOWS, "the events span the windows the scenario is written for");
  const windowStarts = [...expected.keys()];
  const lastWindow = windowStarts.at(-1) as string;
  // The windows whose last millisecond the watermark passes within a part: they fire once that part is read.
  const firedBy = (count: number) => {
    const watermark = Math.max(...events.slice(0, count).map((e) => e.at)) - OUT_OF_ORDERNESS_S * 1000 - 1;
    return windowStarts.filter((start) => Date.parse(start) + MINUTE - 1 <= watermark);
  };

  // The first part, with the invalid values among it, before the job's first start.
  const firstPart = events.slice(0, FIRST_PART).map((e) => e.message);
  firstPart.splice(100, 0, ...invalidValues.map((value) => ({ key: "1", value })));
  await produce(firstPart);

  let phase = Date.now();
  job = await startJob();
  const firstJob = job;
  await running(job);
  console.log(`# first start: the job running after ${seconds(phase)}`);
  const firstWindows = firedBy(FIRST_PART);
  await whileJobRuns("the first part's windows committed", () =>
    firstWindows.every((start) => keys(committed).has(start)) ? true : undefined,
  );
  const checkpoint = await whileJobRuns("a completed checkpoint", () => latestCheckpoint(checkpointDir));
  console.log(`# first start: ${firstWindows.length} windows committed, ${checkpoint} complete, ${seconds(phase)}`);

  // The second part; the job is killed once it has written windows of it that no checkpoint has committed yet.
  phase = Date.now();
  // It starts with an event for the first window, dropped long before: late. Replayed after the restore, when Flink's
  // watermark starts again from nothing, it must be judged late again, not counted in a window fired anew.
  await produce([
    event(UserEventType.USER_EVENT_TYPE_CREATED, "999997", T0 + 30_000, 1).message,
    ...events.slice(FIRST_PART, FIRST_PART + SECOND_PART).map((e) => e.message),
  ]);
  const secondWindows = firedBy(FIRST_PART + SECOND_PART).filter((start) => !firstWindows.includes(start));
  const pending = await whileJobRuns("windows of the second part written", () => {
    const written = [...keys(uncommitted)].filter((start) => secondWindows.includes(start));
    return written.length > 0 ? written : undefined;
  });
  const uncommittedAtKill = pending.filter((start) => !keys(committed).has(start));
  await killJob(job);
  console.log(
    `# SIGKILL after ${seconds(phase)}: ${pending.length} windows of the second part written, ` +
      `${uncommittedAtKill.length} of them not committed`,
  );

  // The rest, then an event 30 s past the last window: its watermark fires the last window and drops the others.
  await produce(events.slice(FIRST_PART + SECOND_PART).map((e) => e.message));
  const end = T0 + WINDOWS * MINUTE + 30_000;
  await produce([event(UserEventType.USER_EVENT_TYPE_CREATED, "999999", end, 1).message]);

  phase = Date.now();
  const restoreFrom = await latestCheckpoint(checkpointDir);
  assert.ok(restoreFrom, "a checkpoint was retained when the job was killed");
  job = await startJob(restoreFrom);
  await running(job);
  console.log(`# restart: the job running after ${seconds(phase)}`);
  await whileJobRuns("every window committed", () => (keys(committed).size >= WINDOWS ? true : undefined));
  console.log(`# restart from ${restoreFrom}: every window committed in ${seconds(phase)}`);

  // Lateness: the watermark is now 25 s past the last window's end, within the allowed 60 s for it and beyond
  // them for the window before it.
  phase = Date.now();
  const previousWindow = windowStarts.at(-2) as string;
  await produce([
    event(UserEventType.USER_EVENT_TYPE_CREATED, "999998", Date.parse(lastWindow) + 30_000, 1).message,
    event(UserEventType.USER_EVENT_TYPE_DELETED, "1001", Date.parse(previousWindow) + 30_000, 9).message,
    event(UserEventType.USER_EVENT_TYPE_UPDATED, "999998", Date.parse(lastWindow) + 40_000, 2).message,
  ]);
  await whileJobRuns("the last window fired twice more", () =>
    committed.filter((record) => record.key === lastWindow).length >= 3 ? true : undefined,
  );
  console.log(`# lateness: the late firings committed in ${seconds(phase)}`);

  const aborted = uncommitted.length - committed.length;
  console.log(`# ${aborted} records written before the kill were aborted (seen only by the read_uncommitted consumer)`);

  // Every record the job committed is one the audit service takes: the stats channel's contract, as it reads it.
  assert.deepEqual(
    committed.filter((record) => !record.decoded.ok).map((record) => [record.key, record.decoded]),
    [],
    "every committed record is a UserStats of the contract",
  );

  const byKey = new Map<string, StatsRecord[]>();
  for (const record of committed) byKey.set(record.key, [...(byKey.get(record.key) ?? []), record]);
  assert.deepEqual([...byKey.keys()].sort(), windowStarts, "only the windows the watermark passed were written");
  // lateEvents as the window fired: 0 for the first part's windows, 1 for those fired after the late first event.
  for (const start of windowStarts.slice(0, -1)) {
    const records = byKey.get(start) ?? [];
    const late = firstWindows.includes(start) ? 0 : 1;
    assert.deepEqual(
      records.map((record) => record.value),
      [{ ...expected.get(start), lateEvents: late }],
      `window ${start}: written and committed exactly once, with the reference's counts`,
    );
  }
  const base = { ...(expected.get(lastWindow) as WindowStats), lateEvents: 1 };
  assert.deepEqual(
    byKey.get(lastWindow)?.map((record) => record.value),
    [
      base,
      { ...base, created: base.created + 1, liveUsers: base.liveUsers + 1 },
      { ...base, created: base.created + 1, updated: base.updated + 1, liveUsers: base.liveUsers + 1, lateEvents: 2 },
    ],
    "the last window fired on time, then again for each event within the allowed lateness; the event beyond it " +
      "counted as late and in no window",
  );
  const [record] = byKey.get(windowStarts[0] as string) ?? [];
  assert.deepEqual(
    record?.headers,
    {
      ce_specversion: "1.0",
      ce_id: `user-stats-${windowStarts[0]}`,
      ce_type: "charter.users.v1.UserStats",
      ce_source: "/charter/jobs/user-stats",
      ce_time: expected.get(windowStarts[0] as string)?.windowEnd,
      "content-type": "application/json",
    },
    "the stats records carry their CloudEvents headers",
  );
  const skipped = firstJob.output.filter((line) => line.includes("user-stats skipped an event"));
  assert.deepEqual(
    skipped.map((line) => line.replace(/^.*?> /, "")),
    [
      "not JSON: Expecting value at 0",
      "does not match the contract's UserEvent at $.type: enum rule",
      "does not match the contract's UserEvent at $: required rule",
      "does not match the contract's UserEvent at $.occurredAt: format rule",
    ],
    "each value that breaks the contract was reported with its reason and skipped",
  );
  const lateLines = [...firstJob.output, ...job.output].filter((line) => line.includes("user-stats late event"));
  for (const at of [T0 + 30_000, Date.parse(previousWindow) + 30_000]) {
    assert.ok(
      lateLines.some((line) => line.includes(rfc3339(at))),
      `the late event of ${rfc3339(at)} went to the late side output: ${lateLines.join(" | ")}`,
    );
  }
  assert.equal(
    UserEvent.fromJSON(JSON.parse(firstPart[0]?.value ?? "")).eventId,
    "evt-1",
    "the events are proto3 JSON",
  );
});

test("a bad variable stops the job at start with one line naming it", async () => {
  const cases = [
    {
      env: { STATS_ALLOWED_LATENESS_S: "soon" },
      line: "user-stats: STATS_ALLOWED_LATENESS_S must be a whole number >= 0, got 'soon'",
    },
    {
      env: { KAFKA_SASL_USERNAME: "charter-user-stats" },
      line: "user-stats: KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) must be set when KAFKA_SASL_USERNAME is",
    },
  ];
  await Promise.all(
    cases.map(async ({ env: bad, line }) => {
      const env = await flinkJobEnv(flink, {
        ...process.env,
        KAFKA_BROKERS: kafka.url,
        STATS_CHECKPOINT_DIR: checkpointDir,
        ...bad,
      });
      const child = spawn(flink.python, [USER_STATS_JOB], { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      // A job that accepted the variable would run on: killed at the deadline, it fails the assertion below.
      const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(deadline);
      assert.deepEqual({ code, stderr: stderr.trim() }, { code: 2, stderr: line }, `${JSON.stringify(bad)} refused`);
    }),
  );
});
