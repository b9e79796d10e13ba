/**
 * The registry settings every Charter service reads the same way: where etcd is (ETCD_ENDPOINTS), and for a
 * service that registers, its instance id, the address it advertises, its lease TTL and how long it drains
 * after deregistering. `<PREFIX>_INSTANCE_ID` and `<PREFIX>_ADVERTISE_ADDR` are per service (USERS_…, AUDIT_…);
 * `<PREFIX>_ZONE` too; REGISTRY_LEASE_TTL_S and REGISTRY_DRAIN_MS are shared.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type EnvReader } from "../config.js";
import { type ClientTls, clientTls } from "../tls-config.js";
import { parseEndpoints } from "./etcd-client.js";

export interface RegistrationConfig {
  /** ETCD_ENDPOINTS; empty when unset (no registry). */
  readonly etcdEndpoints: readonly string[];
  /** ETCD_TLS_CA, ETCD_TLS_CERT, ETCD_TLS_KEY: the CA of etcd's certificate and this client's certificate. */
  readonly etcdTls?: ClientTls | undefined;
  readonly instanceId: string;
  /** `<PREFIX>_ADVERTISE_ADDR`; undefined → derived from the host and the bound port. */
  readonly advertiseAddr: string | undefined;
  /** `<PREFIX>_ZONE` (default "local"): published with the instance. */
  readonly zone: string;
  readonly leaseTtlSeconds: number;
  readonly drainMs: number;
}

/** The version every instance publishes: the package's. */
export const INSTANCE_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

/** ETCD_ENDPOINTS: comma-separated http(s) URLs of etcd members; empty when unset. */
export function etcdEndpoints(e: EnvReader): string[] {
  const endpoints = parseEndpoints(e.string("ETCD_ENDPOINTS", ""));
  for (const endpoint of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (
      !url ||
      !["http:", "https:"].includes(url.protocol) ||
      url.host === "" ||
      !/^https?:\/\/[^/?#]+\/?$/.test(endpoint)
    ) {
      throw new ConfigError(
        `ETCD_ENDPOINTS must be comma-separated http:// or https:// URLs like http://127.0.0.1:2379, got ${JSON.stringify(endpoint)}`,
      );
    }
  }
  return endpoints;
}

/**
 * ETCD_TLS_CA (and ETCD_TLS_CERT with ETCD_TLS_KEY, for etcd's --client-cert-auth): TLS to the etcd members, whose
 * ETCD_ENDPOINTS must then be https:// URLs. Undefined when none is set.
 */
export function etcdTls(e: EnvReader, endpoints: readonly string[]): ClientTls | undefined {
  const tls = clientTls(e, "ETCD_TLS");
  const plain = endpoints.find((endpoint) => !endpoint.startsWith("https:"));
  if (tls && plain)
    throw new ConfigError(`ETCD_ENDPOINTS must be https:// URLs when ETCD_TLS_CA is set, got ${JSON.stringify(plain)}`);
  return tls;
}

/** An instance id: `<PREFIX>_INSTANCE_ID`, or `fallback` (default `<prefix in lower case>-<random>`) when unset. */
export function instanceId(e: EnvReader, prefix: string, fallback?: string): string {
  const name = `${prefix}_INSTANCE_ID`;
  const id = e.string(name, fallback ?? `${prefix.toLowerCase()}-${randomBytes(4).toString("hex")}`);
  if (!SEGMENT.test(id)) throw new ConfigError(`${name} must be 1 to 128 of [A-Za-z0-9._-], got ${JSON.stringify(id)}`);
  return id;
}

export function registrationConfig(e: EnvReader, prefix: string, fallbackInstanceId?: string): RegistrationConfig {
  const advertiseName = `${prefix}_ADVERTISE_ADDR`;
  const advertise = e.string(advertiseName, "");
  if (advertise !== "" && !HOST_PORT.test(advertise)) {
    throw new ConfigError(`${advertiseName} must be host:port, got ${JSON.stringify(advertise)}`);
  }
  const endpoints = etcdEndpoints(e);
  return {
    etcdEndpoints: endpoints,
    etcdTls: etcdTls(e, endpoints),
    instanceId: instanceId(e, prefix, fallbackInstanceId),
    advertiseAddr: advertise === "" ? undefined : advertise,
    zone: e.string(`${prefix}_ZONE`, "local"),
    leaseTtlSeconds: e.int("REGISTRY_LEASE_TTL_S", 5, 1, 3_600),
    drainMs: e.int("REGISTRY_DRAIN_MS", 1_000, 0, 60_000),
  };
}

/** The address clients are to dial: the advertised one, loopback for a wildcard host, otherwise the host. */
export function advertisedAddress(advertiseAddr: string | undefined, host: string, port: number): string {
  if (advertiseAddr) return advertiseAddr;
  if (["0.0.0.0", "127.0.0.1", "::", "localhost", ""].includes(host)) return `127.0.0.1:${port}`;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The gRPC and metrics addresses an instance registers: the advertised host with each bound port. */
export function instanceAddresses(
  config: Pick<RegistrationConfig, "advertiseAddr"> & { readonly host: string },
  grpcPort: number,
  metricsPort: number,
): { address: string; metricsAddress: string } {
  const address = advertisedAddress(config.advertiseAddr, config.host, grpcPort);
  return { address, metricsAddress: address.replace(/:\d+$/, `:${metricsPort}`) };
}
