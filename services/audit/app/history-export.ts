/**
 * The history export: every recorded event, as the contract's proto3 JSON of charter.users.v1.UserEvent
 * (contracts/asyncapi/users-events.yaml) exactly as the audit service recorded it, one per line (NDJSON). What the
 * batch jobs read (jobs/history-report/, docs/report.md).
 */
import type { HistoryStore } from "../domain/history.js";

/** Lines handed to `write` at once. */
const CHUNK_LINES = 1000;

/** Writes the whole history through `write`, in the store's scan order; resolves to the number of events. */
export async function exportHistory(
  store: HistoryStore,
  write: (chunk: string) => Promise<void> | void,
): Promise<number> {
  let count = 0;
  let lines: string[] = [];
  for await (const entry of store.scan()) {
    lines.push(JSON.stringify(entry.event));
    count++;
    if (lines.length === CHUNK_LINES) {
      await write(`${lines.join("\n")}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) await write(`${lines.join("\n")}\n`);
  return count;
}
