/**
 * `npm run report [-- --file <history.ndjson>] [--out <dir>]`: the history report (jobs/history-report/, a PySpark
 * batch job; docs/report.md). Provisions Spark (cached under ~/.cache/charter/, each step printed with its time),
 * then, without --file, exports the running platform's history from the audit service's store
 * (`npm run history:export`, with the usual MONGO_URL) into <out>/history.ndjson, and runs the job on loopback only
 * (SPARK_LOCAL_IP, driver host and bind address 127.0.0.1, no UI). Writes into --out (default ./report/): a Parquet
 * dataset per figure, summary.json and report.md with its PNG plots; prints where the report is.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ensureSpark } from "./infra/spark.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const USAGE = "usage: npm run report [-- --file <history.ndjson>] [--out <dir>]";

/** Runs a command with the terminal's output; resolves with its exit code. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", fail);
    child.once("exit", (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  let values: { file?: string; out?: string };
  try {
    ({ values } = parseArgs({ options: { file: { type: "string" }, out: { type: "string" } }, strict: true }));
  } catch (error) {
    console.error(`report: ${(error as Error).message} (${USAGE})`);
    return 2;
  }
  const out = resolve(values.out ?? "report");
  await mkdir(out, { recursive: true });
  let input = values.file === undefined ? undefined : resolve(values.file);
  if (input === undefined) {
    input = join(out, "history.ndjson");
    console.error(`report: exporting the history from the audit service's store into ${input}`);
    const exported = await run(
      process.execPath,
      ["--import", "tsx", "services/audit/history-export.ts", "--out", input],
      process.env,
    );
    if (exported !== 0) {
      console.error("report: the export failed (above); or report on a file with --file <history.ndjson>");
      return exported;
    }
  }
  const spark = await ensureSpark();
  const env = {
    ...process.env,
    SPARK_LOCAL_IP: "127.0.0.1",
    PYSPARK_PYTHON: spark.python,
    PATH: `${dirname(spark.java)}${delimiter}${process.env.PATH ?? ""}`,
  };
  const job = join(root, "jobs", "history-report", "main.py");
  const contract = join(root, "contracts", "asyncapi", "users-events.yaml");
  const code = await run(spark.python, [job, "--input", input, "--out", out, "--contract", contract], env);
  if (code !== 0) return code;
  const report = join(out, "report.md");
  console.log(`report: ${report.startsWith(process.cwd()) ? relative(process.cwd(), report) : report}`);
  return 0;
}

process.exitCode = await main();
