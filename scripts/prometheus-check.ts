/**
 * The Prometheus files under deploy/prometheus/, checked by Debian's promtool (provisioned when missing):
 * the rules parse, the scrape config is valid, and the alert rules' unit tests pass.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensurePrometheus } from "./infra/provision.js";

const run = promisify(execFile);
const dir = fileURLToPath(new URL("../deploy/prometheus/", import.meta.url));
const yamlIn = (folder: string) =>
  readdirSync(join(dir, folder))
    .filter((name) => name.endsWith(".yml"))
    .sort()
    .map((name) => join(dir, folder, name));

const { promtool } = await ensurePrometheus();
const checks: string[][] = [
  ["check", "rules", ...yamlIn("rules")],
  ["check", "config", join(dir, "prometheus.yml")],
  ["test", "rules", ...yamlIn("tests")],
];
for (const args of checks) {
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd: dir });
    process.stdout.write(stdout + stderr);
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    console.error(`promtool ${args.join(" ")} failed:\n${stdout}${stderr}`);
    process.exit(1);
  }
}
