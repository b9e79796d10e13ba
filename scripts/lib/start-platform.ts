/**
 * The users service and the gateway in front of it, as real processes on free ports with the
 * embedded (in-memory) backends: what the SDK tests, the browser tests and the benchmark drive.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ServiceProcess, startService } from "./processes.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const USERS_ENTRY = "services/users/main.ts";
export const GATEWAY_ENTRY = "services/gateway/main.ts";

/**
 * The request budget of a gateway driven by a test, the benchmark or a local cluster: one address sending hundreds
 * of requests a second, far past a real client's budget (GATEWAY_RATE_LIMIT_MAX, 600 a minute by default). Each of
 * them sets it explicitly; the tests of the budget itself set their own small one.
 */
export const LOAD_BUDGET = { GATEWAY_RATE_LIMIT_MAX: "1000000000" } as const;

export interface RunningPlatform {
  readonly users: ServiceProcess;
  readonly gateway: ServiceProcess;
  /** The gateway's origin, e.g. http://127.0.0.1:41234. */
  readonly baseUrl: string;
  /** Stops the gateway, then the users service. */
  stop(): Promise<void>;
}

function port(service: ServiceProcess, field: string, entry: string): number {
  const value = Number(service.ready[field]);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${entry}'s ready line has no "${field}" port: ${JSON.stringify(service.ready)}`);
  }
  return value;
}

/**
 * `env` goes to both processes; the gateway has LOAD_BUDGET unless `env` sets GATEWAY_RATE_LIMIT_MAX. `nodeArgs`
 * are each process's own Node flags (the benchmark's --cpu-prof).
 */
export async function startPlatform(
  env: Record<string, string> = {},
  nodeArgs: { readonly users?: readonly string[]; readonly gateway?: readonly string[] } = {},
): Promise<RunningPlatform> {
  if (!existsSync(`${root}${GATEWAY_ENTRY}`)) throw new Error(`${GATEWAY_ENTRY} does not exist yet`);
  const users = await startService(
    USERS_ENTRY,
    { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...env },
    "users service ready",
    undefined,
    nodeArgs.users,
  );
  let gateway: ServiceProcess;
  try {
    const grpcPort = port(users, "grpcPort", USERS_ENTRY);
    gateway = await startService(
      GATEWAY_ENTRY,
      { GATEWAY_PORT: "0", USERS_ADDR: `127.0.0.1:${grpcPort}`, ...LOAD_BUDGET, ...env },
      "gateway ready",
      undefined,
      nodeArgs.gateway,
    );
  } catch (error) {
    await users.stop();
    throw error;
  }
  return {
    users,
    gateway,
    baseUrl: `http://127.0.0.1:${port(gateway, "port", GATEWAY_ENTRY)}`,
    async stop() {
      await gateway.stop();
      await users.stop();
    },
  };
}
