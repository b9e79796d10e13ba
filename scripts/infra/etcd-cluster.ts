/**
 * A real etcd cluster on loopback for tests: `size` members, each a child process with its own client and peer
 * port and data dir, provisioned like startEtcd (see index.ts) and run through start-server.ts.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { ensureEtcd } from "./provision.js";
import { freePorts, HOST, type RunningServer, type ServerTls, startServer } from "./start-server.js";

export interface EtcdCluster {
  /** One per member, in member order; `url`/`port` are the member's client URL and port. */
  readonly members: readonly RunningServer[];
  /** The members' client URLs, e.g. for `ETCD_ENDPOINTS`. */
  readonly endpoints: readonly string[];
  /**
   * Kills every member and removes their data dirs. Idempotent. SIGKILL, not SIGTERM: members stopped together
   * lose their quorum and each would wait out the full grace period trying to hand over leadership.
   */
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  /** How long to wait for the whole cluster to answer /health, from spawn (default 30 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Secured: clients and peers speak https, and each must present a certificate of `tls.ca` (members use
   * `tls.cert`, which must be good for both server and client auth, towards each other).
   */
  readonly tls?: ServerTls;
}

/** etcd's flags for TLS with client-certificate auth on the client and peer URLs. */
export function etcdTlsArgs(tls: ServerTls | undefined): string[] {
  if (!tls) return [];
  return [
    ...["--client-cert-auth", "--trusted-ca-file", tls.ca, "--cert-file", tls.cert, "--key-file", tls.key],
    ...["--peer-client-cert-auth", "--peer-trusted-ca-file", tls.ca],
    ...["--peer-cert-file", tls.cert, "--peer-key-file", tls.key],
  ];
}

/** GET <url>/health says healthy; over https with `tls.cert` as the client certificate. */
export async function etcdHealthy(url: string, tls?: ServerTls): Promise<boolean> {
  if (!tls) {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return response.ok && ((await response.json()) as { health?: unknown }).health === "true";
  }
  const [ca, cert, key] = [tls.ca, tls.cert, tls.key].map((file) => readFileSync(file));
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${url}/health`, { ca, cert, key, servername: "localhost", timeout: 1_000 }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on("end", () => resolve(response.statusCode === 200 ? text : ""));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
  return body !== "" && (JSON.parse(body) as { health?: unknown }).health === "true";
}

/**
 * Starts a `size`-member cluster (default 3). A member's kill() and restart() keep its data dir, so it rejoins
 * with its raft log; restart({ wipe: true }) is refused, because a member with an empty log cannot rejoin
 * without a member remove/add. A member's restart() is ready once it reports healthy, which needs a quorum.
 */
export async function startEtcdCluster(size = 3, opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`cluster size must be a positive integer: ${size}`);
  const command = await ensureEtcd();
  // etcd also reads every flag from ETCD_* variables: keep the caller's out of the test servers.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD")));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const scheme = opts.tls ? "https" : "http";

  // Ports are chosen up front because every member must know every peer URL before any of them starts.
  // startServer takes (and leaves unused) a free port of its own; the wrapper below reports the real one.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(size * 2);
    const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
    const clientPort = (i: number) => ports[i * 2] ?? 0;
    const peerUrl = (i: number) => `${scheme}://${HOST}:${ports[i * 2 + 1] ?? 0}`;
    const clientUrl = (i: number) => `${scheme}://${HOST}:${clientPort(i)}`;
    const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(",");

    const starting = names.map((name, i) =>
      startServer({
        name: `etcd-${name}`,
        command,
        portCount: 1,
        env,
        args: (_unused, dir) => [
          ...["--name", name, "--data-dir", dir],
          ...["--listen-client-urls", clientUrl(i), "--advertise-client-urls", clientUrl(i)],
          ...["--listen-peer-urls", peerUrl(i), "--initial-advertise-peer-urls", peerUrl(i)],
          ...["--initial-cluster", initialCluster, "--initial-cluster-state", "new"],
          ...["--initial-cluster-token", "charter-test-cluster", "--logger", "zap", "--log-outputs", "stderr"],
          // Slower than the single member's 25/250: three members share two cores with other tests.
          ...["--log-level", "warn", "--heartbeat-interval", "50", "--election-timeout", "500"],
          ...etcdTlsArgs(opts.tls),
        ],
        url: () => clientUrl(i),
        isReady: () => etcdHealthy(clientUrl(i), opts.tls),
        readyTimeoutMs,
      }),
    );
    const settled = await Promise.allSettled(starting);
    const started = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failure = settled.find((result) => result.status === "rejected");
    if (failure) {
      await Promise.all(started.map((server) => server.stop()));
      const reason: unknown = failure.reason;
      const inUse = (reason as { portInUse?: boolean }).portInUse === true;
      if (inUse && attempt < 3) continue;
      throw reason;
    }

    const members = started.map((server, i): RunningServer => {
      const port = clientPort(i);
      return {
        name: server.name,
        host: HOST,
        port,
        url: clientUrl(i),
        dataDir: server.dataDir,
        output: () => server.output(),
        kill: (signal) => server.kill(signal),
        async restart(restartOpts = {}) {
          if (restartOpts.wipe) {
            throw new Error(`${server.name}: a cluster member cannot be restarted with a wiped data dir`);
          }
          await server.restart();
        },
        stop: () => server.stop(),
      };
    });
    let stopping: Promise<void> | undefined;
    return {
      members,
      endpoints: members.map((member) => member.url),
      stop() {
        stopping ??= (async () => {
          await Promise.all(members.map((member) => member.kill("SIGKILL")));
          await Promise.all(members.map((member) => member.stop()));
        })();
        return stopping;
      },
    };
  }
}
