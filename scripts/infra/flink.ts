/**
 * Apache Flink for the streaming jobs in jobs/: PyFlink (PyPI `apache-flink`, which carries Flink's own jars and runs
 * a local mini cluster inside the JVM it starts) in a virtualenv beside the jobs' pinned Python libraries, and the
 * Kafka SQL connector (one shaded jar) from Maven Central, both cached under ~/.cache/charter/ on first use.
 *
 * The first provisioning takes about a minute for the venv (~850 MB: PyFlink pulls apache-beam, pyarrow and pandas)
 * and a few seconds for the jar; every step is printed with its time.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lazy } from "../../platform/lazy.js";
import { ensureBinary, ensurePipTool, type JarSet, javaWithJars } from "./provision.js";
import { cacheDir, publish, runChecked, timedStep } from "./steps.js";

export const FLINK_VERSION = "2.3.0";
/** The connector has no 2.3-labelled release; 5.0.0-2.2 works with Flink 2.3 against Kafka 4.x. */
export const FLINK_KAFKA_CONNECTOR_VERSION = "5.0.0-2.2";

/** What jobs/ imports beside PyFlink, pinned: the contract's schema validation and its YAML loader. */
// rfc3339-validator: without it jsonschema skips the contract's `format: date-time` checks without a word.
const FLINK_JOB_REQUIREMENTS = ["jsonschema==4.26.0", "rfc3339-validator==0.1.4", "PyYAML==6.0.3"];

const connectorJars: JarSet = {
  name: "flink-kafka-connector",
  cacheName: `flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}`,
  artifacts: [
    {
      groupId: "org.apache.flink",
      artifactId: "flink-sql-connector-kafka",
      version: FLINK_KAFKA_CONNECTOR_VERSION,
    },
  ],
  mustContain: "flink-sql-connector-kafka-",
};

/** The job's own Java piece: the stats records' Kafka serializer (key, value and CloudEvents headers). */
const recordSource = fileURLToPath(new URL("../../jobs/user-stats/java/UserStatsRecord.java", import.meta.url));

/** Compiles UserStatsRecord.java against PyFlink's and the connector's jars into a jar in the cache, keyed by its source. */
async function compileRecordJar(flinkLib: string, connectorJars: readonly string[]): Promise<string> {
  const source = await readFile(recordSource);
  const dir = join(cacheDir(), `user-stats-record-${createHash("sha256").update(source).digest("hex").slice(0, 12)}`);
  const jar = join(dir, "user-stats-record.jar");
  const isComplete = (target: string) => existsSync(join(target, "user-stats-record.jar"));
  if (isComplete(dir)) return jar;
  const javac = await ensureBinary("javac", ["openjdk-17-jdk-headless"]);
  const jarTool = join(dirname(javac), "jar");
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, "classes"), { recursive: true });
  await timedStep("compile jobs/user-stats/java/UserStatsRecord.java", async () => {
    const classpath = [join(flinkLib, "*"), ...connectorJars].join(delimiter);
    await runChecked("javac", javac, [
      "-nowarn",
      "--release",
      "17",
      "-cp",
      classpath,
      "-d",
      join(work, "classes"),
      recordSource,
    ]);
    await runChecked("jar", jarTool, ["cf", join(work, "user-stats-record.jar"), "-C", join(work, "classes"), "."]);
  }).catch(async (error: unknown) => {
    await rm(work, { recursive: true, force: true });
    throw error;
  });
  await rm(join(work, "classes"), { recursive: true, force: true });
  await publish(work, dir, isComplete);
  return jar;
}

export interface Flink {
  /** The venv's python: run a job with it, its bin dir first on PATH (PyFlink's worker runs `python` from PATH). */
  readonly python: string;
  /** The venv's bin dir, to put first on PATH. */
  readonly binDir: string;
  /** Java 17 (JAVA_HOME is its parent's parent). */
  readonly java: string;
  /** The jars the job adds to its pipeline (STATS_FLINK_JARS): the Kafka connector and the job's record serializer. */
  readonly jars: readonly string[];
}

/** PyFlink's venv and the Kafka connector jar, provisioned once and cached; each step printed with its time. */
export const ensureFlink = lazy(async (): Promise<Flink> => {
  const python = await ensurePipTool({
    pkg: "apache-flink",
    version: FLINK_VERSION,
    versionCheck: [
      "-c",
      "import importlib.metadata as m, jsonschema, rfc3339_validator, yaml; print(m.version('apache-flink'))",
    ],
    extras: FLINK_JOB_REQUIREMENTS,
  });
  const { java, dir } = await timedStep(`flink-sql-connector-kafka ${FLINK_KAFKA_CONNECTOR_VERSION}`, () =>
    javaWithJars(connectorJars),
  );
  const lib = join(dir, "lib");
  const connector = (await readdir(lib)).filter((name) => name.endsWith(".jar")).map((name) => join(lib, name));
  const flinkLib = join(dirname(dirname(python)), "lib", "python3.11", "site-packages", "pyflink", "lib");
  const recordJar = await compileRecordJar(flinkLib, connector);
  return { python, binDir: dirname(python), java, jars: [...connector, recordJar] };
});

/** The user-stats job's entry point (run with the venv's python). */
export const USER_STATS_JOB = fileURLToPath(new URL("../../jobs/user-stats/main.py", import.meta.url));

/**
 * The environment a job runs in: the venv's bin first on PATH (PyFlink's Python workers run `python` from it),
 * JAVA_HOME of the provisioned Java, the jars (STATS_FLINK_JARS), on top of `base` (its KAFKA_*, STATS_*).
 */
export async function flinkJobEnv(flink: Flink, base: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  return {
    ...base,
    PATH: [flink.binDir, base.PATH ?? ""].join(delimiter),
    JAVA_HOME: dirname(dirname(await realpath(flink.java))),
    STATS_FLINK_JARS: flink.jars.join(delimiter),
  };
}

/**
 * The newest completed checkpoint under a job's checkpoint directory (Flink writes `<job id>/chk-<n>/_metadata`,
 * the metadata last), or undefined when there is none.
 */
export async function latestCheckpoint(checkpointDir: string): Promise<string | undefined> {
  let newest: { path: string; time: number } | undefined;
  const jobs = await readdir(checkpointDir).catch(() => [] as string[]);
  for (const job of jobs) {
    const checkpoints = await readdir(join(checkpointDir, job)).catch(() => [] as string[]);
    for (const name of checkpoints.filter((entry) => /^chk-\d+$/.test(entry))) {
      const metadata = await stat(join(checkpointDir, job, name, "_metadata")).catch(() => undefined);
      if (metadata && (newest === undefined || metadata.mtimeMs > newest.time)) {
        newest = { path: join(checkpointDir, job, name), time: metadata.mtimeMs };
      }
    }
  }
  return newest?.path;
}
