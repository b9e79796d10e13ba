/**
 * `npm run audit`: `npm audit --omit=dev --audit-level=high --json` over the runtime dependencies, judged against
 * audit-allowlist.json (scripts/lib/audit-check.ts): any high or critical advisory not in the list, or an entry past
 * its review date, fails with the fix. When the registry's audit endpoint does not answer (a mirror that serves
 * packages but not advisories answers POST /-/npm/v1/security/advisories/bulk with 405), it fails saying so: no
 * verdict is made up from no report.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkAudit, describeVerdict } from "./lib/audit-check.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const ALLOWLIST = "audit-allowlist.json";

const run = spawnSync("npm", ["audit", "--omit=dev", "--audit-level=high", "--json"], {
  cwd: root,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
let report: unknown;
try {
  report = JSON.parse(run.stdout);
} catch {
  report = { message: `npm audit printed no JSON (exit ${run.status}): ${run.stderr.trim().split("\n").pop()}` };
}
const allowlist: unknown = JSON.parse(readFileSync(`${root}${ALLOWLIST}`, "utf8"));
const today = new Date().toISOString().slice(0, 10);
const verdict = checkAudit(report, allowlist, today);
for (const line of describeVerdict(verdict)) console.log(line);
if (verdict.errors.some((e) => e.startsWith("no audit report"))) {
  console.error(
    "✖ the registry's audit endpoint did not answer, so the runtime dependencies are not checked: run `npm run audit` " +
      "where registry.npmjs.org (or a registry that serves advisories) is reachable",
  );
}
if (!verdict.ok) process.exit(1);
const metadata = (report as { metadata?: { vulnerabilities?: Record<string, number> } }).metadata?.vulnerabilities;
console.log(
  `✔ npm audit --omit=dev: no high or critical advisory outside ${ALLOWLIST} (${JSON.stringify(metadata ?? {})})`,
);
