/**
 * `npm run history:export -- --out <file.ndjson>`: the audit service's history store (MongoDB at MONGO_URL,
 * MONGO_CONNECT_TIMEOUT_MS) written as NDJSON, one contract-JSON UserEvent per line (app/history-export.ts). The
 * file appears whole or not at all: it is written beside its name and renamed at the end. The history of a
 * platform on embedded defaults lives in its process's memory, and there is nothing to read: MONGO_URL is required.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ConfigError } from "../../platform/config.js";
import { createMongoHistoryStore } from "./adapters/mongo-history-store.js";
import { exportHistory } from "./app/history-export.js";
import { loadAuditConfig } from "./audit-config.js";

const USAGE = "usage: npm run history:export -- --out <file.ndjson>";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" } }, strict: true });
  if (!values.out) throw new ConfigError(`--out is required (${USAGE})`);
  const config = loadAuditConfig();
  if (!config.mongoUrl) {
    throw new ConfigError(
      "MONGO_URL is not set: the history is exported from the audit service's MongoDB store (a platform on " +
        "embedded defaults keeps its history in memory, where nothing can read it)",
    );
  }
  const store = await createMongoHistoryStore({ url: config.mongoUrl, connectTimeoutMs: config.mongoConnectTimeoutMs });
  const partial = `${values.out}.partial-${process.pid}`;
  const file = createWriteStream(partial);
  try {
    const count = await exportHistory(store, async (chunk) => {
      if (!file.write(chunk)) await once(file, "drain");
    });
    file.end();
    await once(file, "finish");
    await rename(partial, values.out);
    process.stderr.write(`history:export: ${count} events written to ${values.out}\n`);
  } catch (error) {
    file.destroy();
    await rm(partial, { force: true });
    throw error;
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof ConfigError ? "configuration error" : "failed";
  process.stderr.write(`history:export: ${kind}: ${message.split("\n")[0]}\n`);
  process.exit(1);
});
