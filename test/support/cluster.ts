/**
 * Helpers for the cluster tests: users instances and a gateway as real processes registered in and discovered
 * through a real etcd, reading etcd directly, per-instance call counts, and bounded load loops on 127.0.0.1.
 */
import type { Etcd3 } from "etcd3";
import { createEtcdClient } from "../../platform/registry/etcd-client.js";
import { type ServiceProcess, startService } from "../../scripts/lib/processes.js";
import { LOAD_BUDGET } from "../../scripts/lib/start-platform.js";

export const USERS_PREFIX = "/charter/services/users/";
/** The lease TTL the users instances use in these tests. */
export const LEASE_TTL_S = 2;

export interface Backends {
  readonly etcd: readonly string[];
  readonly mongoUrl: string;
  readonly redisUrl: string;
  /** AUTH_ISSUER and AUTH_AUDIENCE of the issuer the users instances and the gateway trust (a test issuer's env). */
  readonly auth?: Readonly<Record<string, string>>;
}

export interface UsersInstance {
  readonly id: string;
  readonly process: ServiceProcess;
  readonly grpcPort: number;
  readonly metricsPort: number;
}

export async function startUsersInstance(id: string, backends: Backends): Promise<UsersInstance> {
  const service = await startService(
    "services/users/main.ts",
    {
      USERS_GRPC_PORT: "0",
      USERS_METRICS_PORT: "0",
      USERS_HOST: "127.0.0.1",
      USERS_INSTANCE_ID: id,
      ETCD_ENDPOINTS: backends.etcd.join(","),
      REGISTRY_LEASE_TTL_S: String(LEASE_TTL_S),
      REGISTRY_DRAIN_MS: "1000",
      USERS_HEALTH_INTERVAL_MS: "500",
      MONGO_URL: backends.mongoUrl,
      REDIS_URL: backends.redisUrl,
      ...backends.auth,
    },
    "users service ready",
    60_000,
  );
  return {
    id,
    process: service,
    grpcPort: Number(service.ready.grpcPort),
    metricsPort: Number(service.ready.metricsPort),
  };
}

export async function startClusterGateway(backends: Backends, env: Record<string, string> = {}) {
  const gateway = await startService(
    "services/gateway/main.ts",
    {
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      ETCD_ENDPOINTS: backends.etcd.join(","),
      USERS_DEADLINE_MS: "3000",
      ...LOAD_BUDGET,
      ...backends.auth,
      ...env,
    },
    "gateway ready",
    60_000,
  );
  return { process: gateway, base: `http://127.0.0.1:${gateway.ready.port}` };
}

/** The instance ids registered in etcd now. */
export async function registeredIds(etcd: Etcd3): Promise<string[]> {
  const keys = await etcd.getAll().prefix(USERS_PREFIX).keys();
  return keys.map((key) => key.slice(USERS_PREFIX.length)).sort();
}

export const etcdClient = (endpoints: readonly string[]): Etcd3 =>
  createEtcdClient({ endpoints, callTimeoutMs: 2_000 });

/** Sum of charter_users_rpc_total{method} over every outcome, from one instance's /metrics. */
export async function rpcCalls(instance: UsersInstance, method: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.metricsPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("charter_users_rpc_total{") && line.includes(`method="${method}"`)) {
      total += Number(line.split(" ").pop());
    }
  }
  return total;
}

export async function gatewayMetric(base: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

export interface LoopResult {
  readonly ok: number;
  readonly failures: readonly string[];
}

/**
 * Runs `work` from `concurrency` workers until stop() is called or maxMs passes (a bound, not a timing), and
 * collects the failures each call reports (a string) instead of throwing.
 */
export function runLoop(
  concurrency: number,
  work: (worker: number) => Promise<string | undefined>,
  maxMs: number,
): { stop(): Promise<LoopResult> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const end = Date.now() + maxMs;
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    while (running && Date.now() < end) {
      try {
        const failure = await work(worker);
        if (failure === undefined) ok += 1;
        else failures.push(failure);
      } catch (error) {
        failures.push(`threw: ${String(error)}`);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { ok, failures };
    },
  };
}

/** A GET of one user that must answer 200; `headers` carry the token. */
export async function readOnce(
  base: string,
  id: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<string | undefined> {
  try {
    const response = await fetch(`${base}/v1/users/${id}`, { headers });
    const text = await response.text();
    return response.status === 200 ? undefined : `GET ${id} → ${response.status} ${text.slice(0, 200)}`;
  } catch (error) {
    return `GET ${id} → network error ${String(error)}`;
  }
}

export async function createUser(
  base: string,
  email: string,
  key?: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ id: string; etag: string }> {
  const response = await fetch(`${base}/v1/users`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}), ...headers },
    body: JSON.stringify({ name: "Cluster Test", email }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST → ${response.status} ${text}`);
  return JSON.parse(text) as { id: string; etag: string };
}

const RETRYABLE = new Set([503, 504]);

/**
 * Sends a request as a careful client would: again on 503, 504 or a network error (the request may or may not
 * have been applied), with the same headers, until another answer or `attempts` run out.
 */
export async function withRetries(
  send: () => Promise<Response>,
  attempts = 20,
): Promise<{ status: number; text: string; retries: number }> {
  let last = "";
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await send();
      const text = await response.text();
      if (!RETRYABLE.has(response.status)) return { status: response.status, text, retries: attempt };
      last = `${response.status} ${text.slice(0, 200)}`;
    } catch (error) {
      last = `network error ${String(error)}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still failing after ${attempts} attempts: ${last}`);
}
