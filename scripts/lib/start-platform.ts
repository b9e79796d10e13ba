/**
 * The users service and the gateway in front of it, as real processes on free ports with the
 * embedded (in-memory) backends: what the SDK tests, the browser tests and the benchmark drive. Both trust a
 * development issuer on a free port that this starts too (unless `env` sets AUTH_ISSUER), so a caller gets
 * real tokens from `issuer` and `authorization()`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DevIssuer } from "../../platform/auth/dev-issuer.js";
import { entityServiceNames } from "../../platform/service-names.js";
import { startPlatformIssuer } from "./platform-issuer.js";
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
  /** Every other service the gateway mounts a document of (e.g. one made by `npm run new:service`). */
  readonly others: readonly ServiceProcess[];
  readonly gateway: ServiceProcess;
  /** The gateway's origin, e.g. http://127.0.0.1:41234. */
  readonly baseUrl: string;
  /** The development issuer the processes trust; undefined when `env` named another one (AUTH_ISSUER). */
  readonly issuer: DevIssuer | undefined;
  /** `Bearer <token>` of the all-scopes development client (charter-dev), fetched once and reused. */
  authorization(): Promise<string>;
  /** Stops the gateway, then the other services and the users service, then the issuer. */
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
 * Every other service with a REST contract of its own (contracts/openapi/<name>.v1.yaml besides users', e.g. one
 * made by `npm run new:service`), each started from services/<name>/main.ts on free ports with `env`: the gateway
 * mounts each one's document and dials it at the `<NAME>_ADDR` that `addresses` gives. None in a tree without one.
 */
export async function startOtherServices(
  env: Record<string, string>,
): Promise<{ services: ServiceProcess[]; addresses: Record<string, string> }> {
  const services: ServiceProcess[] = [];
  const addresses: Record<string, string> = {};
  try {
    for (const name of entityServiceNames()) {
      const prefix = name.toUpperCase();
      const entry = `services/${name}/main.ts`;
      const service = await startService(
        entry,
        { [`${prefix}_GRPC_PORT`]: "0", [`${prefix}_METRICS_PORT`]: "0", [`${prefix}_HOST`]: "127.0.0.1", ...env },
        `${name} service ready`,
      );
      services.push(service);
      addresses[`${prefix}_ADDR`] = `127.0.0.1:${port(service, "grpcPort", entry)}`;
    }
  } catch (error) {
    for (const service of services.reverse()) await service.stop();
    throw error;
  }
  return { services, addresses };
}

/**
 * The `<NAME>_ADDR` of every other service (those startOtherServices starts) as an address nothing listens at, for a
 * test that starts the gateway by hand to drive users and audit only: the gateway starts (it dials a backend on its
 * first call to it), and a request for such a service is its 503. Empty in a tree without another service.
 */
export function otherServicesOffline(): Record<string, string> {
  return Object.fromEntries(entityServiceNames().map((name) => [`${name.toUpperCase()}_ADDR`, "127.0.0.1:9"]));
}

/**
 * `env` goes to every process; the gateway has LOAD_BUDGET unless `env` sets GATEWAY_RATE_LIMIT_MAX. `nodeArgs`
 * are each process's own Node flags (the benchmark's --cpu-prof). `gatewayEntry` runs another gateway entry point
 * than the source one: the benchmark's built bundle (an absolute path to its main.js, run by plain node).
 */
export async function startPlatform(
  env: Record<string, string> = {},
  nodeArgs: { readonly users?: readonly string[]; readonly gateway?: readonly string[] } = {},
  gatewayEntry: string = GATEWAY_ENTRY,
): Promise<RunningPlatform> {
  if (!existsSync(`${root}${GATEWAY_ENTRY}`)) throw new Error(`${GATEWAY_ENTRY} does not exist yet`);
  const trusted = await startPlatformIssuer({ AUTH_DEV_ISSUER_PORT: "0", ...env });
  const withIssuer = { ...trusted.env, ...env };
  let users: ServiceProcess;
  try {
    users = await startService(
      USERS_ENTRY,
      { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1", ...withIssuer },
      "users service ready",
      undefined,
      nodeArgs.users,
    );
  } catch (error) {
    await trusted.close();
    throw error;
  }
  let gateway: ServiceProcess;
  let others: ServiceProcess[] = [];
  try {
    const grpcPort = port(users, "grpcPort", USERS_ENTRY);
    const started = await startOtherServices(withIssuer);
    others = started.services;
    gateway = await startService(
      gatewayEntry,
      { GATEWAY_PORT: "0", USERS_ADDR: `127.0.0.1:${grpcPort}`, ...started.addresses, ...LOAD_BUDGET, ...withIssuer },
      "gateway ready",
      undefined,
      nodeArgs.gateway,
    );
  } catch (error) {
    for (const other of others.reverse()) await other.stop();
    await users.stop();
    await trusted.close();
    throw error;
  }
  let authorization: Promise<string> | undefined;
  return {
    users,
    others,
    gateway,
    baseUrl: `http://127.0.0.1:${port(gateway, "port", GATEWAY_ENTRY)}`,
    issuer: trusted.dev,
    authorization() {
      const dev = trusted.dev;
      const client = dev?.clients[0];
      if (!dev || !client) return Promise.reject(new Error("the platform trusts another issuer (AUTH_ISSUER)"));
      authorization ??= dev.token(client).then((token) => `Bearer ${token}`);
      return authorization;
    },
    async stop() {
      await gateway.stop();
      for (const other of [...others].reverse()) await other.stop();
      await users.stop();
      await trusted.close();
    },
  };
}
