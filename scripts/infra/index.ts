/**
 * Real Redis, etcd and a MongoDB-compatible server for tests, each started as a child process on
 * free ports in its own temp dir, provisioned first if missing (see provision.ts).
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ensureEtcd, ensureKafka, ensureMongo, ensurePrometheus, ensureRedis } from "./provision.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";

export { CHROMIUM_ARGS, ensureChromium, launchBrowser } from "./browser.js";
export { ensureJaeger, JAEGER_VERSION, type RunningJaeger, startJaeger } from "./jaeger.js";
export {
  deleteOldLogIndices,
  LOG_MAPPINGS,
  LOG_TEMPLATE_NAME,
  putLogTemplate,
} from "./log-indices.js";
export {
  ensureOpenSearch,
  OPENSEARCH_USER,
  OPENSEARCH_VERSION,
  type RunningOpenSearch,
  startOpenSearch,
} from "./opensearch.js";
export {
  ensureEtcd,
  ensureKafka,
  ensureMongo,
  ensurePrometheus,
  ensureRedis,
  ensureSchemathesis,
  KAFKA_VERSION,
  MONGO_JAVA_SERVER_VERSION,
  SCHEMATHESIS_VERSION,
} from "./provision.js";
export {
  ensureRsyslog,
  LOG_INDEX_PREFIX,
  type LogShipperOptions,
  type RunningLogShipper,
  startLogShipper,
} from "./rsyslog.js";
export { freePorts, type RunningServer } from "./start-server.js";

export interface ServerOptions {
  /** How long to wait for the server to answer, from spawn (default 15 s, 30 s for mongo). */
  readonly readyTimeoutMs?: number;
}

export interface RedisOptions extends ServerOptions {
  /**
   * Keep an RDB file (dataDir/dump.rdb) that restart() loads again: tests of stale data after a Redis restart
   * need it. It is written by SAVE and on SIGTERM (restart() of a running server, stop()), never in the
   * background, so a test's SAVE cannot meet "Background save already in progress" and a SIGKILL keeps
   * exactly the last SAVE. Without it nothing is ever written to disk.
   */
  readonly persist?: boolean;
}

/** True once Redis answers PING with +PONG (not while it is still loading its RDB file). */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

export async function startRedis(opts: RedisOptions = {}): Promise<RunningServer> {
  const command = await ensureRedis();
  const persistence = opts.persist ? ["--dbfilename", "dump.rdb", "--shutdown-on-sigterm", "save"] : [];
  return startServer({
    name: "redis",
    command,
    portCount: 1,
    args: ([port], dir) => [
      ...["--port", String(port), "--bind", HOST, "--dir", dir, "--save", "", "--appendonly", "no", ...persistence],
      ...["--daemonize", "no", "--logfile", "", "--loglevel", "warning"],
    ],
    url: (port) => `redis://${HOST}:${port}`,
    isReady: redisPing,
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
  });
}

/**
 * A single etcd member (v3 API). Always persistent: restart() keeps the data dir, so keys and leases
 * survive a kill, unless restart({ wipe: true }) deletes it first (a new cluster, revisions from 1).
 */
export async function startEtcd(opts: ServerOptions = {}): Promise<RunningServer> {
  const command = await ensureEtcd();
  // etcd also reads every flag from ETCD_* variables: keep the caller's out of the test server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD")));
  return startServer({
    name: "etcd",
    command,
    portCount: 2,
    env,
    args: ([client, peer], dir) => {
      const clientUrl = `http://${HOST}:${client}`;
      const peerUrl = `http://${HOST}:${peer}`;
      return [
        ...["--name", "n1", "--data-dir", dir],
        ...["--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl],
        ...["--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl],
        ...["--initial-cluster", `n1=${peerUrl}`, "--initial-cluster-state", "new"],
        ...["--initial-cluster-token", "charter-test", "--logger", "zap", "--log-outputs", "stderr"],
        ...["--log-level", "warn", "--heartbeat-interval", "25", "--election-timeout", "250"],
      ];
    },
    url: (port) => `http://${HOST}:${port}`,
    async isReady(port) {
      const response = await fetch(`http://${HOST}:${port}/health`, { signal: AbortSignal.timeout(1_000) });
      return response.ok && ((await response.json()) as { health?: unknown }).health === "true";
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
  });
}

/**
 * Debian's Prometheus server with `configFile` (its rule_files and file_sd paths resolve next to it), TSDB in the
 * server's temp dir, listening on loopback. Ready when /-/ready answers 200.
 */
export async function startPrometheus(
  configFile: string,
  opts: ServerOptions & {
    /** The URL it is reached at behind a proxy (e.g. http://127.0.0.1:8001/prometheus/), for its UI's links. */
    readonly externalUrl?: string;
  } = {},
): Promise<RunningServer> {
  const { prometheus } = await ensurePrometheus();
  return startServer({
    name: "prometheus",
    command: prometheus,
    portCount: 1,
    args: ([port], dir) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dir}`,
      `--web.listen-address=${HOST}:${port}`,
      ...(opts.externalUrl ? [`--web.external-url=${opts.externalUrl}`, "--web.route-prefix=/"] : []),
      "--log.level=warn",
    ],
    url: (port) => `http://${HOST}:${port}`,
    async isReady(port) {
      return (await fetch(`http://${HOST}:${port}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok;
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  });
}

/** JVM flags for a quick start and a small footprint; a test server never runs long enough to need C2. */
const jvmFlags = [
  ...["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmx512m", "-XX:-UsePerfData"],
  "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
];

/**
 * mongo-java-server with its in-memory backend, through MongoLauncher.java. The dataDir is unused:
 * nothing is kept across restart(), which always comes back empty (wipe or not) on the same port.
 * No multi-document transactions; don't set the driver's `serverApi` option.
 */
export async function startMongo(opts: ServerOptions = {}): Promise<RunningServer> {
  const { java, classpath } = await ensureMongo();
  return startServer({
    name: "mongo",
    command: java,
    portCount: 1,
    stdinPipe: true, // the launcher exits when its stdin closes
    args: ([port]) => [...jvmFlags, "-cp", classpath, "MongoLauncher", HOST, String(port)],
    url: (port) => `mongodb://${HOST}:${port}/charter`,
    readyLine: /^READY /,
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  });
}

export interface KafkaOptions extends ServerOptions {
  /** More broker settings (server.properties keys), or other values for the ones set here. */
  readonly brokerProperties?: Readonly<Record<string, string | number | boolean>>;
}

/** A single-node KRaft cluster: broker and controller in one process, everything replicated once. */
function kafkaProperties(
  port: number,
  controllerPort: number,
  logDir: string,
  extra: KafkaOptions["brokerProperties"] = {},
): string {
  const settings = [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${port}`,
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name=PLAINTEXT",
    `log.dirs=${logDir}`,
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=4",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "min.insync.replicas=1",
    "default.replication.factor=1",
    "group.initial.rebalance.delay.ms=0",
    // After a SIGKILL the controller keeps the dead broker's registration until its session times out (9 s by
    // default), and the restarted broker waits for that before it serves: shorter heartbeats, quicker restarts.
    "broker.heartbeat.interval.ms=500",
    "broker.session.timeout.ms=3000",
    // Topics are created by the clients (ensureTopic), with the partitions they ask for.
    "auto.create.topics.enable=false",
  ];
  const merged = new Map(settings.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
  for (const [key, value] of Object.entries(extra)) merged.set(key, String(value));
  return `${[...merged].map(([key, value]) => `${key}=${value}`).join("\n")}\n`;
}

/**
 * Apache Kafka (Apache's own jars from Maven Central, on the machine's Java) as a single KRaft node on two free
 * ports (client, controller); `url` is the bootstrap `host:port`. The log dir is formatted on first start;
 * restart() keeps topics, messages and committed offsets (same ports, also after a SIGKILL), restart({ wipe: true })
 * starts a new, empty cluster. Topics are not created automatically (auto.create.topics.enable=false): a test or
 * client creates each topic it uses, with its partitions. Ready once the broker logged its transition to STARTED,
 * which it does after it is unfenced and its listeners accept requests (about 2.5 s here; 5 s after a SIGKILL).
 */
export async function startKafka(opts: KafkaOptions = {}): Promise<RunningServer> {
  const { java, classpath, logConfig } = await ensureKafka();
  // base64url may start with "-": passed as --cluster-id=<id>, never as a separate argument that looks like an option.
  const clusterId = randomBytes(16).toString("base64url");
  const jvm = [
    ...["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmx768m", "-XX:-UsePerfData"],
    `-Dlog4j2.configurationFile=${logConfig}`,
    "-cp",
    classpath,
  ];
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  return startServer({
    name: "kafka",
    command: "/bin/sh",
    portCount: 2,
    args: ([port, controllerPort], dir) => {
      const properties = join(dir, "server.properties");
      writeFileSync(
        properties,
        kafkaProperties(port as number, controllerPort as number, join(dir, "log"), opts.brokerProperties),
      );
      const format = [
        java,
        ...jvm,
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        `--cluster-id=${clusterId}`,
      ];
      const serve = [java, ...jvm, "kafka.Kafka", properties];
      return [
        "-c",
        `${format.map(quote).join(" ")} -c ${quote(properties)} > /dev/null && exec ${serve.map(quote).join(" ")}`,
      ];
    },
    url: (port) => `${HOST}:${port}`,
    readyLine: /Transition from STARTING to STARTED \(kafka\.server\.BrokerServer\)/,
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
}

export { type EtcdCluster, type EtcdClusterOptions, startEtcdCluster } from "./etcd-cluster.js";
export { ensureTraefik, type RunningTraefik, startTraefik, TRAEFIK_VERSION, type TraefikOptions } from "./traefik.js";
