/**
 * A real kube-apiserver for tests (scripts/infra/kube-tools.ts builds it): no nodes, no controller-manager, no
 * scheduler, but the whole API: schemas, defaulting, validation, admission, RBAC, CRDs with their CEL rules. So
 * `kubectl apply --dry-run=server` checks a manifest as a cluster would. It runs on its own etcd (startEtcd), bound to
 * 127.0.0.1 on a free port, with a self-signed serving certificate it makes itself in its data dir, a token file with
 * one admin, RBAC, a service-account signing key, a loopback service range and no endpoint reconciler.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { stringify } from "yaml";
import { startEtcd } from "./index.js";
import { ensureKubernetes } from "./kube-tools.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";
import { type Ran, runCommand } from "./steps.js";

export interface RunningKubeApiserver extends RunningServer {
  /** A kubeconfig for the admin (group system:masters). Always pass it: kubectl without one dials localhost:8080. */
  readonly kubeconfig: string;
  /** The kubectl binary built with the server. */
  readonly kubectlPath: string;
  /** Runs kubectl with `--kubeconfig` set, to its end. */
  kubectl(args: readonly string[], options?: { input?: string }): Promise<Ran>;
  /**
   * Creates a namespace and its `default` ServiceAccount, which a cluster's controller-manager would create (there
   * is none here), so Pods and pod templates are admitted.
   */
  createNamespace(name: string): Promise<void>;
}

export interface KubeApiserverOptions {
  /** CustomResourceDefinition files to install once the server is ready; it returns when they are Established. */
  readonly crds?: readonly string[];
  /** How long to wait for /readyz from spawn (default 60 s). */
  readonly readyTimeoutMs?: number;
}

/** GET `path` over HTTPS with the admin's token and the server's own certificate as the only CA. */
function get(port: number, path: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: HOST, port, path, ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", reject);
    req.end();
  });
}

/** Starts etcd and a kube-apiserver on it; stop() stops both. */
export async function startKubeApiserver(opts: KubeApiserverOptions = {}): Promise<RunningKubeApiserver> {
  const { apiserver, kubectl } = await ensureKubernetes();
  const etcd = await startEtcd();
  const token = randomBytes(24).toString("hex");
  let kubeconfig = "";
  let caFile = "";
  let server: RunningServer;
  try {
    server = await startServer({
      name: "kube-apiserver",
      command: apiserver,
      portCount: 1,
      args: ([port], dir) => {
        const certDir = join(dir, "certs");
        caFile = join(certDir, "apiserver.crt");
        const tokens = join(dir, "tokens.csv");
        writeFileSync(tokens, `${token},charter-admin,charter-admin,"system:masters"\n`, { mode: 0o600 });
        const saKey = join(dir, "service-account.key");
        if (!existsSync(saKey)) {
          const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
          writeFileSync(saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
        }
        kubeconfig = join(dir, "kubeconfig");
        writeFileSync(
          kubeconfig,
          stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
              {
                name: "charter-test",
                cluster: { server: `https://${HOST}:${port}`, "certificate-authority": caFile },
              },
            ],
            users: [{ name: "charter-admin", user: { token } }],
            contexts: [{ name: "charter-test", context: { cluster: "charter-test", user: "charter-admin" } }],
            "current-context": "charter-test",
          }),
          { mode: 0o600 },
        );
        return [
          `--etcd-servers=${etcd.url}`,
          `--bind-address=${HOST}`,
          `--advertise-address=${HOST}`,
          `--secure-port=${port}`,
          // No --tls-cert-file: the server makes a self-signed certificate for 127.0.0.1 and localhost here.
          `--cert-dir=${certDir}`,
          `--token-auth-file=${tokens}`,
          "--authorization-mode=RBAC",
          `--service-account-key-file=${saKey}`,
          `--service-account-signing-key-file=${saKey}`,
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          // ClusterIPs from a loopback range, and no reconciler keeping the `kubernetes` Service's endpoints.
          "--service-cluster-ip-range=127.200.0.0/24",
          "--endpoint-reconciler-type=none",
          "--enable-priority-and-fairness=false",
          "--profiling=false",
          "--v=0",
        ];
      },
      url: (port) => `https://${HOST}:${port}`,
      async isReady(port) {
        if (!existsSync(caFile)) return false; // the server writes its certificate early in its start
        return (await get(port, "/readyz", token, readFileSync(caFile, "utf8"))) === 200;
      },
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    });
  } catch (error) {
    await etcd.stop();
    throw error;
  }
  const run = (args: readonly string[], options: { input?: string } = {}) =>
    runCommand(kubectl, ["--kubeconfig", kubeconfig, ...args], options);
  const checked = async (args: readonly string[], input?: string) => {
    const result = await run(args, input === undefined ? {} : { input });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
  };
  if (opts.crds && opts.crds.length > 0) {
    try {
      // Server-side: the largest CRDs would not fit client-side apply's last-applied annotation.
      await checked(["apply", "--server-side", ...opts.crds.flatMap((file) => ["-f", file])]);
      await checked(["wait", "--for=condition=Established", "--timeout=30s", "crd", "--all"]);
    } catch (error) {
      await server.stop();
      await etcd.stop();
      throw error;
    }
  }
  let stopping: Promise<void> | undefined;
  return {
    ...server,
    kubeconfig,
    kubectlPath: kubectl,
    kubectl: run,
    async createNamespace(name) {
      await checked(["create", "namespace", name]);
      await checked(["create", "serviceaccount", "default", "--namespace", name]);
    },
    stop() {
      stopping ??= (async () => {
        await server.stop();
        await etcd.stop();
      })();
      return stopping;
    },
  };
}
