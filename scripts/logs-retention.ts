/**
 * `npm run logs:retention -- --url http://127.0.0.1:9200 --max-age-days 7`: deletes the daily log indices
 * (`charter-logs-YYYY.MM.DD`) older than the given number of days before today (UTC) and prints each one deleted.
 */
import { parseArgs } from "node:util";
import { deleteOldLogIndices } from "./infra/log-indices.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "max-age-days": { type: "string" },
  },
});
const maxAgeDays = Number(values["max-age-days"]);
if (!values.url || !/^\d+$/.test(values["max-age-days"] ?? "")) {
  console.error("usage: npm run logs:retention -- --url <opensearch url> --max-age-days <days>");
  process.exit(2);
}
const deleted = await deleteOldLogIndices(values.url, { maxAgeDays });
for (const name of deleted) console.log(`deleted ${name}`);
console.log(`${deleted.length} ${deleted.length === 1 ? "index" : "indices"} older than ${maxAgeDays} days deleted`);
