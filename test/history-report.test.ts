/**
 * The history report (docs/report.md) end to end, as a user runs it: a generated history (seeded, about 3,000 events
 * of some 900 users over 60 days) recorded into a real MongoDB-compatible store through the audit service's own
 * adapter, then `npm run report` with that store's MONGO_URL, which exports it (`npm run history:export`) and runs
 * the PySpark job. Every figure of summary.json is compared with a reference computed here from the generated plan,
 * independently of the job; the Parquet datasets are read back, and report.md's plots are PNGs that exist.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { type RunningServer, startMongo } from "../scripts/infra/index.js";
import { createMongoHistoryStore } from "../services/audit/adapters/mongo-history-store.js";
import type { HistoryEntry } from "../services/audit/domain/history.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The history starts here and was exported at END (no event after it): 60 days. */
const START = Date.UTC(2026, 8, 1);
const END = START + 60 * DAY;
const CUTOFF = END - 30 * DAY;

/** mulberry32: a small seeded PRNG, so the history is the same on every run. */
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

interface PlannedUser {
  readonly userId: string;
  readonly createdMs: number;
  /** Update times, ascending (versions 2, 3, …). */
  readonly updatesMs: readonly number[];
  readonly deletedMs: number | undefined;
  /** Its times written with a +02:00 offset instead of Z. */
  readonly offset: boolean;
}

/** Another time zone's spelling of the same instant: 2026-09-10T01:30:00.000+02:00 is 2026-09-09T23:30:00.000Z. */
const rfc3339 = (ms: number, offset: boolean): string =>
  offset ? new Date(ms + 2 * HOUR).toISOString().replace("Z", "+02:00") : new Date(ms).toISOString();

/** A delay between `min` and `max` ms, log-uniform (seconds as often as weeks), whole milliseconds. */
const logUniform = (random: () => number, min: number, max: number): number =>
  Math.round(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));

/**
 * The users: random ones (a quarter never updated, about a third deleted at delays from a minute to 50 days), and
 * the edge cases by hand. Whatever would happen after END has not happened yet, and is left out.
 */
function planHistory(seed: number, count: number): PlannedUser[] {
  const random = prng(seed);
  const users: PlannedUser[] = [];
  const id = (n: number) => String(7_281_634_251_938_816_001n + BigInt(n) * 7919n);
  const add = (createdMs: number, updatesMs: number[], deletedMs: number | undefined, offset = false) => {
    const seen = (ms: number) => ms <= END;
    users.push({
      userId: id(users.length),
      createdMs,
      updatesMs: updatesMs.filter(seen),
      deletedMs: deletedMs !== undefined && seen(deletedMs) ? deletedMs : undefined,
      offset,
    });
  };
  // The edges: deleted exactly 30 days after a creation exactly at the cutoff (the last event, at END: within, and
  // eligible); created a millisecond after the cutoff (not eligible); deleted 30 days and a millisecond after
  // creation (after 30 days); updated in the very millisecond of its creation (a delay of 0, at START: the first
  // event); created at 01:30 on 10 September at +02:00, which is still 9 September in UTC.
  add(CUTOFF, [], END);
  add(CUTOFF + 1, [], END - 1);
  add(CUTOFF - DAY, [], CUTOFF - DAY + 30 * DAY + 1);
  add(START, [START], undefined);
  add(Date.UTC(2026, 8, 9, 23, 30), [Date.UTC(2026, 8, 9, 23, 45)], undefined, true);
  while (users.length < count) {
    // More users on weekdays than at weekends.
    let day = Math.floor(random() * 60);
    if ([0, 6].includes(new Date(START + day * DAY).getUTCDay()) && random() < 0.5) day = Math.floor(random() * 60);
    const createdMs = START + day * DAY + Math.floor(random() * DAY);
    const updatesMs: number[] = [];
    if (random() >= 0.25) {
      let at = createdMs;
      for (let n = 1 + Math.floor(random() * 6); n > 0; n--) {
        at += logUniform(random, SECOND, 20 * DAY);
        updatesMs.push(at);
      }
    }
    const last = updatesMs.at(-1) ?? createdMs;
    const deletedMs = random() < 0.35 ? last + logUniform(random, MINUTE, 50 * DAY) : undefined;
    add(createdMs, updatesMs, deletedMs, random() < 0.1);
  }
  return users;
}

/** The history of the plan as the audit service records it: the contract's proto3 JSON of each UserEvent. */
function historyOf(users: readonly PlannedUser[]): HistoryEntry[] {
  return users.flatMap((user, n) => {
    const at = (ms: number) => rfc3339(ms, user.offset);
    const event = (type: string, version: number, ms: number, withUser: boolean): HistoryEntry => {
      const eventId = `ev-${user.userId}-${version}`;
      const snapshot = {
        id: user.userId,
        name: `User ${n}`,
        email: `user${n}@example.com`,
        etag: String(version),
        createTime: at(user.createdMs),
        updateTime: at(ms),
      };
      return {
        eventId,
        userId: user.userId,
        version,
        event: {
          eventId,
          type: `USER_EVENT_TYPE_${type}`,
          userId: user.userId,
          ...(withUser ? { user: snapshot } : {}),
          version: String(version),
          occurredAt: at(ms),
          actor: "charter-dev",
        },
      };
    };
    const events = [event("CREATED", 1, user.createdMs, true)];
    user.updatesMs.forEach((ms, i) => {
      events.push(event("UPDATED", i + 2, ms, true));
    });
    if (user.deletedMs !== undefined) events.push(event("DELETED", events.length + 1, user.deletedMs, false));
    return events;
  });
}

/** The exact median as the report defines it: the middle value, or the mean of the two middle values. */
function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The figures, by docs/report.md's definitions, from the plan alone. */
function referenceFigures(users: readonly PlannedUser[], bucketBounds: readonly (number | null)[]) {
  const times = users.flatMap((u) => [
    u.createdMs,
    ...u.updatesMs,
    ...(u.deletedMs === undefined ? [] : [u.deletedMs]),
  ]);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const days: { day: string; created: number }[] = [];
  for (let ms = Date.parse(utcDay(first)); ms <= last; ms += DAY) days.push({ day: utcDay(ms), created: 0 });
  for (const user of users) {
    const day = days.find((d) => d.day === utcDay(user.createdMs));
    assert.ok(day);
    day.created++;
  }
  const updated = users.filter((u) => u.updatesMs.length > 0);
  const delaysUs = updated.map((u) => ((u.updatesMs[0] as number) - u.createdMs) * 1000);
  const buckets = bucketBounds.map((upper, i) => {
    const lower = i === 0 ? Number.NEGATIVE_INFINITY : (bucketBounds[i - 1] as number);
    return delaysUs.filter((us) => us / 1e6 >= lower && (upper === null || us / 1e6 < upper)).length;
  });
  const cutoff = last - 30 * DAY;
  const eligible = users.filter((u) => u.createdMs <= cutoff);
  const deleted = eligible.filter((u) => u.deletedMs !== undefined);
  const within = deleted.filter((u) => (u.deletedMs as number) - u.createdMs <= 30 * DAY);
  const perUser = users.map((u) => 1 + u.updatesMs.length + (u.deletedMs === undefined ? 0 : 1));
  const histogram = [...new Set(perUser)]
    .sort((a, b) => a - b)
    .map((n) => ({
      events: n,
      users: perUser.filter((m) => m === n).length,
    }));
  const medianUs = median(delaysUs);
  const events = perUser.reduce((a, b) => a + b, 0);
  return {
    period: { first, last, days: days.length },
    createdPerDay: { total: users.length, meanPerDay: users.length / days.length, days },
    timeToFirstUpdate: {
      usersCreated: users.length,
      usersUpdated: updated.length,
      usersNeverUpdated: users.length - updated.length,
      medianMicros: medianUs,
      medianSeconds: medianUs === null ? null : medianUs / 1e6,
      buckets,
    },
    deletedWithin30Days: {
      cutoff,
      eligibleUsers: eligible.length,
      deletedWithin30Days: within.length,
      deletedAfter30Days: deleted.length - within.length,
      notDeleted: eligible.length - deleted.length,
      share: within.length / eligible.length,
    },
    eventsPerUser: {
      users: users.length,
      events,
      mean: events / users.length,
      median: median(perUser),
      max: Math.max(...perUser),
      histogram,
    },
  };
}

interface Ran {
  readonly code: number | null;
  readonly output: string;
}

/** `npm run report -- <args>` as a user runs it (through npm, with its pre-script), collecting its output. */
function npmRunReport(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", "report", "--", ...args], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: a run past its deadline is killed with everything it started
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("the history report (npm run report)", () => {
  const users = planHistory(18, 900);
  const history = historyOf(users);
  let mongo: RunningServer;
  let out: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "charter-report-"));
    mongo = await startMongo();
    const store = await createMongoHistoryStore({ url: mongo.url, connectTimeoutMs: 5_000 });
    try {
      for (let i = 0; i < history.length; i += 500) {
        const recorded = await store.recordMany(history.slice(i, i + 500));
        assert.ok(recorded.every(Boolean));
      }
    } finally {
      await store.close();
    }
  });

  after(async () => {
    await mongo?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  });

  test("a bad run says what is wrong: no store to export from, no file, lines that are not UserEvents", async () => {
    const { MONGO_URL: _, ...withoutMongo } = process.env;
    const noStore = await npmRunReport(["--out", join(out, "none")], withoutMongo, 60_000);
    assert.notEqual(noStore.code, 0);
    assert.match(noStore.output, /MONGO_URL is not set/);
    assert.match(noStore.output, /--file <history\.ndjson>/);
    const noFile = await npmRunReport(
      ["--file", join(out, "missing.ndjson"), "--out", join(out, "none")],
      process.env,
      60_000,
    );
    assert.equal(noFile.code, 2, noFile.output);
    assert.match(noFile.output, /missing\.ndjson is not a file/);

    // Checked against the contract's UserEvent: a time that is not RFC 3339, a type the enum lacks, not JSON.
    const [created, updated] = history.map((entry) => entry.event as Record<string, unknown>);
    const bad = join(out, "bad.ndjson");
    await writeFile(
      bad,
      [
        JSON.stringify(created),
        "",
        JSON.stringify({ ...updated, occurredAt: "yesterday" }),
        JSON.stringify({ ...updated, type: "USER_EVENT_TYPE_RENAMED" }),
        "{not json",
        JSON.stringify(updated),
      ].join("\n"),
    );
    const badLines = await npmRunReport(["--file", bad, "--out", join(out, "bad")], process.env, 120_000);
    assert.equal(badLines.code, 2, badLines.output);
    assert.match(badLines.output, /3 line\(s\) of \S*bad\.ndjson are not UserEvents by the contract: /);
    assert.match(badLines.output, /line 3: occurredAt: 'yesterday' is not a 'date-time'/);
    assert.match(badLines.output, /line 4: type: 'USER_EVENT_TYPE_RENAMED' is not one of /);
    assert.match(badLines.output, /line 5: not JSON/);
    assert.doesNotMatch(badLines.output, /Traceback/);
    assert.deepEqual(await readdir(join(out, "bad")), [], "nothing written from a bad input");
  });

  test("on a running platform's history: the export, every figure, the datasets and the report", async () => {
    assert.ok(history.length > 2_500 && history.length < 5_000, `${history.length} events`);
    const started = Date.now();
    const ran = await npmRunReport(["--out", out], { ...process.env, MONGO_URL: mongo.url }, 240_000);
    console.log(`npm run report: ${((Date.now() - started) / 1000).toFixed(1)} s for ${history.length} events`);
    assert.equal(ran.code, 0, ran.output);
    assert.match(ran.output, new RegExp(`report: ${join(out, "report.md").replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));

    // The export: every recorded event, once, as the contract's JSON it was recorded as.
    const exported = (await readFile(join(out, "history.ndjson"), "utf8"))
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      String(a.eventId) < String(b.eventId) ? -1 : 1;
    assert.deepEqual(exported.sort(byId), history.map((entry) => ({ ...entry.event })).sort(byId));

    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
    const ttfu = summary.timeToFirstUpdate;
    const bounds = (ttfu.buckets as { upToSeconds: number | null }[]).map((b) => b.upToSeconds);
    const expected = referenceFigures(users, bounds);

    assert.deepEqual(summary.input, {
      path: join(out, "history.ndjson"),
      lines: history.length,
      events: history.length,
      duplicates: 0,
    });
    assert.equal(Date.parse(summary.period.start), expected.period.first);
    assert.equal(Date.parse(summary.period.end), expected.period.last);
    assert.equal(expected.period.last, END, "the last event is the edge user's deletion at END");
    assert.equal(summary.period.days, expected.period.days);

    const perDay = summary.createdPerDay;
    assert.deepEqual(perDay.days, expected.createdPerDay.days);
    assert.equal(perDay.total, expected.createdPerDay.total);
    assert.equal(perDay.meanPerDay, expected.createdPerDay.meanPerDay);

    assert.equal(ttfu.usersCreated, expected.timeToFirstUpdate.usersCreated);
    assert.equal(ttfu.usersUpdated, expected.timeToFirstUpdate.usersUpdated);
    assert.equal(ttfu.usersNeverUpdated, expected.timeToFirstUpdate.usersNeverUpdated);
    assert.equal(ttfu.medianMicros, expected.timeToFirstUpdate.medianMicros);
    assert.equal(ttfu.medianSeconds, expected.timeToFirstUpdate.medianSeconds);
    assert.deepEqual(
      ttfu.buckets.map((b: { users: number }) => b.users),
      expected.timeToFirstUpdate.buckets,
    );

    const deletion = summary.deletedWithin30Days;
    assert.equal(Date.parse(deletion.cutoff), expected.deletedWithin30Days.cutoff);
    assert.equal(Date.parse(deletion.cutoff), CUTOFF);
    for (const key of ["eligibleUsers", "deletedWithin30Days", "deletedAfter30Days", "notDeleted", "share"] as const) {
      assert.equal(deletion[key], expected.deletedWithin30Days[key], key);
    }

    assert.deepEqual(summary.eventsPerUser, expected.eventsPerUser);

    // The Parquet datasets: one per figure, read back.
    const rowsOf = async (name: string) => {
      const dir = join(out, name);
      const parts = (await readdir(dir)).filter((f) => f.endsWith(".parquet"));
      assert.equal(parts.length, 1, `${name}: ${parts.join(", ")}`);
      const file = await asyncBufferFromFile(join(dir, parts[0] as string));
      const metadata = await parquetMetadataAsync(file);
      const rows = await parquetReadObjects({ file, metadata });
      assert.equal(Number(metadata.num_rows), rows.length);
      return rows;
    };
    const perDayRows = await rowsOf("created_per_day");
    assert.deepEqual(
      perDayRows.map((r) => ({ day: new Date(r.day as Date).toISOString().slice(0, 10), created: Number(r.created) })),
      expected.createdPerDay.days,
    );
    const delays = await rowsOf("time_to_first_update");
    assert.equal(delays.length, expected.timeToFirstUpdate.usersUpdated);
    assert.equal(median(delays.map((r) => Number(r.delayUs))), expected.timeToFirstUpdate.medianMicros);
    const cohort = await rowsOf("deleted_within_30_days");
    assert.equal(cohort.length, expected.deletedWithin30Days.eligibleUsers);
    assert.equal(
      cohort.filter((r) => r.deletedWithin30Days === true).length,
      expected.deletedWithin30Days.deletedWithin30Days,
    );
    const perUser = await rowsOf("events_per_user");
    assert.equal(perUser.length, expected.eventsPerUser.users);
    assert.equal(
      perUser.reduce((sum, r) => sum + Number(r.events), 0),
      expected.eventsPerUser.events,
    );
    for (const [name, rows] of Object.entries({
      created_per_day: perDayRows.length,
      time_to_first_update: delays.length,
      deleted_within_30_days: cohort.length,
      events_per_user: perUser.length,
    })) {
      assert.equal(summary.datasets[name].rows, rows, name);
    }

    // The human report: its summary first, and every plot it links is a PNG that is there.
    const report = await readFile(join(out, "report.md"), "utf8");
    assert.match(report, /^# User history report\n/);
    assert.match(
      report,
      new RegExp(`\\*\\*${expected.createdPerDay.total.toLocaleString("en-US")} users created\\*\\*`),
    );
    const plots = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1] as string);
    assert.deepEqual(plots.sort(), [
      "created_per_day.png",
      "deleted_within_30_days.png",
      "events_per_user.png",
      "time_to_first_update.png",
    ]);
    for (const plot of plots) {
      const png = await readFile(join(out, plot));
      assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, plot);
      assert.ok(png.readUInt32BE(16) >= 600 && png.readUInt32BE(20) >= 200, `${plot}: its IHDR size`);
    }
  });
});
