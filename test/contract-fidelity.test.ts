/**
 * Cross-protocol fidelity of the field rules: one corpus of edge values (generated from the rules with fast-check
 * and a fixed list, see test/support/fidelity/corpus.ts) goes through all nine servers — the real users service
 * (gRPC), the real gateway in front of it (REST and GraphQL), the three mocks (Prism, the gRPC mock, the
 * GraphQL mock), and the same three in the stateful mode (one store behind them: Prism's validation proxy in front
 * of it for REST) — as CreateUser, UpdateUser and ListUsers, and through the audit service's event decoding
 * in-process. Every server that can carry a value must say the same of it: accepted, or refused naming the same
 * field; a value the real servers accept is read back unchanged over REST, GraphQL and gRPC.
 *
 * A second test starts one more real users service with the e-mail format loosened by a preloaded test-only
 * module, and shows that the agreement table names that server and the `email` field, and nothing else.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform, USERS_ENTRY } from "../scripts/lib/start-platform.js";
import { decodeUserEvent } from "../services/audit/domain/user-event-codec.js";
import { startTestIssuer } from "./support/auth.js";
import { agreementTable, agrees, oddOnesOut, type Row, runCorpus, type Servers } from "./support/fidelity/agreement.js";
import { buildCorpus, type CorpusValue } from "./support/fidelity/corpus.js";
import {
  accepted,
  type Driver,
  graphqlDriver,
  grpcDriver,
  normaliseField,
  notCarried,
  type Outcome,
  outcomeKey,
  restDriver,
} from "./support/fidelity/drivers.js";
import { entityOf } from "./support/fidelity/entity.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const LOOSENED_RULE = fileURLToPath(new URL("./support/fidelity/loosened-email-rule.ts", import.meta.url));
const CONCURRENCY = 8;

const USERS = entityOf("users");

const COLUMNS = {
  users: "users gRPC",
  rest: "gateway REST",
  graphql: "gateway GraphQL",
  prism: "REST mock (Prism)",
  grpcMock: "gRPC mock",
  graphqlMock: "GraphQL mock",
  statefulRest: "stateful REST mock",
  statefulGrpc: "stateful gRPC mock",
  statefulGraphql: "stateful GraphQL mock",
  audit: "audit decode",
  loosened: "users gRPC (loosened email)",
} as const;

/** The audit service's decoding of a UserEvent whose user carries the value: accepted, or refused naming the field. */
function auditOutcome(row: Row): Outcome {
  if (row.field === "pageSize") return notCarried("a UserEvent carries no page size");
  const userId = "7281634251938816001";
  const time = "2026-01-15T09:30:00Z";
  const user = {
    id: userId,
    name: "Fidelity Filler",
    email: "fidelity@example.com",
    etag: "2",
    createTime: time,
    updateTime: time,
  };
  const event = {
    eventId: "fidelity-1",
    type: row.op === "create" ? "USER_EVENT_TYPE_CREATED" : "USER_EVENT_TYPE_UPDATED",
    userId,
    user: { ...user, [row.field]: row.value },
    version: "2",
    occurredAt: time,
  };
  const decoded = decodeUserEvent({
    topic: "charter.users.v1.events",
    partition: 0,
    offset: "0",
    key: userId,
    value: Buffer.from(JSON.stringify(event)),
    headers: {},
  });
  if (decoded.ok) return accepted;
  const field = /^(user\.\w+) /.exec(decoded.reason)?.[1];
  return field === undefined
    ? { kind: "error", detail: `refused without naming a user field: ${decoded.reason}` }
    : { kind: "refused", fields: [normaliseField(USERS, field)] };
}

/**
 * A driver of a stateful mock: what one of its creates makes is deleted at once through `cleaner` (the stateful
 * gRPC mock), so that an e-mail under test is free again for the next server and for the updates of the example user.
 */
const cleanedAfterCreate = (driver: Driver, cleaner: Driver): Driver => ({
  ...driver,
  async create(fields) {
    const written = await driver.create(fields);
    if (written.outcome.kind === "accepted" && written.id) await cleaner.remove?.(written.id);
    return written;
  },
});

const MOCK_PORTS = { MOCK_REST_PORT: "0", MOCK_GRPC_PORT: "0", MOCK_GRAPHQL_PORT: "0" };

describe("contract fidelity: one corpus, nine servers and the event decoding, one verdict per value", () => {
  let platform: RunningPlatform;
  let mocks: ServiceProcess;
  let statefulMocks: ServiceProcess;
  let loosened: ServiceProcess;
  let drivers: Driver[] = [];
  let servers: Servers;
  let mainRun: Promise<Row[]> | undefined;
  const corpus: CorpusValue[] = buildCorpus(USERS);

  /** The corpus through the six servers (once for the file), with the audit column added. */
  const mainRows = (): Promise<Row[]> => {
    mainRun ??= runCorpus(corpus, servers, CONCURRENCY).then((rows) => {
      for (const row of rows) row.outcomes.set(COLUMNS.audit, auditOutcome(row));
      return rows;
    });
    return mainRun;
  };

  before(async () => {
    const started = await Promise.allSettled([
      startPlatform({ GATEWAY_HOST: "127.0.0.1", ...issuer.env }),
      startService("mocks/main.ts", MOCK_PORTS, "mocks ready", 60_000),
      startService("mocks/main.ts", { ...MOCK_PORTS, MOCK_STATEFUL: "true" }, "mocks ready", 60_000),
      // One more real users service, its e-mail format loosened by a module preloaded after tsx's loader.
      startService(
        USERS_ENTRY,
        {
          USERS_GRPC_PORT: "0",
          USERS_METRICS_PORT: "0",
          USERS_HOST: "127.0.0.1",
          ...issuer.env,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import tsx --import ${LOOSENED_RULE}`.trim(),
        },
        "users service ready",
      ),
    ]);
    const [p, m, s, l] = started;
    if (p.status === "fulfilled") platform = p.value;
    if (m.status === "fulfilled") mocks = m.value;
    if (s.status === "fulfilled") statefulMocks = s.value;
    if (l.status === "fulfilled") loosened = l.value;
    const failed = started.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed.length > 0) throw new Error(failed.map((f) => String(f.reason)).join("\n"));

    const usersAddress = `127.0.0.1:${platform.users.ready.grpcPort}`;
    const users = grpcDriver(USERS, COLUMNS.users, usersAddress, true, authorization);
    const rest = restDriver(USERS, COLUMNS.rest, platform.baseUrl, true, authorization);
    const graphql = graphqlDriver(USERS, COLUMNS.graphql, `${platform.baseUrl}/graphql`, true, authorization);
    drivers = [
      users,
      rest,
      graphql,
      restDriver(USERS, COLUMNS.prism, `http://127.0.0.1:${mocks.ready.restPort}`, false, authorization),
      grpcDriver(USERS, COLUMNS.grpcMock, `127.0.0.1:${mocks.ready.grpcPort}`, false, authorization),
      graphqlDriver(
        USERS,
        COLUMNS.graphqlMock,
        `http://127.0.0.1:${mocks.ready.graphqlPort}/graphql`,
        false,
        authorization,
      ),
    ];
    const stateful = statefulMocks.ready;
    const statefulGrpc = grpcDriver(
      USERS,
      COLUMNS.statefulGrpc,
      `127.0.0.1:${stateful.grpcPort}`,
      false,
      authorization,
    );
    drivers.push(
      cleanedAfterCreate(
        restDriver(USERS, COLUMNS.statefulRest, `http://127.0.0.1:${stateful.restPort}`, false, authorization),
        statefulGrpc,
      ),
      cleanedAfterCreate(statefulGrpc, statefulGrpc),
      cleanedAfterCreate(
        graphqlDriver(
          USERS,
          COLUMNS.statefulGraphql,
          `http://127.0.0.1:${stateful.graphqlPort}/graphql`,
          false,
          authorization,
        ),
        statefulGrpc,
      ),
    );
    servers = { entity: USERS, drivers, readers: [rest, graphql, users], store: users };
  });

  after(async () => {
    for (const driver of drivers) driver.close();
    await Promise.all([platform?.stop(), mocks?.stop(), statefulMocks?.stop(), loosened?.stop()]);
  });

  test("every value gets one verdict from every server, and what is accepted reads back unchanged", async () => {
    const started = Date.now();
    const rows = await mainRows();
    const counts = Object.fromEntries(
      (["name", "email", "pageSize"] as const).map((f) => [f, corpus.filter((v) => v.field === f).length]),
    );
    const table = agreementTable(rows, [...drivers.map((d) => d.name), COLUMNS.audit]);
    console.log(
      `corpus: ${corpus.length} values (${Object.entries(counts)
        .map(([f, n]) => `${f} ${n}`)
        .join(", ")}), ${rows.length} rows, run in ${((Date.now() - started) / 1000).toFixed(1)} s\n${table}`,
    );
    assert.ok(corpus.length >= 200, `a corpus of at least 200 values (${corpus.length})`);
    // Nothing is silently dropped: every column has an outcome for every row.
    for (const row of rows) assert.equal(row.outcomes.size, drivers.length + 1, `${row.field} ${row.op} ${row.value}`);
    // The corpus reaches both sides of every rule: each field is accepted and refused somewhere.
    for (const field of ["name", "email", "pageSize"] as const) {
      const outcomes = rows.filter((r) => r.field === field).map((r) => r.outcomes.get(COLUMNS.users)?.kind);
      assert.ok(outcomes.includes("accepted") && outcomes.includes("refused"), `${field}: both verdicts are reached`);
    }
    const disagreements = rows.filter((row) => !agrees(row));
    assert.equal(disagreements.length, 0, `the servers disagree on ${disagreements.length} values:\n${table}`);
  });

  test("a server with one rule loosened is named, with that field and nothing else", async () => {
    const baseline = await mainRows();
    const loosenedDriver = grpcDriver(
      USERS,
      COLUMNS.loosened,
      `127.0.0.1:${loosened.ready.grpcPort}`,
      true,
      authorization,
    );
    drivers.push(loosenedDriver); // closed with the others
    const emails = corpus.filter((v) => v.field === "email");
    const theirs = await runCorpus(
      emails,
      { entity: USERS, drivers: [loosenedDriver], readers: [loosenedDriver], store: loosenedDriver },
      CONCURRENCY,
    );
    const byValue = new Map(theirs.map((r) => [`${r.op} ${String(r.value)}`, r]));
    const merged: Row[] = baseline
      .filter((r) => r.field === "email")
      .map((r) => {
        const outcome = byValue.get(`${r.op} ${String(r.value)}`)?.outcomes.get(COLUMNS.loosened);
        assert.ok(outcome, `the loosened server answered ${r.op} ${r.value}`);
        return {
          ...r,
          outcomes: new Map([...r.outcomes, [COLUMNS.loosened, outcome]]),
          roundTrip: [...r.roundTrip, ...(byValue.get(`${r.op} ${String(r.value)}`)?.roundTrip ?? [])],
        };
      });
    const columns = [...drivers.map((d) => d.name), COLUMNS.audit];
    const table = agreementTable(merged, columns);
    console.log(`the e-mail corpus with a loosened users service beside the nine:\n${table}`);

    // The rows the loosened server changes: those that agreed without it and disagree with it.
    const emailBaseline = baseline.filter((r) => r.field === "email");
    const agreedBefore = merged.filter((_, i) => agrees(emailBaseline[i] as Row));
    const newlyDisagreeing = agreedBefore.filter((row) => !agrees(row));
    assert.ok(newlyDisagreeing.length > 0, "the loosened e-mail rule makes some values disagree");
    for (const row of newlyDisagreeing) {
      assert.deepEqual(oddOnesOut(row), [COLUMNS.loosened], `${row.op} ${row.value}: only the loosened server differs`);
      assert.equal(outcomeKey(row.outcomes.get(COLUMNS.loosened) ?? accepted), "accepted");
      assert.equal(outcomeKey(row.outcomes.get(COLUMNS.users) ?? accepted), "refused: email");
    }
    // Where the other servers agree and the value is not an e-mail format question, the loosened one agrees too.
    const unchanged = agreedBefore.filter((row) => agrees(row));
    assert.ok(unchanged.length > 0, "values the loosened rule does not touch still agree");
    assert.match(table, new RegExp(`differs: ${COLUMNS.loosened.replace(/[()]/g, "\\$&")}\\n`));
    const named = new Set(
      table
        .split("\n")
        .filter((line) => line.includes("✗"))
        .map((line) => / — differs: (.*)$/.exec(line)?.[1]),
    );
    const baselineOdd = new Set(
      baseline.filter((r) => r.field === "email" && !agrees(r)).map((r) => oddOnesOut(r).join(", ")),
    );
    for (const servers of named) {
      assert.ok(
        servers === COLUMNS.loosened || baselineOdd.has(servers ?? "") || (servers ?? "").includes(COLUMNS.loosened),
        `the table names only the loosened server beyond what already differed: ${servers}`,
      );
    }
  });
});
