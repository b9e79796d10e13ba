/**
 * A grpc-js name resolver for `etcd:///<service>`: the instances come from etcd discovery and the service
 * config picks round_robin, so a client created on `etcd:///users` spreads its calls over every registered
 * instance, follows instances as they come and go, and routes around a connection that broke.
 *
 * grpc-js (1.14) gives the resolver a listener *function*. The first updateResolution() is answered once
 * discovery has read etcd, always asynchronously; later changes are pushed as discovery sees them. Further
 * updateResolution() calls (grpc-js asks again whenever a connection fails) are not answered when nothing
 * changed: answering every one makes a tight re-resolution loop while the list is empty.
 *
 * A service config given by a resolver wins over the channel's `grpc.service_config` option in grpc-js, so the
 * resolver carries the channel's own method configs (retry policies, timeouts) and throttling in the config it
 * reports, with round_robin as the load balancer.
 */
import { experimental, type ServiceConfig } from "@grpc/grpc-js";
import type { Logger } from "../logging.js";
import type { ClientTls } from "../tls-config.js";
import { createEtcdDiscovery, type EtcdDiscovery } from "./etcd-discovery.js";
import type { Instance } from "./instance.js";

type Endpoint = experimental.Endpoint;

export interface EtcdResolverOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (https:// endpoints), see EtcdClientOptions. */
  readonly tls?: ClientTls | undefined;
  readonly logger: Logger;
  /** Key root (default `/charter/services/`). */
  readonly root?: string;
}

/** Builds the discovery for one service; the resolver starts it, and stops it when no channel uses it. */
export type DiscoveryFactory = (service: string) => EtcdDiscovery;

export interface EtcdResolverFactoryOptions {
  readonly discovery: DiscoveryFactory;
  readonly logger: Logger;
}

export interface EtcdResolverRegistration {
  readonly scheme: string;
  /** The discovery currently shared by the channels dialing `service`, if any (for health details). */
  discovery(service: string): EtcdDiscovery | undefined;
  /** Stops every discovery still in use (channels normally release theirs when closed). */
  stop(): Promise<void>;
}

export const ROUND_ROBIN: ServiceConfig = { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] };

/** round_robin plus the method configs and retry throttling of the channel's `grpc.service_config`, if any. */
export function serviceConfigFor(channelOptions: unknown): ServiceConfig {
  const raw = (channelOptions as Record<string, unknown> | undefined)?.["grpc.service_config"];
  if (typeof raw !== "string") return ROUND_ROBIN;
  try {
    const parsed = JSON.parse(raw) as Partial<ServiceConfig>;
    return {
      ...ROUND_ROBIN,
      methodConfig: Array.isArray(parsed.methodConfig) ? parsed.methodConfig : [],
      ...(parsed.retryThrottling ? { retryThrottling: parsed.retryThrottling } : {}),
    };
  } catch {
    return ROUND_ROBIN; // grpc-js itself refuses a channel whose option does not parse
  }
}

interface Shared {
  readonly discovery: EtcdDiscovery;
  readonly ready: Promise<void>;
  refs: number;
}

/** `host:port` of every instance that has one, in discovery order (by key). */
function toEndpoints(instances: readonly Instance[], log: Logger): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const instance of instances) {
    const parsed = experimental.splitHostPort(instance.address);
    if (!parsed || parsed.port === undefined) {
      log.warn({ key: instance.key, address: instance.address }, "instance address is not host:port; skipped");
      continue;
    }
    endpoints.push({ addresses: [{ host: parsed.host, port: parsed.port }] });
  }
  return endpoints;
}

/**
 * Registers the resolver for `scheme` (default `etcd`) in grpc-js, process-wide; registering again replaces it.
 * Channels dialing the same service share one discovery.
 */
export function registerEtcdResolver(
  source: EtcdResolverOptions | EtcdResolverFactoryOptions,
  scheme = "etcd",
): EtcdResolverRegistration {
  const log = source.logger.child({ component: "etcd-resolver", scheme });
  const factory: DiscoveryFactory =
    "discovery" in source
      ? source.discovery
      : (service) =>
          createEtcdDiscovery({
            endpoints: source.endpoints,
            tls: source.tls,
            service,
            logger: source.logger,
            ...(source.root === undefined ? {} : { root: source.root }),
          });
  const shared = new Map<string, Shared>();

  const acquire = (service: string): Shared => {
    let entry = shared.get(service);
    if (!entry) {
      const discovery = factory(service);
      const ready = discovery.start().catch((error: unknown) => {
        log.error({ service, err: String(error) }, "discovery did not start");
      });
      entry = { discovery, ready, refs: 0 };
      shared.set(service, entry);
    }
    entry.refs += 1;
    return entry;
  };
  const release = (service: string, entry: Shared) => {
    entry.refs -= 1;
    if (entry.refs > 0 || shared.get(service) !== entry) return;
    shared.delete(service);
    entry.discovery.stop().catch((error: unknown) => log.warn({ service, err: String(error) }, "discovery stop"));
  };

  class EtcdResolver implements experimental.Resolver {
    private readonly service: string;
    private entry: Shared | undefined;
    private unsubscribe: (() => void) | undefined;
    /** The addresses last given to grpc-js, so that an unchanged list is not given again. */
    private reported: string | undefined;
    private readonly serviceConfig: ServiceConfig;

    constructor(
      target: experimental.GrpcUri,
      private readonly listener: experimental.ResolverListener,
      channelOptions: unknown,
    ) {
      this.service = target.path.replace(/^\/+/, "");
      this.serviceConfig = serviceConfigFor(channelOptions);
    }

    static getDefaultAuthority(target: experimental.GrpcUri): string {
      return target.path.replace(/^\/+/, "");
    }

    updateResolution(): void {
      if (this.entry) return; // changes are pushed as discovery sees them
      const entry = acquire(this.service);
      this.entry = entry;
      this.reported = undefined;
      this.unsubscribe = entry.discovery.onChange(() => this.report(entry));
      // Never synchronously: grpc-js does not expect the listener inside updateResolution().
      void entry.ready.then(() => setImmediate(() => this.report(entry)));
    }

    destroy(): void {
      const entry = this.entry;
      if (!entry) return;
      this.entry = undefined;
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      release(this.service, entry);
    }

    private report(entry: Shared): void {
      if (this.entry !== entry || !entry.discovery.state().synced) return;
      const instances = entry.discovery.endpoints();
      const endpoints = toEndpoints(instances, log);
      const fingerprint = endpoints.map((e) => e.addresses.map((a) => JSON.stringify(a)).join()).join(";");
      if (fingerprint === this.reported) return;
      this.reported = fingerprint;
      const note = endpoints.length === 0 ? `no instance of ${this.service} is registered in etcd` : "";
      this.listener(
        experimental.statusOrFromValue(endpoints),
        {},
        experimental.statusOrFromValue(this.serviceConfig),
        note,
      );
    }
  }

  experimental.registerResolver(scheme, EtcdResolver);
  return {
    scheme,
    discovery: (service) => shared.get(service)?.discovery,
    async stop() {
      const entries = [...shared.values()];
      shared.clear();
      await Promise.all(entries.map((entry) => entry.discovery.stop()));
    },
  };
}
