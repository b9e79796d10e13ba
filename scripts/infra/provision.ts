/**
 * Idempotent provisioning of the test servers: Debian packages for redis-server, etcd and prometheus
 * (installed with apt-get when missing and running as root), mongo-java-server and Kafka from Maven
 * Central, and Schemathesis from PyPI in a virtualenv, cached per machine under ${XDG_CACHE_HOME:-~/.cache}/charter/.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { lazy } from "../../platform/lazy.js";
import { cacheDir, publish, timedStep } from "./steps.js";

export const MONGO_JAVA_SERVER_VERSION = "1.47.0";
const SLF4J_VERSION = "2.0.17";
const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";
const MARKER = ".complete";
const launcherSource = fileURLToPath(new URL("./MongoLauncher.java", import.meta.url));

const run = promisify(execFile);
const maxBuffer = 64 * 1024 * 1024;

/** Memoizes a provisioning step for the process; a failure is not remembered. */
function which(binary: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin"];
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, binary);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** The last lines a failed command printed. */
function tail(error: unknown, lines = 15): string {
  const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message?: string };
  const text = `${stdout ?? ""}\n${stderr ?? ""}`.trim() || (message ?? String(error));
  return text.split("\n").slice(-lines).join("\n");
}

const aptOptions = ["-q", "-o", "DPkg::Lock::Timeout=300"];
const aptEnv = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const aptUpdate = lazy(() => run("apt-get", [...aptOptions, "update"], { env: aptEnv, maxBuffer }));

export interface InstallOptions {
  /** Extra apt-get install flags, e.g. --no-install-recommends. */
  readonly aptArgs?: readonly string[];
  /** Runs once after apt-get installed the packages (e.g. to stop a service the package started). */
  readonly afterInstall?: () => Promise<void>;
}

/** Path to `binary`; installs `packages` with apt-get if it is missing and we are root, else says what to install. */
export async function ensureBinary(
  binary: string,
  packages: readonly string[],
  options: InstallOptions = {},
): Promise<string> {
  const found = which(binary);
  if (found) return found;
  const flags = options.aptArgs ?? [];
  const missing = `${binary} not found: install it with "apt-get install -y ${[...flags, ...packages].join(" ")}"`;
  if (process.getuid?.() !== 0) throw new Error(`${missing} (not root, so not installing it)`);
  const install = () =>
    run("apt-get", [...aptOptions, "install", "-y", ...flags, ...packages], { env: aptEnv, maxBuffer });
  try {
    await install();
  } catch {
    try {
      await aptUpdate(); // only once per process, and only when the install failed without it
      await install();
    } catch (error) {
      throw new Error(`${missing} (installing it failed:\n${tail(error)})`);
    }
  }
  await options.afterInstall?.();
  const installed = which(binary);
  if (!installed) throw new Error(`${missing} (apt-get installed it, yet ${binary} is not on PATH)`);
  return installed;
}

/**
 * Debian's prometheus package enables and starts its own server (port 9090, data in /var/lib/prometheus) unless
 * policy-rc.d forbids it. Tests run their own servers, so the packaged one is stopped and disabled after the
 * install; failures are ignored (no init system, or nothing was started).
 */
async function stopPackagedPrometheus(): Promise<void> {
  const quiet = (command: string, args: string[]) => run(command, args, { env: aptEnv }).catch(() => undefined);
  if (which("systemctl")) {
    await quiet("systemctl", ["disable", "--now", "prometheus.service"]);
  }
  if (which("invoke-rc.d")) await quiet("invoke-rc.d", ["prometheus", "stop"]);
}

/** The Prometheus server and promtool (one Debian package); its recommended node exporter is not installed. */
export const ensurePrometheus = lazy(async () => {
  const options = { aptArgs: ["--no-install-recommends"], afterInstall: stopPackagedPrometheus };
  const prometheus = await ensureBinary("prometheus", ["prometheus"], options);
  const promtool = await ensureBinary("promtool", ["prometheus"], options);
  return { prometheus, promtool };
});

export const ensureRedis = lazy(() => ensureBinary("redis-server", ["redis-server"]));
export const ensureEtcd = lazy(() => ensureBinary("etcd", ["etcd-server", "etcd-client"]));
export const ensureMongo = lazy(provisionMongo);

export interface MavenArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

/** A throwaway POM whose runtime dependencies are the artifacts (and theirs). */
const pomOf = (
  name: string,
  artifacts: readonly MavenArtifact[],
) => `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>charter.infra</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <dependencies>
${artifacts
  .map(
    (a) => `    <dependency>
      <groupId>${a.groupId}</groupId>
      <artifactId>${a.artifactId}</artifactId>
      <version>${a.version}</version>
    </dependency>`,
  )
  .join("\n")}
  </dependencies>
</project>
`;

export interface JarSet {
  /** What the set is, for messages and the POM's artifactId. */
  readonly name: string;
  /** Its directory in the cache, named after the versions so that a new version downloads afresh. */
  readonly cacheName: string;
  readonly artifacts: readonly MavenArtifact[];
  /** A jar (file name prefix) the set must contain, or the download failed. */
  readonly mustContain: string;
}

/**
 * Downloads the jars of `set` with their runtime dependencies into `dir`/lib with Maven, marker written last;
 * skipped entirely once the marker exists.
 */
async function downloadJars(dir: string, set: JarSet): Promise<void> {
  const isComplete = (target: string) => existsSync(join(target, MARKER));
  if (isComplete(dir)) return;
  const mvn = await ensureBinary("mvn", ["maven"]);
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, "lib"), { recursive: true });
  await writeFile(join(work, "pom.xml"), pomOf(set.name, set.artifacts));
  const args = ["-B", "-q", "-f", join(work, "pom.xml"), `${DEPENDENCY_PLUGIN}:copy-dependencies`];
  try {
    await run(mvn, [...args, `-DoutputDirectory=${join(work, "lib")}`, "-DincludeScope=runtime"], { maxBuffer });
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    const names = set.artifacts.map((a) => `${a.groupId}:${a.artifactId}:${a.version}`).join(", ");
    throw new Error(`could not download ${names} with Maven (it needs Maven Central):\n${tail(error)}`);
  }
  const jars = (await readdir(join(work, "lib"))).filter((name) => name.endsWith(".jar")).sort();
  if (!jars.some((name) => name.startsWith(set.mustContain))) {
    throw new Error(`Maven did not bring ${set.mustContain} into ${work}/lib (got: ${jars.join(", ")})`);
  }
  await writeFile(join(work, MARKER), `${jars.join("\n")}\n`);
  await publish(work, dir, isComplete);
}

const JDK = ["openjdk-17-jdk-headless"];

/** Java 17 and a jar set in its cache directory: what each Java test server starts from. */
export async function javaWithJars(set: JarSet): Promise<{ java: string; dir: string }> {
  const java = await ensureBinary("java", JDK);
  const dir = join(cacheDir(), set.cacheName);
  await mkdir(cacheDir(), { recursive: true });
  await downloadJars(dir, set);
  return { java, dir };
}

const mongoJars: JarSet = {
  name: "mongo-java-server-runtime",
  cacheName: `mongo-java-server-${MONGO_JAVA_SERVER_VERSION}`,
  artifacts: [
    { groupId: "de.bwaldvogel", artifactId: "mongo-java-server", version: MONGO_JAVA_SERVER_VERSION },
    { groupId: "org.slf4j", artifactId: "slf4j-simple", version: SLF4J_VERSION },
  ],
  mustContain: "mongo-java-server-memory-backend-",
};

/** Compiles MongoLauncher.java once into the cache, keyed by a hash of its source. */
async function compileLauncher(dir: string, javac: string): Promise<string> {
  const source = await readFile(launcherSource);
  const classes = join(dir, `launcher-${createHash("sha256").update(source).digest("hex").slice(0, 12)}`);
  const isComplete = (target: string) => existsSync(join(target, "MongoLauncher.class"));
  if (isComplete(classes)) return classes;
  const work = `${classes}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  try {
    await run(javac, ["-nowarn", "-cp", join(dir, "lib", "*"), "-d", work, launcherSource], { maxBuffer });
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw new Error(`could not compile ${launcherSource}:\n${tail(error)}`);
  }
  await publish(work, classes, isComplete);
  return classes;
}

async function provisionMongo(): Promise<{ java: string; classpath: string }> {
  const { java, dir } = await javaWithJars(mongoJars);
  const javac = await ensureBinary("javac", JDK);
  const classes = await compileLauncher(dir, javac);
  return { java, classpath: [classes, join(dir, "lib", "*")].join(delimiter) };
}

export const KAFKA_VERSION = "4.4.0";
const LOG4J_VERSION = "2.25.5";

/** Apache Kafka's broker (Scala 2.13 build) and a log4j2 binding for its slf4j logging. */
const kafkaJars: JarSet = {
  name: "kafka-runtime",
  cacheName: `kafka-${KAFKA_VERSION}`,
  artifacts: [
    { groupId: "org.apache.kafka", artifactId: "kafka_2.13", version: KAFKA_VERSION },
    { groupId: "org.apache.logging.log4j", artifactId: "log4j-slf4j-impl", version: LOG4J_VERSION },
  ],
  mustContain: "kafka_2.13-",
};

/** Warnings and errors to stderr, and the broker's start-up line (start-server waits for it). */
const kafkaLogConfig = `status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
`;

export const ensureKafka = lazy(async (): Promise<{ java: string; classpath: string; logConfig: string }> => {
  const { java, dir } = await javaWithJars(kafkaJars);
  const logConfig = join(dir, "log4j2.properties");
  // Rewritten whenever this file's version differs, so a cache made by an older checkout does not keep its config.
  if ((await readFile(logConfig, "utf8").catch(() => undefined)) !== kafkaLogConfig) {
    await writeFile(`${logConfig}.tmp-${process.pid}`, kafkaLogConfig);
    await rename(`${logConfig}.tmp-${process.pid}`, logConfig);
  }
  return { java, classpath: join(dir, "lib", "*"), logConfig };
});

export const SCHEMATHESIS_VERSION = "4.32.5";
const PYTHON = "python3.11";

export interface PipTool {
  /** The PyPI package, pinned to `version`. */
  readonly pkg: string;
  readonly version: string;
  /** Arguments to the venv's python that print something containing the version once it is installed. */
  readonly versionCheck: readonly string[];
  /** Other pinned requirements installed beside it in the same venv (`name==version`), part of its cache key. */
  readonly extras?: readonly string[];
}

/**
 * A PyPI package (pinned) in its own virtualenv under the cache, ~/.cache/charter/<pkg>-<version>/, built in a work
 * dir and moved into place with its marker written last; skipped entirely once the marker exists. Run it with the
 * venv's interpreter, which keeps working after the move (the venv's console scripts would not: their shebangs name
 * the work dir). Returns the venv's python.
 */
export async function ensurePipTool(tool: PipTool): Promise<string> {
  const { pkg, version, extras = [] } = tool;
  const extrasKey =
    extras.length === 0 ? "" : `-${createHash("sha256").update(extras.join("\n")).digest("hex").slice(0, 8)}`;
  const dir = join(cacheDir(), `${pkg}-${version}${extrasKey}`);
  const python = join(dir, "bin", "python");
  const isComplete = (target: string) => existsSync(join(target, MARKER));
  if (isComplete(dir)) return python;
  const base = which(PYTHON);
  if (!base) throw new Error(`${PYTHON} not found: ${pkg} needs it (install python3.11 with its venv module)`);
  await mkdir(cacheDir(), { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  const fail = async (what: string, error: unknown): Promise<never> => {
    await rm(work, { recursive: true, force: true });
    throw new Error(`${what}:\n${tail(error)}`);
  };
  await timedStep(`virtualenv for ${pkg} ${version} (${PYTHON})`, () =>
    run(base, ["-m", "venv", work], { maxBuffer }).catch((error) =>
      fail(`could not create a virtualenv with ${base} (on Debian: apt-get install -y python3-venv)`, error),
    ),
  );
  const pip = [join(work, "bin", "python"), "-m", "pip", "install", "-q", "--no-input"];
  const requirements = [`${pkg}==${version}`, ...extras];
  await timedStep(`pip install ${requirements.join(" ")}`, () =>
    run(pip[0] as string, [...pip.slice(1), ...requirements], { maxBuffer }).catch((error) =>
      fail(`could not install ${requirements.join(" ")} from PyPI (it needs pypi.org or a mirror)`, error),
    ),
  );
  const { stdout } = await timedStep(`${pkg} version check`, () =>
    run(join(work, "bin", "python"), [...tool.versionCheck], { maxBuffer }).catch((error) =>
      fail(`the installed ${pkg} does not start`, error),
    ),
  );
  if (!stdout.includes(version)) await fail(`expected ${pkg} ${version}`, new Error(stdout));
  await writeFile(join(work, MARKER), `${stdout.trim()}\n`);
  await publish(work, dir, isComplete);
  return python;
}

/** Schemathesis in its virtualenv, run as `python -m schemathesis.cli`. */
export const ensureSchemathesis = lazy(async (): Promise<{ python: string; version: string }> => {
  const python = await ensurePipTool({
    pkg: "schemathesis",
    version: SCHEMATHESIS_VERSION,
    versionCheck: ["-m", "schemathesis.cli", "--version"],
  });
  return { python, version: SCHEMATHESIS_VERSION };
});

export const OPENAPI_PYTHON_CLIENT_VERSION = "0.29.1";
export const GRPCIO_TOOLS_VERSION = "1.85.4";

/**
 * The Python code generators and the wheel builder in one virtualenv: openapi-python-client (the users REST client),
 * ruff (its formatting post-hooks, pinned so the generated bytes do not move), grpcio-tools (the gRPC stubs) and
 * build + hatchling (the SDK's wheel, built without an isolated environment so that nothing is fetched per build).
 */
export const ensurePythonCodegen = lazy(async (): Promise<{ python: string }> => {
  const python = await ensurePipTool({
    pkg: "openapi-python-client",
    version: OPENAPI_PYTHON_CLIENT_VERSION,
    versionCheck: ["-m", "openapi_python_client", "--version"],
    extras: [
      "ruff==0.17.6",
      `grpcio-tools==${GRPCIO_TOOLS_VERSION}`,
      "protobuf==7.36.2",
      "build==1.6.1",
      "hatchling==1.33.0",
    ],
  });
  return { python };
});

/**
 * Wheels of pinned requirements (with their dependencies) in a directory under the cache, downloaded once with the
 * code generators' pip, so that a fresh virtualenv installs from it offline (`pip install --no-index --find-links`).
 */
export async function ensureWheelhouse(name: string, requirements: readonly string[]): Promise<string> {
  const key = createHash("sha256").update(requirements.join("\n")).digest("hex").slice(0, 8);
  const dir = join(cacheDir(), `${name}-wheels-${key}`);
  const isComplete = (target: string) => existsSync(join(target, MARKER));
  if (isComplete(dir)) return dir;
  const { python } = await ensurePythonCodegen();
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await timedStep(`pip download ${requirements.join(" ")}`, () =>
    run(python, ["-m", "pip", "download", "-q", "--no-input", "-d", work, ...requirements], { maxBuffer }).catch(
      async (error) => {
        await rm(work, { recursive: true, force: true });
        throw new Error(`could not download ${requirements.join(" ")} from PyPI:\n${tail(error)}`);
      },
    ),
  );
  await writeFile(join(work, MARKER), `${requirements.join("\n")}\n`);
  await publish(work, dir, isComplete);
  return dir;
}
