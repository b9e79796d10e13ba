/**
 * The deployed system on one machine (`npm run stack`, and the stack test's one shared fixture): the three services
 * run from their images as containers, the infrastructure as host processes through scripts/infra — a 3-member etcd
 * cluster, the MongoDB-compatible server, Redis, Kafka, Jaeger, OpenSearch, Prometheus, Traefik and the log
 * shipper. Every container uses host networking (the engine has no other network) and a read-only root, carries
 * the project's label, and sends its stdout to the log shipper through Docker's syslog driver; every listener is on
 * 127.0.0.1.
 *
 * Why the infrastructure runs on the host: no registry can be reached, so an image of each server would have to be
 * built here from the same binaries scripts/infra already provisions, caches and starts for the tests — with the
 * same flags, on the same network (the host's) — for no gain in what the stack shows. The services are what ships;
 * they are the containers.
 *
 * Secured inside as `npm run start:cluster` is (scripts/start-cluster.ts), with the development CA of
 * scripts/infra/dev-certs.ts: gRPC between the gateway and users/audit is mutual TLS; etcd is https with client
 * certificates (Traefik's etcd provider presents its own); Redis is TLS only with one ACL user; Kafka's client
 * listener is SASL_SSL with SCRAM-SHA-256, a user each for users and audit. The passwords are new on every run.
 * Each container gets only the files it needs, bind-mounted read-only under /run/secrets (as Docker secrets would
 * be) from a private directory of the run, and only their paths in its environment (*_FILE, *_TLS_*_FILE).
 * Not encrypted, all on 127.0.0.1: Traefik → gateway (HTTP), MongoDB (mongo-java-server has no TLS), OTLP to
 * Jaeger, syslog to the shipper, the metrics scrapes.
 *
 * Traefik reads its routes from the etcd cluster: each gateway keeps its own server key there under its lease
 * (services/gateway/adapters/traefik-route.ts); the console routes (Jaeger's query API, Prometheus, OpenSearch, on
 * the `console` entry point by path prefix) are written here, once, without a lease, behind Traefik's basicAuth
 * middleware: one user, `charter`, with a password new on every run (printed in the banner, `consoleCredentials`).
 */
import { randomBytes } from "node:crypto";
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Etcd3 } from "etcd3";
import { parse, stringify } from "yaml";
import { createLogger } from "../../platform/logging.js";
import { freePorts } from "../../platform/net.js";
import { createEtcdClient } from "../../platform/registry/etcd-client.js";
import { CONFIG_PREFIX } from "../../platform/registry/etcd-config.js";
import type { ClientTls } from "../../platform/tls-config.js";
import { APP_UID } from "../images/base-image.js";
import { type BuiltImage, buildImages, SERVICES, type Service } from "../images/build.js";
import { type DockerEngine, ensureDockerEngine } from "../infra/docker.js";
import {
  basicAuthUser,
  type Credentials,
  type DevCerts,
  type EtcdCluster,
  ensureDevCerts,
  type RunningJaeger,
  type RunningOpenSearch,
  type RunningServer,
  type RunningTraefik,
  startEtcdCluster,
  startJaeger,
  startKafka,
  startMongo,
  startOpenSearch,
  startPrometheus,
  startRedis,
  startTraefik,
} from "../infra/index.js";
import { putLogTemplate } from "../infra/log-indices.js";
import { type RunningLogShipper, startLogShipper } from "../infra/rsyslog.js";
import { type PlatformIssuer, startPlatformIssuer, tokenBanner } from "./platform-issuer.js";
import { waitFor } from "./processes.js";
import { type RegistryTargets, watchRegistryTargets } from "./prometheus-targets.js";
import { LOAD_BUDGET } from "./start-platform.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const PROJECT_LABEL = "dev.charter.project=charter";
const STACK_LABEL = "dev.charter.stack";

export interface StackOptions {
  /** Traefik's `web` entry point, where the API is served (0: a free port). */
  readonly httpPort: number;
  /** Traefik's `console` entry point: /jaeger, /prometheus, /opensearch (0: a free port). */
  readonly consolePort: number;
  readonly users?: number;
  readonly audit?: number;
  readonly gateways?: number;
  /** The lease TTL of every registration (REGISTRY_LEASE_TTL_S; default 5 s). */
  readonly leaseTtlSeconds?: number;
  /** Images to run; built (npm run images) when not given. */
  readonly images?: Readonly<Record<Service, string>>;
  /**
   * The development issuer's port on the host, which the containers (host network) are pointed at through
   * AUTH_ISSUER; 0 picks a free one. Default AUTH_DEV_ISSUER_PORT (9400). With AUTH_ISSUER set in this process's
   * environment no issuer is started and the containers trust that one.
   */
  readonly issuerPort?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface StackContainer {
  readonly name: string;
  readonly service: Service;
  readonly image: string;
  /** The port it serves on: gRPC for users and audit, HTTP for the gateway. */
  readonly port: number;
  readonly metricsPort: number;
}

export interface Stack {
  readonly engine: DockerEngine;
  readonly etcd: EtcdCluster;
  readonly mongo: RunningServer;
  readonly redis: RunningServer;
  readonly kafka: RunningServer;
  readonly jaeger: RunningJaeger;
  readonly search: RunningOpenSearch;
  readonly prometheus: RunningServer;
  readonly traefik: RunningTraefik;
  readonly shipper: RunningLogShipper;
  /** The issuer every container trusts (AUTH_ISSUER): the development one on the host unless AUTH_ISSUER named another. */
  readonly issuer: PlatformIssuer;
  /** The API through Traefik. */
  readonly url: string;
  /** Traefik's console entry point. */
  readonly consoleUrl: string;
  /** The console routes' basic-auth login (user `charter`, a password new on every run). */
  readonly consoleCredentials: Credentials;
  /** `Basic …`: the Authorization header value of consoleCredentials, for a request to a console route. */
  readonly consoleAuthorization: string;
  readonly leaseTtlSeconds: number;
  /** The development CA and certificates the stack's servers and containers use. */
  readonly certs: DevCerts;
  /** TLS to etcd as the run's own tools use it: the CA and the `operator` client certificate. */
  readonly etcdTls: ClientTls;
  /** This run's passwords (Redis, Kafka), for checks that they appear nowhere they must not. */
  readonly passwords: readonly string[];
  /** The running containers by name (charter-users-1, …). */
  readonly containers: ReadonlyMap<string, StackContainer>;
  /** Starts one more container of `service` on free ports; resolves once it is in the rotation (etcd, Traefik). */
  startContainer(service: Service, image?: string): Promise<StackContainer>;
  /**
   * `docker stop` (SIGTERM: the service deregisters, waits, drains) and removal; resolves with the seconds it took
   * and the exit code (137 when Docker had to kill it after STOP_TIMEOUT_S).
   */
  stopContainer(name: string): Promise<{ seconds: number; exitCode: number }>;
  /** `docker kill` (SIGKILL) and removal. */
  killContainer(name: string): Promise<void>;
  /** The lines printed by `npm run stack`: every URL. */
  describe(): string;
  /** Removes the containers, then stops the servers. */
  stop(): Promise<void>;
}

const SERVICE_PORTS: Readonly<Record<Service, { port: string; metrics: string; host: string; id: string }>> = {
  users: { port: "USERS_GRPC_PORT", metrics: "USERS_METRICS_PORT", host: "USERS_HOST", id: "USERS_INSTANCE_ID" },
  audit: { port: "AUDIT_GRPC_PORT", metrics: "AUDIT_METRICS_PORT", host: "AUDIT_HOST", id: "AUDIT_INSTANCE_ID" },
  gateway: { port: "GATEWAY_PORT", metrics: "GATEWAY_PORT", host: "GATEWAY_HOST", id: "GATEWAY_INSTANCE_ID" },
};
/** How long a container may take to drain after SIGTERM before Docker kills it (deregister, wait, drain). */
const STOP_TIMEOUT_S = 20;

/** Where a container finds its certificates and password files (bind mounts, read-only). */
const SECRETS_DIR = "/run/secrets";
const REDIS_USER = "charter";
const KAFKA_USERS: Readonly<Record<"users" | "audit", string>> = { users: "charter-users", audit: "charter-audit" };

/** The basicAuth middleware in front of every console route. */
const CONSOLE_AUTH = "console-auth";
const CONSOLE_USER = "charter";

/**
 * The console routes Traefik serves from etcd: one router, stripPrefix middleware and service per console, every
 * router behind one basicAuth middleware whose user is `htpasswdUser` (`user:<htpasswd hash>`, basicAuthUser). The
 * middleware drops the Authorization header before forwarding: the consoles never see the login.
 */
export function consoleRouteEntries(
  consoles: Readonly<Record<string, string>>,
  htpasswdUser: string,
): [string, string][] {
  const auth = `traefik/http/middlewares/${CONSOLE_AUTH}/basicAuth`;
  return [
    [`${auth}/users/0`, htpasswdUser],
    [`${auth}/realm`, "Charter consoles"],
    [`${auth}/removeHeader`, "true"],
    ...Object.entries(consoles).flatMap(([name, url]): [string, string][] => {
      const router = `traefik/http/routers/console-${name}`;
      return [
        [`${router}/rule`, `PathPrefix(\`/${name}\`)`],
        [`${router}/entryPoints/0`, "console"],
        [`${router}/service`, `console-${name}`],
        [`${router}/middlewares/0`, CONSOLE_AUTH],
        [`${router}/middlewares/1`, `console-${name}-strip`],
        [`traefik/http/middlewares/console-${name}-strip/stripPrefix/prefixes/0`, `/${name}`],
        [`traefik/http/services/console-${name}/loadBalancer/servers/0/url`, url],
      ];
    }),
  ];
}

/** deploy/prometheus/prometheus.yml for the stack: its rules and jobs, plus Traefik's and Jaeger's own metrics. */
async function prometheusConfig(dir: string, traefik: RunningTraefik, jaeger: RunningJaeger): Promise<string> {
  const source = join(root, "deploy", "prometheus");
  const config = parse(await readFile(join(source, "prometheus.yml"), "utf8")) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; file_sd_configs?: { files: string[] }[] }[];
  };
  const hostPort = (url: string) => new URL(url).host;
  const file = join(dir, "prometheus.yml");
  await writeFile(
    file,
    stringify({
      ...config,
      global: { ...config.global, scrape_interval: "5s", evaluation_interval: "5s" },
      rule_files: config.rule_files.map((pattern) => join(source, pattern)),
      scrape_configs: [
        ...config.scrape_configs.map((job) => ({
          ...job,
          file_sd_configs: job.file_sd_configs?.map((sd) => ({ files: sd.files.map((f) => join(dir, f)) })),
        })),
        { job_name: "traefik", static_configs: [{ targets: [hostPort(traefik.metricsUrl)] }] },
        { job_name: "jaeger", static_configs: [{ targets: [hostPort(jaeger.metricsUrl)] }] },
      ],
    }),
  );
  return file;
}

async function dockerRun(engine: DockerEngine, args: readonly string[]): Promise<string> {
  return engine.ok(["run", "--detach", ...args]);
}

async function containerStatus(engine: DockerEngine, name: string): Promise<string> {
  const ran = await engine.run(["inspect", "--format", "{{.State.Status}}", name]);
  return ran.code === 0 ? ran.stdout.trim() : "missing";
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const leaseTtlSeconds = opts.leaseTtlSeconds ?? 5;
  const stackId = `s${process.pid}`;
  const engine = await ensureDockerEngine();
  const dir = await mkdtemp(join(tmpdir(), "charter-stack-"));
  const servers: { stop(): Promise<unknown> }[] = [];
  const containers = new Map<string, StackContainer>();
  let etcdClient: Etcd3 | undefined;
  let targets: RegistryTargets | undefined;
  const counters: Record<Service, number> = { users: 0, audit: 0, gateway: 0 };

  const stop = async () => {
    await Promise.all([...containers.keys()].map((name) => engine.run(["rm", "--force", name])));
    containers.clear();
    await targets?.stop().catch(() => {});
    etcdClient?.close();
    for (const server of servers.reverse()) await server.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const kept = <T extends { stop(): Promise<unknown> }>(server: T): T => {
      servers.push(server);
      return server;
    };
    const issuer = await startPlatformIssuer({
      ...process.env,
      ...(opts.issuerPort === undefined ? {} : { AUTH_DEV_ISSUER_PORT: String(opts.issuerPort) }),
    });
    servers.push({ stop: () => issuer.close() });
    const certs = await ensureDevCerts();
    // The files the containers get: copies of the certificates they need and this run's passwords, in a directory
    // only this user can enter, each owned by the images' user (when this runs as root) and readable by it alone.
    const secrets = join(dir, "secrets");
    await mkdir(secrets, { mode: 0o700 });
    const secretFiles = new Map<string, string>();
    const place = async (name: string, write: (file: string) => Promise<void>) => {
      const file = join(secrets, name);
      await write(file);
      if (process.getuid?.() === 0) {
        await chown(file, APP_UID, APP_UID);
        await chmod(file, 0o400);
      } else await chmod(file, 0o444);
      secretFiles.set(name, file);
    };
    const password = async (name: string) => {
      const value = randomBytes(24).toString("base64url");
      await place(name, (file) => writeFile(file, value));
      return value;
    };
    const redisUser: Credentials = { username: REDIS_USER, password: await password("redis-password") };
    const kafkaUsers = {
      users: { username: KAFKA_USERS.users, password: await password("kafka-users-password") },
      audit: { username: KAFKA_USERS.audit, password: await password("kafka-audit-password") },
    };
    const pemFiles: [string, string][] = [
      ["ca.pem", certs.ca],
      ...(["users", "audit"] as const).flatMap((name): [string, string][] => [
        [`${name}.pem`, certs.server[name].cert],
        [`${name}-key.pem`, certs.server[name].key],
      ]),
      ...(["gateway", "users", "audit"] as const).flatMap((name): [string, string][] => [
        [`${name}-client.pem`, certs.client[name].cert],
        [`${name}-client-key.pem`, certs.client[name].key],
      ]),
    ];
    for (const [name, source] of pemFiles) await place(name, (file) => copyFile(source, file));
    const etcdTls: ClientTls = {
      ca: await readFile(certs.ca),
      cert: await readFile(certs.client.operator.cert),
      key: await readFile(certs.client.operator.key),
    };
    log("infrastructure (secured): etcd ×3, MongoDB-compatible server, Redis, Kafka, Jaeger, OpenSearch; the images");
    const [etcd, mongo, redis, kafka, jaeger, search, images] = await Promise.all([
      startEtcdCluster(3, { tls: { ca: certs.ca, ...certs.server.etcd } }).then(kept),
      startMongo().then(kept),
      startRedis({ secure: { tls: { ca: certs.ca, ...certs.server.redis }, user: redisUser } }).then(kept),
      startKafka({
        secure: { tls: { ca: certs.ca, ...certs.server.kafka }, users: [kafkaUsers.users, kafkaUsers.audit] },
      }).then(kept),
      startJaeger().then(kept),
      startOpenSearch().then(kept),
      opts.images ??
        buildImages(engine, { services: SERVICES }).then(
          (built: BuiltImage[]) =>
            Object.fromEntries(built.map((image) => [image.service, image.ref])) as Record<Service, string>,
        ),
    ]);
    const [freeHttp = 0, freeConsole = 0] = await freePorts(2);
    const httpPort = opts.httpPort || freeHttp;
    const consolePort = opts.consolePort || freeConsole;
    log("Traefik (routes from etcd), the log shipper, Prometheus");
    const traefik = await startTraefik({
      etcdEndpoints: etcd.endpoints,
      etcdTls: { ca: certs.ca, ...certs.client.traefik },
      entryPort: httpPort,
      consolePort,
      tracing: { otlpHttpEndpoint: `${jaeger.otlpHttpUrl}/v1/traces` },
    });
    servers.push(traefik);
    await putLogTemplate(search.url);
    const shipper = await startLogShipper({
      opensearchUrl: search.url,
      files: [{ path: traefik.accessLogPath, tag: "traefik", service: "traefik" }],
    });
    servers.push(shipper);
    const consoleUrl = traefik.consoleUrl ?? "";
    // The target files exist before Prometheus starts: its file_sd watches their directory, and a directory that is
    // not there yet is only looked at again after refresh_interval (5 minutes).
    targets = await watchRegistryTargets({
      endpoints: etcd.endpoints,
      tls: etcdTls,
      dir: join(dir, "targets"),
      gateway: [],
      logger: createLogger("stack", "warn"),
    });
    const prometheus = await startPrometheus(await prometheusConfig(dir, traefik, jaeger), {
      externalUrl: `${consoleUrl}/prometheus/`,
    });
    servers.push(prometheus);

    etcdClient = createEtcdClient({ endpoints: etcd.endpoints, tls: etcdTls });
    const consoleCredentials: Credentials = { username: CONSOLE_USER, password: randomBytes(18).toString("base64url") };
    const consoles = { jaeger: jaeger.queryUrl, prometheus: prometheus.url, opensearch: search.url };
    const entries: [string, string][] = [
      [`${CONFIG_PREFIX}mongo-url`, mongo.url],
      [`${CONFIG_PREFIX}redis-url`, redis.url],
      ...consoleRouteEntries(consoles, await basicAuthUser(consoleCredentials)),
    ];
    for (const [key, value] of entries) await etcdClient.put(key).value(value).exec();

    const gatewayMetrics = new Set<string>();
    const refreshTargets = () => targets?.setGateway([...gatewayMetrics]);

    const mounted = (name: string) => `${SECRETS_DIR}/${name}`;
    const tlsFiles = (prefix: string, pair: string) => ({
      [`${prefix}_CA_FILE`]: mounted("ca.pem"),
      [`${prefix}_CERT_FILE`]: mounted(`${pair}.pem`),
      [`${prefix}_KEY_FILE`]: mounted(`${pair}-key.pem`),
    });
    const redisEnv = {
      REDIS_USERNAME: redisUser.username,
      REDIS_PASSWORD_FILE: mounted("redis-password"),
      REDIS_TLS_CA_FILE: mounted("ca.pem"),
    };
    const kafkaEnv = (who: "users" | "audit") => ({
      KAFKA_TLS_CA_FILE: mounted("ca.pem"),
      KAFKA_SASL_USERNAME: kafkaUsers[who].username,
      KAFKA_SASL_PASSWORD_FILE: mounted(`kafka-${who}-password`),
    });
    /** Every variable of a container's security: only paths of its mounted files, and user names. */
    const securityEnv = (service: Service): Record<string, string> => {
      if (service === "gateway")
        return { ...tlsFiles("GRPC_TLS", "gateway-client"), ...tlsFiles("ETCD_TLS", "gateway-client"), ...redisEnv };
      return {
        ...tlsFiles("GRPC_TLS", service),
        ...tlsFiles("ETCD_TLS", `${service}-client`),
        ...(service === "users" ? redisEnv : {}),
        ...kafkaEnv(service),
      };
    };

    const environment = (service: Service, instance: string, port: number, metricsPort: number) => {
      const keys = SERVICE_PORTS[service];
      const env: Record<string, string> = {
        NODE_ENV: "production",
        LOG_LEVEL: "info",
        ETCD_ENDPOINTS: etcd.endpoints.join(","),
        KAFKA_BROKERS: kafka.url,
        REGISTRY_LEASE_TTL_S: String(leaseTtlSeconds),
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_TRACES_SAMPLER: "parentbased_always_on",
        OTEL_BSP_SCHEDULE_DELAY: "200",
        [keys.host]: "127.0.0.1",
        [keys.id]: instance,
        [keys.port]: String(port),
        [keys.metrics]: String(metricsPort),
        ...issuer.env,
        ...securityEnv(service),
      };
      if (service === "audit") env.MONGO_URL = mongo.url;
      // Traefik follows etcd within its 200 ms providers throttle (scripts/infra/traefik.ts): a second is plenty.
      // The two gateways keep one request budget per client in Redis; the client is the address Traefik (on this
      // host) forwards; the load the test drives through the edge is set a budget it never reaches.
      if (service === "gateway")
        Object.assign(env, {
          GATEWAY_TRAEFIK: "on",
          GATEWAY_DOCS: "on",
          GATEWAY_TRAEFIK_DEREGISTER_WAIT_MS: "1000",
          REDIS_URL: redis.url,
          GATEWAY_TRUSTED_PROXIES: "127.0.0.1",
          ...LOAD_BUDGET,
        });
      return env;
    };

    const startContainer = async (service: Service, image = images[service]): Promise<StackContainer> => {
      counters[service] += 1;
      const name = `charter-${service}-${counters[service]}`;
      const [port = 0, second = 0] = await freePorts(2);
      const metricsPort = service === "gateway" ? port : second;
      const env = environment(service, name, port, metricsPort);
      await engine.run(["rm", "--force", name]); // a leftover of a run that did not stop cleanly
      // The files this container's variables name, each bind-mounted read-only on its own.
      const mounts = Object.values(env)
        .filter((value) => value.startsWith(`${SECRETS_DIR}/`))
        .filter((value, i, all) => all.indexOf(value) === i)
        .flatMap((target) => {
          const source = secretFiles.get(target.slice(SECRETS_DIR.length + 1));
          if (source === undefined) throw new Error(`no secret file for ${target}`);
          return ["--mount", `type=bind,source=${source},target=${target},readonly`];
        });
      await dockerRun(engine, [
        ...mounts,
        ...["--name", name, "--network", "host", "--read-only", "--label", PROJECT_LABEL],
        ...["--label", `${STACK_LABEL}=${stackId}`, "--stop-timeout", String(STOP_TIMEOUT_S)],
        ...["--log-driver", "syslog", "--log-opt", `syslog-address=${shipper.syslogAddress}`],
        ...["--log-opt", "syslog-format=rfc5424", "--log-opt", `tag=${name}`],
        ...Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
        image,
      ]);
      const container = { name, service, image, port, metricsPort };
      containers.set(name, container);
      // Ready means in the rotation: a users or audit instance registers in etcd only once it serves; a gateway
      // is ready once Traefik routes to it (it registers its route once it listens).
      const inRotation = async () => {
        if (service !== "gateway") {
          const key = `/charter/services/${service}/${name}`;
          return (await etcdClient?.get(key).string()) != null;
        }
        const response = await fetch(`${traefik.apiUrl}/api/http/services/charter-gateway@etcd`);
        const body = response.ok ? ((await response.json()) as { serverStatus?: Record<string, string> }) : {};
        return body.serverStatus?.[`http://127.0.0.1:${port}`] === "UP";
      };
      await waitFor(
        `${name} in the rotation`,
        async () => {
          const status = await containerStatus(engine, name);
          if (status !== "running") {
            const logs = await engine.run(["logs", "--tail", "30", name]);
            throw new Error(`${name} is ${status}:\n${logs.stdout}${logs.stderr}`);
          }
          return (await inRotation()) ? true : undefined;
        },
        90_000,
        200,
      );
      if (service === "gateway") {
        gatewayMetrics.add(`127.0.0.1:${metricsPort}`);
        await refreshTargets();
      }
      return container;
    };

    const removeGatewayTarget = async (container: StackContainer | undefined) => {
      if (container?.service !== "gateway") return;
      gatewayMetrics.delete(`127.0.0.1:${container.metricsPort}`);
      await refreshTargets();
    };

    log("containers: users ×3 and audit ×2, then the gateways ×2");
    await Promise.all([
      ...Array.from({ length: opts.users ?? 3 }, () => startContainer("users")),
      ...Array.from({ length: opts.audit ?? 2 }, () => startContainer("audit")),
    ]);
    await Promise.all(Array.from({ length: opts.gateways ?? 2 }, () => startContainer("gateway")));
    const url = traefik.entryUrl;
    await waitFor(
      "the API through Traefik",
      async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
      30_000,
    );

    return {
      engine,
      etcd,
      mongo,
      redis,
      kafka,
      jaeger,
      search,
      prometheus,
      traefik,
      shipper,
      issuer,
      url,
      consoleUrl,
      consoleCredentials,
      consoleAuthorization: `Basic ${Buffer.from(`${consoleCredentials.username}:${consoleCredentials.password}`).toString("base64")}`,
      leaseTtlSeconds,
      certs,
      etcdTls,
      passwords: [redisUser.password, kafkaUsers.users.password, kafkaUsers.audit.password],
      containers,
      startContainer,
      async stopContainer(name) {
        const started = Date.now();
        await engine.ok(["stop", name]);
        const seconds = (Date.now() - started) / 1000;
        const exitCode = Number(await engine.ok(["inspect", "--format", "{{.State.ExitCode}}", name]));
        await engine.run(["rm", "--force", name]);
        await removeGatewayTarget(containers.get(name));
        containers.delete(name);
        return { seconds, exitCode };
      },
      async killContainer(name) {
        await engine.ok(["kill", name]);
        await engine.run(["rm", "--force", name]);
        await removeGatewayTarget(containers.get(name));
        containers.delete(name);
      },
      describe() {
        const row = (label: string, value: string) => `  ${label.padEnd(14)}${value}`;
        const login = consoleCredentials;
        const byService = (service: Service) =>
          [...containers.values()]
            .filter((c) => c.service === service)
            .map((c) => `${c.name} :${c.port}`)
            .join(", ");
        return [
          row("REST", `${url}/v1/users   (Traefik → the gateways)`),
          row("API docs", `${url}/docs   GraphQL ${url}/graphql`),
          tokenBanner(issuer, url),
          row("Traefik", `${traefik.apiUrl}/api/http/routers   metrics ${traefik.metricsUrl}`),
          row("consoles", `basic auth (new on every run): user ${login.username}, password ${login.password}`),
          row("Jaeger", `${consoleUrl}/jaeger/api/traces?service=gateway   (direct ${jaeger.queryUrl})`),
          row("Prometheus", `${consoleUrl}/prometheus/   (direct ${prometheus.url})`),
          row("OpenSearch", `${consoleUrl}/opensearch/charter-logs-*/_search   (direct ${search.url})`),
          row(
            "",
            `e.g. curl -u '${login.username}:${login.password}' '${consoleUrl}/opensearch/charter-logs-*/_search'`,
          ),
          row("gateways", byService("gateway")),
          row("users", byService("users")),
          row("audit", byService("audit")),
          row("secured", "gRPC gateway → users/audit: mutual TLS; etcd: TLS with client certificates (Traefik's too);"),
          row("", `Redis: TLS, ACL user ${redisUser.username}; Kafka: SASL_SSL, SCRAM-SHA-256 users`),
          row("", `${kafkaUsers.users.username}, ${kafkaUsers.audit.username} (development CA in ${certs.dir})`),
          row("", `certificates and passwords mounted read-only in the containers under ${SECRETS_DIR}`),
          row("in clear", "on 127.0.0.1 only: Traefik → gateways (HTTP), MongoDB, OTLP to Jaeger, syslog, metrics"),
          row("etcd", `${etcd.endpoints.join(",")}   (client certificate required)`),
          row("MongoDB", mongo.url),
          row("Redis", `${redis.url}   (TLS, ACL user ${redisUser.username})`),
          row("Kafka", `${kafka.url}   (SASL_SSL)`),
          row("logs", `${shipper.syslogAddress} (rsyslog → OpenSearch, daily charter-logs-YYYY.MM.DD)`),
        ].join("\n");
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `npm run stack -- down`: removes every container that carries the project's label, then stops Charter's own
 * Docker engine if one runs (by its pidfile). The servers of a stack die with the process that started them.
 */
export async function removeProjectContainers(engine: DockerEngine): Promise<string[]> {
  const ids = (await engine.ok(["ps", "--all", "--quiet", "--filter", `label=${PROJECT_LABEL}`]))
    .split("\n")
    .filter((id) => id !== "");
  if (ids.length > 0) await engine.ok(["rm", "--force", ...ids]);
  return ids;
}
