/**
 * Real Redis, etcd and a MongoDB-compatible server for tests, each started as a child process on
 * free ports in its own temp dir, provisioned first if missing (see provision.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { etcdHealthy, etcdTlsArgs } from "./etcd-cluster.js";
import { ensureEtcd, ensureKafka, ensureMongo, ensurePrometheus, ensureRedis } from "./provision.js";
import { type Credentials, HOST, type RunningServer, type ServerTls, startServer } from "./start-server.js";

export { CHROMIUM_ARGS, ensureChromium, launchBrowser } from "./browser.js";
export { CLIENT_NAMES, type DevCerts, ensureDevCerts, type KeyPair, SERVER_NAMES } from "./dev-certs.js";
export {
  ensureFlink,
  FLINK_KAFKA_CONNECTOR_VERSION,
  FLINK_VERSION,
  type Flink,
  flinkJobEnv,
  latestCheckpoint,
  USER_STATS_JOB,
} from "./flink.js";
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
export { ensureSpark, PYSPARK_VERSION, SPARK_EXTRAS, type SparkRuntime } from "./spark.js";
export { type Credentials, freePorts, type RunningServer, type ServerTls } from "./start-server.js";

export interface ServerOptions {
  /** How long to wait for the server to answer, from spawn (default 15 s, 30 s for mongo). */
  readonly readyTimeoutMs?: number;
}

export interface RedisOptions extends ServerOptions {
  /**
   * Secured: TLS only (no plaintext port; `url` is `rediss://…`, clients need not present a certificate) and
   * the ACL user below as the only user (`default` is off, so a connection without AUTH gets NOAUTH).
   */
  readonly secure?: { readonly tls: ServerTls; readonly user: Credentials };
  /**
   * Keep an RDB file (dataDir/dump.rdb) that restart() loads again: tests of stale data after a Redis restart
   * need it. It is written by SAVE and on SIGTERM (restart() of a running server, stop()), never in the
   * background, so a test's SAVE cannot meet "Background save already in progress" and a SIGKILL keeps
   * exactly the last SAVE. Without it nothing is ever written to disk.
   */
  readonly persist?: boolean;
}

/**
 * True once Redis answers PING with +PONG (not while it is still loading its RDB file); with `auth`, after
 * AUTH over TLS trusting `auth.ca`.
 */
function redisPing(port: number, auth?: { readonly ca: string; readonly user: Credentials }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = auth
      ? tlsConnect({ port, host: HOST, ca: readFileSync(auth.ca), servername: "localhost" })
      : connect(port, HOST);
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    const resp = (...words: string[]) =>
      `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;
    socket.once(auth ? "secureConnect" : "connect", () =>
      socket.write(auth ? `${resp("AUTH", auth.user.username, auth.user.password)}PING\r\n` : "PING\r\n"),
    );
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      const lines = reply.split("\r\n");
      if (lines.length > (auth ? 2 : 1)) done(lines[auth ? 1 : 0] === "+PONG");
    });
  });
}

export async function startRedis(opts: RedisOptions = {}): Promise<RunningServer> {
  const command = await ensureRedis();
  const persistence = opts.persist ? ["--dbfilename", "dump.rdb", "--shutdown-on-sigterm", "save"] : [];
  const secure = opts.secure;
  return startServer({
    name: "redis",
    command,
    portCount: 1,
    args: ([port], dir) => {
      const listen = secure
        ? [
            ...["--port", "0", "--tls-port", String(port), "--tls-cert-file", secure.tls.cert],
            ...["--tls-key-file", secure.tls.key, "--tls-ca-cert-file", secure.tls.ca, "--tls-auth-clients", "no"],
          ]
        : ["--port", String(port)];
      // The ACL user in a config file (only its SHA-256 is written), never on the command line.
      const config: string[] = [];
      if (secure) {
        const hash = createHash("sha256").update(secure.user.password).digest("hex");
        writeFileSync(
          join(dir, "redis.conf"),
          `user default off\nuser ${secure.user.username} on #${hash} ~* &* +@all\n`,
          { mode: 0o600 },
        );
        config.push(join(dir, "redis.conf"));
      }
      return [
        ...config,
        ...[...listen, "--bind", HOST, "--dir", dir, "--save", "", "--appendonly", "no", ...persistence],
        ...["--daemonize", "no", "--logfile", "", "--loglevel", "warning"],
      ];
    },
    url: (port) => `${secure ? "rediss" : "redis"}://${HOST}:${port}`,
    isReady: (port) => redisPing(port, secure && { ca: secure.tls.ca, user: secure.user }),
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
  });
}

/**
 * A single etcd member (v3 API). Always persistent: restart() keeps the data dir, so keys and leases
 * survive a kill, unless restart({ wipe: true }) deletes it first (a new cluster, revisions from 1).
 * With `tls`, clients and peers speak https and must present a certificate of `tls.ca`.
 */
export async function startEtcd(opts: ServerOptions & { readonly tls?: ServerTls } = {}): Promise<RunningServer> {
  const command = await ensureEtcd();
  // etcd also reads every flag from ETCD_* variables: keep the caller's out of the test server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD")));
  const scheme = opts.tls ? "https" : "http";
  return startServer({
    name: "etcd",
    command,
    portCount: 2,
    env,
    args: ([client, peer], dir) => {
      const clientUrl = `${scheme}://${HOST}:${client}`;
      const peerUrl = `${scheme}://${HOST}:${peer}`;
      return [
        ...["--name", "n1", "--data-dir", dir],
        ...["--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl],
        ...["--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl],
        ...["--initial-cluster", `n1=${peerUrl}`, "--initial-cluster-state", "new"],
        ...["--initial-cluster-token", "charter-test", "--logger", "zap", "--log-outputs", "stderr"],
        ...["--log-level", "warn", "--heartbeat-interval", "25", "--election-timeout", "250"],
        ...etcdTlsArgs(opts.tls),
      ];
    },
    url: (port) => `${scheme}://${HOST}:${port}`,
    isReady: (port) => etcdHealthy(`${scheme}://${HOST}:${port}`, opts.tls),
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
  /**
   * Secured: the client listener is SASL_SSL with SCRAM-SHA-256 only (the broker's certificate `tls.cert`; clients
   * present none), and `users` are the SCRAM users, written into the log dir when it is formatted. The broker
   * talks to itself over the same listener as a SCRAM user of its own; the KRaft controller listener stays
   * PLAINTEXT on loopback.
   */
  readonly secure?: { readonly tls: ServerTls; readonly users: readonly Credentials[] };
}

/** The SASL_SSL listener's settings: PEM key and trust stores, SCRAM-SHA-256, the broker's own SCRAM login. */
function kafkaSecureProperties(secure: NonNullable<KafkaOptions["secure"]>, keystore: string, broker: Credentials) {
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${broker.username}" password="${broker.password}";`;
  return {
    "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "SASL_SSL",
    "sasl.enabled.mechanisms": "SCRAM-SHA-256",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256",
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": jaas,
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": keystore,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": secure.tls.ca,
    "ssl.client.auth": "none",
  };
}

/** A single-node KRaft cluster: broker and controller in one process, everything replicated once. */
function kafkaProperties(
  port: number,
  controllerPort: number,
  logDir: string,
  extra: KafkaOptions["brokerProperties"] = {},
  listener = "PLAINTEXT",
): string {
  const settings = [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=${listener}://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    `advertised.listeners=${listener}://${HOST}:${port}`,
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
  const secure = opts.secure;
  const broker: Credentials = { username: "charter-broker", password: randomBytes(24).toString("base64url") };
  return startServer({
    name: "kafka",
    command: "/bin/sh",
    portCount: 2,
    args: ([port, controllerPort], dir) => {
      const properties = join(dir, "server.properties");
      let extra = opts.brokerProperties;
      const scram: string[] = [];
      if (secure) {
        // Kafka's PEM key store: the private key (PKCS#8, unencrypted) and the certificate chain in one file.
        const keystore = join(dir, "keystore.pem");
        writeFileSync(keystore, readFileSync(secure.tls.key, "utf8") + readFileSync(secure.tls.cert, "utf8"), {
          mode: 0o600,
        });
        extra = { ...kafkaSecureProperties(secure, keystore, broker), ...extra };
        for (const user of [broker, ...secure.users]) {
          scram.push(`--add-scram=SCRAM-SHA-256=[name=${user.username},password=${user.password}]`);
        }
      }
      writeFileSync(
        properties,
        kafkaProperties(
          port as number,
          controllerPort as number,
          join(dir, "log"),
          extra,
          secure ? "SASL_SSL" : "PLAINTEXT",
        ),
        { mode: 0o600 },
      );
      const format = [
        java,
        ...jvm,
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        `--cluster-id=${clusterId}`,
        ...scram,
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
export {
  basicAuthUser,
  ensureTraefik,
  type RunningTraefik,
  startTraefik,
  TRAEFIK_VERSION,
  type TraefikOptions,
} from "./traefik.js";
