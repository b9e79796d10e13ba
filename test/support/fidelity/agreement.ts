/**
 * Runs a corpus through a set of servers and tabulates what each said: one row per (operation, value), one
 * column per server. A row agrees when every server that can carry the value gave the same outcome (accepted, or
 * refused naming the same fields) and nothing else (an error, a value read back changed) went wrong.
 */
import { type CorpusValue, showValue } from "./corpus.js";
import { type Driver, fillerOf, type Outcome, outcomeKey } from "./drivers.js";
import type { Entity } from "./entity.js";

export type Operation = "create" | "update" | "list";

export interface Row {
  readonly field: CorpusValue["field"];
  readonly kind: string;
  readonly op: Operation;
  readonly value: string | number;
  /** By server name, in column order. */
  readonly outcomes: Map<string, Outcome>;
  /** Values an accepted write did not read back as sent: "<writer> → <reader>: got …". */
  readonly roundTrip: string[];
}

export interface Servers {
  /** What the servers serve: its fields, and the fillers a create needs. */
  readonly entity: Entity;
  /** Every column, in order; each value goes through them one after the other. */
  readonly drivers: readonly Driver[];
  /** Real servers over one store: an entity written by any real driver is read back through each of these. */
  readonly readers: readonly Driver[];
  /** The real server that makes the filler entity for updates and deletes what a value's writes created. */
  readonly store?: Driver;
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const errorOf = (error: unknown): Outcome => ({ kind: "error", detail: `threw: ${(error as Error).message}` });

/** Reads the entity back through every reader and notes where the field is not what was sent. */
async function readBack(servers: Servers, writer: string, id: string, field: string, value: string, out: string[]) {
  for (const reader of servers.readers) {
    try {
      const read = await reader.get?.(id);
      if (read && read[field] !== value) out.push(`${writer} → ${reader.name}: got ${showValue(read[field] ?? "")}`);
    } catch (error) {
      out.push(`${writer} → ${reader.name}: ${(error as Error).message.slice(0, 200)}`);
    }
  }
}

async function writeRows(value: CorpusValue, servers: Servers): Promise<Row[]> {
  const field = value.field;
  const text = String(value.value);
  const create: Row = { ...base(value, "create") };
  const update: Row = { ...base(value, "update") };
  // Creates first, each deleted before the next so that a unique value under test (an e-mail) is free for the next.
  for (const driver of servers.drivers) {
    try {
      const written = await driver.create({ ...fillerOf(servers.entity, field), [field]: text });
      create.outcomes.set(driver.name, written.outcome);
      if (driver.real && written.outcome.kind === "accepted" && written.id) {
        await readBack(servers, driver.name, written.id, field, text, create.roundTrip);
        await servers.store?.remove?.(written.id);
      }
    } catch (error) {
      create.outcomes.set(driver.name, errorOf(error));
    }
  }
  // Updates: the real servers change one filler entity of their own store; the mocks their example entity.
  let fillerId: string | undefined;
  try {
    if (servers.store) {
      const filler = await servers.store.create(fillerOf(servers.entity));
      if (filler.outcome.kind !== "accepted" || !filler.id)
        throw new Error(`filler ${servers.entity.singular}: ${outcomeKey(filler.outcome)}`);
      fillerId = filler.id;
    }
    for (const driver of servers.drivers) {
      try {
        const id = driver.real ? fillerId : servers.entity.exampleId;
        if (id === undefined) throw new Error(`no filler ${servers.entity.singular}`);
        const written = await driver.update(id, field, text);
        update.outcomes.set(driver.name, written.outcome);
        if (driver.real && written.outcome.kind === "accepted") {
          await readBack(servers, driver.name, id, field, text, update.roundTrip);
        }
      } catch (error) {
        update.outcomes.set(driver.name, errorOf(error));
      }
    }
  } finally {
    if (fillerId !== undefined) await servers.store?.remove?.(fillerId);
  }
  return [create, update];
}

const base = (value: CorpusValue, op: Operation): Row => ({
  field: value.field,
  kind: value.kind,
  op,
  value: value.value,
  outcomes: new Map(),
  roundTrip: [],
});

async function listRow(value: CorpusValue, servers: Servers): Promise<Row> {
  const row = base(value, "list");
  for (const driver of servers.drivers) {
    try {
      row.outcomes.set(driver.name, await driver.list(value.value));
    } catch (error) {
      row.outcomes.set(driver.name, errorOf(error));
    }
  }
  return row;
}

/** Every value through every server, `concurrency` values at a time (each value's servers one after the other). */
export async function runCorpus(values: readonly CorpusValue[], servers: Servers, concurrency = 8): Promise<Row[]> {
  const rows = await pool(values, concurrency, (value) =>
    value.field === "pageSize" ? listRow(value, servers).then((r) => [r]) : writeRows(value, servers),
  );
  return rows.flat();
}

/** The outcomes a row compares: every column's but those that cannot carry the value. */
const compared = (row: Row): string[] => [...row.outcomes.values()].filter((o) => o.kind !== "n/a").map(outcomeKey);

export function agrees(row: Row): boolean {
  const keys = new Set(compared(row));
  return keys.size === 1 && ![...keys][0]?.startsWith("error") && row.roundTrip.length === 0;
}

/** The columns that differ from the row's majority outcome (all columns, when there is no majority). */
export function oddOnesOut(row: Row): string[] {
  const counts = new Map<string, number>();
  for (const key of compared(row)) counts.set(key, (counts.get(key) ?? 0) + 1);
  const [majority, n] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ["", 0];
  const tie = [...counts.values()].filter((c) => c === n).length > 1;
  return [...row.outcomes]
    .filter(([, o]) => o.kind !== "n/a" && (tie || outcomeKey(o) !== majority || outcomeKey(o).startsWith("error")))
    .map(([server]) => server);
}

const short = (o: Outcome): string =>
  o.kind === "accepted"
    ? "acc"
    : o.kind === "refused"
      ? `ref(${o.fields.join(",")})`
      : o.kind === "n/a"
        ? "n/a"
        : "ERR";

/**
 * The agreement table: per field × operation × kind of value, what each server did (counts of each outcome) and
 * how many rows agree; then every disagreeing row in full.
 */
export function agreementTable(rows: readonly Row[], columns: readonly string[]): string {
  const lines: string[] = [];
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.field} ${row.op} ${row.kind}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  lines.push(
    `field × value class → outcomes per server (acc = accepted, ref(f) = refused naming f, n/a = not carried)`,
  );
  lines.push(`columns: ${columns.map((c, i) => `[${i + 1}] ${c}`).join("  ")}`);
  for (const [key, group] of groups) {
    const agreeing = group.filter(agrees).length;
    const cells = columns.map((column, i) => {
      const counts = new Map<string, number>();
      for (const row of group) {
        const o = row.outcomes.get(column);
        const k = o ? short(o) : "-";
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      return `[${i + 1}] ${[...counts].map(([k, n]) => `${k}×${n}`).join(" ")}`;
    });
    lines.push(
      `  ${key.padEnd(34)} ${String(agreeing).padStart(3)}/${String(group.length).padEnd(3)} agree   ${cells.join("  ")}`,
    );
  }
  const notCarried = new Map<string, number>();
  for (const row of rows) {
    for (const [column, o] of row.outcomes) {
      if (o.kind !== "n/a") continue;
      const key = `${column}: ${o.reason}`;
      notCarried.set(key, (notCarried.get(key) ?? 0) + 1);
    }
  }
  lines.push("not carried (n/a, never compared):");
  for (const [key, n] of notCarried) lines.push(`  ${key} ×${n}`);
  const disagreements = rows.filter((row) => !agrees(row));
  lines.push(`disagreements: ${disagreements.length} of ${rows.length} rows`);
  for (const row of disagreements) {
    lines.push(
      `  ✗ ${row.field} ${row.op} [${row.kind}] ${showValue(row.value)} — differs: ${oddOnesOut(row).join(", ") || "(round trip)"}`,
    );
    for (const column of columns) {
      const o = row.outcomes.get(column);
      if (!o) continue;
      const extra = o.kind === "n/a" ? ` (${o.reason})` : o.kind === "refused" && o.how ? ` [${o.how}]` : "";
      lines.push(`      ${column.padEnd(28)} ${outcomeKey(o)}${extra}`);
    }
    for (const failure of row.roundTrip) lines.push(`      round trip: ${failure}`);
  }
  return lines.join("\n");
}
