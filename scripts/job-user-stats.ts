/**
 * `npm run job:user-stats`: runs the user-stats streaming job (jobs/user-stats, docs/jobs.md) against the Kafka at
 * KAFKA_BROKERS until Ctrl-C. PyFlink and the Kafka connector are provisioned first if missing. Checkpoints go to
 * STATS_CHECKPOINT_DIR (default .data/user-stats-checkpoints in the repository); unless STATS_RESTORE_FROM names
 * one, the job resumes from the newest completed checkpoint found there, so a stopped or killed job picks up where
 * it was. The job prints the checkpoint directory and the checkpoint it restores when it starts.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureFlink, flinkJobEnv, latestCheckpoint, USER_STATS_JOB } from "./infra/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const checkpointDir = resolve(root, process.env.STATS_CHECKPOINT_DIR || ".data/user-stats-checkpoints");
const restoreFrom = process.env.STATS_RESTORE_FROM || (await latestCheckpoint(checkpointDir));
const flink = await ensureFlink();
const env = await flinkJobEnv(flink, {
  ...process.env,
  STATS_CHECKPOINT_DIR: checkpointDir,
  ...(restoreFrom ? { STATS_RESTORE_FROM: restoreFrom } : {}),
});
const job = spawn(flink.python, [USER_STATS_JOB], { env, stdio: "inherit" });
const forward = (signal: NodeJS.Signals) => () => job.kill(signal);
process.once("SIGINT", forward("SIGINT"));
process.once("SIGTERM", forward("SIGTERM"));
job.once("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
