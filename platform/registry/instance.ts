/** What an instance publishes in etcd, and where: `/charter/services/<service>/<instance-id>` → JSON. */

export const SERVICES_PREFIX = "/charter/services/";

/** The JSON value stored under an instance's key. */
export interface InstanceValue {
  /** host:port that clients dial, e.g. `127.0.0.1:50051` or `[::1]:50051`. */
  readonly address: string;
  readonly version: string;
  readonly zone: string;
  /** RFC 3339 time the instance started. */
  readonly startedAt: string;
  /** host:port of the instance's Prometheus /metrics, when it serves one (scrape targets are found from it). */
  readonly metricsAddress?: string;
}

/** One discovered instance: its value plus where it came from. */
export interface Instance extends InstanceValue {
  readonly id: string;
  readonly key: string;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;

function checkSegment(what: string, value: string): string {
  if (!SEGMENT.test(value)) throw new RangeError(`${what} must match ${SEGMENT}: ${JSON.stringify(value)}`);
  return value;
}

/** The key prefix under which every instance of `service` is registered (ends with `/`). */
export function servicePrefix(service: string, root = SERVICES_PREFIX): string {
  return `${root}${checkSegment("service", service)}/`;
}

export function instanceKey(service: string, instanceId: string, root = SERVICES_PREFIX): string {
  return `${servicePrefix(service, root)}${checkSegment("instanceId", instanceId)}`;
}

/** Parses a stored value; undefined when it is not a valid InstanceValue (it is then ignored, not guessed at). */
export function parseInstance(key: string, prefix: string, raw: string): Instance | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { address, version, zone, startedAt, metricsAddress } = parsed as Record<string, unknown>;
  if (typeof address !== "string" || address === "") return undefined;
  return {
    id: key.slice(prefix.length),
    key,
    address,
    version: typeof version === "string" ? version : "",
    zone: typeof zone === "string" ? zone : "",
    startedAt: typeof startedAt === "string" ? startedAt : "",
    ...(typeof metricsAddress === "string" && metricsAddress !== "" ? { metricsAddress } : {}),
  };
}
