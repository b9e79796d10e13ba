/**
 * OpenSearch, the log search engine, for tests and local runs: the integration-test distribution from Maven
 * Central (`org.opensearch.distribution.integ-test-zip:opensearch:2.19.6:zip`, 56 MB: the server and its netty
 * transport, no security plugin, no ingest pipelines, no ISM), fetched once with Maven and unpacked into
 * ~/.cache/charter/opensearch-2.19.6/, then run on the machine's Java 17 as a single node on free loopback ports.
 *
 * OpenSearch refuses to run as root. Run as root, it runs as the system user `charter-search` (created with
 * useradd the first time), and since root's home is not readable by other users, each node gets a tree of hard
 * links to the cached distribution in its own temp dir (a copy when the temp dir is on another filesystem); its
 * config, data, logs and tmp dirs are in that temp dir, owned by that user. Run as any other user, it runs as that
 * user straight from the cache.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureBinary } from "./provision.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";
import { cacheDir, lastLines, publish, runCommand, timedStep } from "./steps.js";

export const OPENSEARCH_VERSION = "2.19.6";
const ARTIFACT = `org.opensearch.distribution.integ-test-zip:opensearch:${OPENSEARCH_VERSION}:zip`;
const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";
/** The system user OpenSearch runs as when this process is root. */
export const OPENSEARCH_USER = "charter-search";
const MARKER = ".complete";
const JDK = ["openjdk-17-jdk-headless"];

/** Where the distribution is unpacked: ~/.cache/charter/opensearch-2.19.6 (its bin/, lib/, modules/ …). */
export function openSearchHome(): string {
  return join(cacheDir(), `opensearch-${OPENSEARCH_VERSION}`);
}

export interface OpenSearchInstall {
  /** The unpacked distribution. */
  readonly home: string;
  /** The Java home it runs on (OPENSEARCH_JAVA_HOME). */
  readonly javaHome: string;
}

async function fetchDistribution(home: string): Promise<void> {
  const mvn = await ensureBinary("mvn", ["maven"]);
  const unzip = await ensureBinary("unzip", ["unzip"]);
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(`${home}.tmp-`);
  try {
    console.error(`provision: OpenSearch ${OPENSEARCH_VERSION} once into ${home}`);
    const zip = join(work, `opensearch-${OPENSEARCH_VERSION}.zip`);
    const copy = await timedStep(`mvn dependency:copy ${ARTIFACT}`, () =>
      runCommand(
        mvn,
        ["-B", "-q", `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${work}`],
        {
          cwd: work,
        },
      ),
    );
    if (copy.code !== 0 || !existsSync(zip)) {
      throw new Error(
        `could not download ${ARTIFACT} with Maven (it needs Maven Central); check the network or Maven's ` +
          `settings, then run again, or unpack that zip's opensearch-${OPENSEARCH_VERSION}/ into ${home} ` +
          `with an empty ${MARKER} file in it.\n${lastLines(copy.stderr + copy.stdout)}`,
      );
    }
    const unpacked = join(work, "unpacked");
    const extract = await timedStep("unzip the distribution", () => runCommand(unzip, ["-q", zip, "-d", unpacked]));
    const root = join(unpacked, `opensearch-${OPENSEARCH_VERSION}`);
    if (extract.code !== 0 || !existsSync(join(root, "bin", "opensearch"))) {
      throw new Error(
        `unzip of ${zip} failed or has no bin/opensearch:\n${lastLines(extract.stderr + extract.stdout)}`,
      );
    }
    // Readable by the user OpenSearch runs as (the zip has some files 0660); each node writes its own config.
    await runCommand("chmod", ["-R", "a+rX,go-w", root]);
    await writeFile(join(root, MARKER), `${ARTIFACT}\n`);
    // Another run may have installed it first: theirs is as good as ours.
    await timedStep(`install into ${home}`, () => publish(root, home, (dir) => existsSync(join(dir, MARKER))));
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** The unpacked distribution and Java 17, fetched and installed on first use (see the file comment). */
export const ensureOpenSearch = lazy(async (): Promise<OpenSearchInstall> => {
  const java = await ensureBinary("java", JDK);
  const home = openSearchHome();
  if (!existsSync(join(home, MARKER))) await fetchDistribution(home);
  return { home, javaHome: dirname(dirname(realpathSync(java))) };
});

interface SearchUser {
  readonly uid: number;
  readonly gid: number;
}

function lookupUser(name: string): SearchUser | undefined {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8", stdio: "pipe" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return undefined;
  }
}

/** As root: the system user OpenSearch runs as, created once. Otherwise undefined: it runs as this user. */
const ensureSearchUser = lazy(async (): Promise<SearchUser | undefined> => {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookupUser(OPENSEARCH_USER);
  if (existing) return existing;
  const useradd = await ensureBinary("useradd", ["passwd"]);
  const added = await timedStep(`useradd --system ${OPENSEARCH_USER} (OpenSearch refuses to run as root)`, () =>
    runCommand(useradd, [
      ...["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"],
      ...["--shell", "/usr/sbin/nologin", "--comment", "OpenSearch for Charter's tests", OPENSEARCH_USER],
    ]),
  );
  // Exit code 9: another run added it in the meantime.
  const user = lookupUser(OPENSEARCH_USER);
  if (!user) {
    throw new Error(
      `OpenSearch refuses to run as root, and the user ${OPENSEARCH_USER} could not be created (useradd exited ` +
        `${added.code}): ${lastLines(added.stderr)}. Create it (useradd --system ${OPENSEARCH_USER}) or run as another user.`,
    );
  }
  return user;
});

/** The distribution's jvm.options with the heap set, and without the GC log and heap dumps (a test node's dir). */
function jvmOptions(home: string, heapMb: number): string {
  return `${readFileSync(join(home, "config", "jvm.options"), "utf8")
    .split("\n")
    .filter((line) => !/HeapDump|gc\.log/.test(line))
    .map((line) => line.replace(/^-Xms\S+$/, `-Xms${heapMb}m`).replace(/^-Xmx\S+$/, `-Xmx${heapMb}m`))
    .join("\n")
    .trimEnd()}\n`;
}

/** Warnings to stderr, and the node's own start and stop lines (nothing written under logs/). */
const LOG_CONFIG = `status = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%c{1.}] %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.node.name = org.opensearch.node.Node
logger.node.level = info
`;

function nodeSettings(httpPort: number, transportPort: number, dir: string): string {
  return `${[
    "cluster.name: charter",
    "node.name: charter-1",
    "discovery.type: single-node",
    `network.host: ${HOST}`,
    `http.port: ${httpPort}`,
    `transport.port: ${transportPort}`,
    `path.data: ${join(dir, "data")}`,
    `path.logs: ${join(dir, "logs")}`,
    // A test node must not stop allocating shards because the developer's disk is 90 % full.
    "cluster.routing.allocation.disk.threshold_enabled: false",
  ].join("\n")}\n`;
}

/**
 * Lays out a node's temp dir: conf/ (opensearch.yml, jvm.options, log4j2.properties), data/, logs/, tmp/, and,
 * when it runs as another user, home/ (hard links to the cached distribution). Idempotent: restart() calls it
 * again, on the kept dir or on a wiped one.
 */
function prepareNode(
  install: OpenSearchInstall,
  user: SearchUser | undefined,
  ports: readonly number[],
  dir: string,
  heapMb: number,
): string {
  const [httpPort = 0, transportPort = 0] = ports;
  const conf = join(dir, "conf");
  const owned = [dir, conf, join(conf, "jvm.options.d"), join(dir, "data"), join(dir, "logs"), join(dir, "tmp")];
  for (const path of owned) mkdirSync(path, { recursive: true });
  writeFileSync(join(conf, "opensearch.yml"), nodeSettings(httpPort, transportPort, dir));
  writeFileSync(join(conf, "jvm.options"), jvmOptions(install.home, heapMb));
  writeFileSync(join(conf, "log4j2.properties"), LOG_CONFIG);
  if (!user) return install.home;
  const home = join(dir, "home");
  if (!existsSync(join(home, "bin", "opensearch"))) {
    try {
      execFileSync("cp", ["-al", install.home, home], { stdio: "pipe" });
    } catch {
      rmSyncQuiet(home);
      execFileSync("cp", ["-a", install.home, home], { stdio: "pipe" }); // another filesystem: no hard links
    }
  }
  // Only the dirs made here change owner: chown on the linked files would change the cache's own files.
  execFileSync("chown", [`${user.uid}:${user.gid}`, ...owned]);
  execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, ...owned.slice(1)]);
  return home;
}

function rmSyncQuiet(path: string): void {
  try {
    execFileSync("rm", ["-rf", path], { stdio: "ignore" });
  } catch {
    // nothing to remove
  }
}

export interface OpenSearchOptions {
  /** The JVM heap in MB (default 512). */
  readonly heapMb?: number;
  /** How long to wait for cluster health yellow or green, from spawn (default 90 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningOpenSearch extends RunningServer {
  /** The REST endpoint, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly transportPort: number;
}

/**
 * A single OpenSearch node (single-node discovery) on two free loopback ports (HTTP, transport), its data in a temp
 * dir; ready once cluster health is yellow or green (about 15 s here). restart() keeps the indices unless wiped;
 * stop() removes everything.
 */
export async function startOpenSearch(opts: OpenSearchOptions = {}): Promise<RunningOpenSearch> {
  const [install, user] = await Promise.all([ensureOpenSearch(), ensureSearchUser()]);
  const heapMb = opts.heapMb ?? 512;
  const setpriv = user ? await ensureBinary("setpriv", ["util-linux"]) : undefined;
  // No OPENSEARCH_* or Java options of the caller's: its own Java home, and (below) its own config and tmp dirs.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(OPENSEARCH_|JAVA_HOME$|JAVA_TOOL_OPTIONS$|_JAVA_OPTIONS$)/.test(key),
    ),
  );
  let transportPort = 0;
  const server = await startServer({
    name: "opensearch",
    // env(1) sets the variables that name the node's own dirs, known only once startServer made its temp dir.
    command: "/usr/bin/env",
    portCount: 2,
    args: (ports, dir) => {
      transportPort = ports[1] ?? 0;
      const home = prepareNode(install, user, ports, dir, heapMb);
      const variables = [
        `OPENSEARCH_PATH_CONF=${join(dir, "conf")}`,
        `OPENSEARCH_TMPDIR=${join(dir, "tmp")}`,
        `HOME=${dir}`,
      ];
      // The parent-death signal is cleared when the user changes, so it is set again after the switch.
      const switchUser =
        user && setpriv
          ? [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--pdeathsig", "KILL", "--"]
          : [];
      return [...variables, ...switchUser, join(home, "bin", "opensearch")];
    },
    env: { ...env, OPENSEARCH_JAVA_HOME: install.javaHome },
    url: (port) => `http://${HOST}:${port}`,
    async isReady(port) {
      const response = await fetch(`http://${HOST}:${port}/_cluster/health`, { signal: AbortSignal.timeout(1_000) });
      if (!response.ok) return false;
      const { status } = (await response.json()) as { status?: string };
      return status === "green" || status === "yellow";
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
  });
  return { ...server, transportPort };
}
