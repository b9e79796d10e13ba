/**
 * PySpark for the batch jobs (jobs/history-report/): pyspark from PyPI in its own virtualenv under the cache, with
 * the few pinned libraries the jobs use beside it (plots, reading and checking the contract's schema), on the
 * machine's Java 17. Spark runs in local mode inside the job's process: nothing to start here.
 */
import { lazy } from "../../platform/lazy.js";
import { ensureBinary, ensurePipTool } from "./provision.js";

export const PYSPARK_VERSION = "4.3.0";

/** The jobs' other requirements, pinned: part of the virtualenv's cache key, so a change builds a new one. */
export const SPARK_EXTRAS = [
  "matplotlib==3.10.8",
  "jsonschema==4.26.0",
  "rfc3339-validator==0.1.4",
  "PyYAML==6.0.3",
] as const;

export interface SparkRuntime {
  /** The virtualenv's python: run a job as `python jobs/<job>/<job>.py`. */
  readonly python: string;
  /** The java Spark's JVM runs on (put its directory first on PATH, or set JAVA_HOME). */
  readonly java: string;
  readonly version: string;
}

/**
 * The PySpark virtualenv (about 700 MB with its extras; about a minute the first time, each step printed with its
 * time) and Java 17 (apt-get when missing and running as root).
 */
export const ensureSpark = lazy(async (): Promise<SparkRuntime> => {
  const java = await ensureBinary("java", ["openjdk-17-jdk-headless"]);
  const python = await ensurePipTool({
    pkg: "pyspark",
    version: PYSPARK_VERSION,
    versionCheck: ["-c", "import pyspark, matplotlib, jsonschema, yaml; print(pyspark.__version__)"],
    extras: SPARK_EXTRAS,
  });
  return { python, java, version: PYSPARK_VERSION };
});
