/**
 * The gateway's view of the users instances registered in etcd. It registers the `etcd` resolver once (grpc-js,
 * process-wide) so that a client dialing `etcd:///users` balances over the discovered instances, keeps the users
 * discovery at hand for readiness (each instance's health, by address), and holds the users breaker open while
 * discovery has read etcd and found no instance at all — a call could then only wait for its deadline.
 */

import { grpcClientCredentials } from "../../../platform/grpc-credentials.js";
import type { Logger } from "../../../platform/logging.js";
import { createEtcdDiscovery, type EtcdDiscovery } from "../../../platform/registry/etcd-discovery.js";
import { registerEtcdResolver } from "../../../platform/registry/grpc-resolver.js";
import type { Instance } from "../../../platform/registry/instance.js";
import type { ClientTls, MutualTls } from "../../../platform/tls-config.js";
import type { HealthStatus, UsersBackend } from "../app/backends.js";
import { createHealthProbe, type HealthProbe } from "./grpc-client.js";
import { usersChannelOptions } from "./users-backend.js";

export const USERS_SERVICE_NAME = "users";

export interface InstanceHealth {
  readonly id: string;
  readonly address: string;
  readonly health: HealthStatus;
}

export interface InstancesReport {
  /** etcd has been read at least once. */
  readonly synced: boolean;
  /** The watch is open (false while etcd is unreachable: the instances are then the last known ones). */
  readonly watching: boolean;
  readonly instances: readonly InstanceHealth[];
}

export interface UsersDiscovery {
  /** The registered users instances; undefined until etcd has been read once. */
  instances(): readonly Instance[] | undefined;
  /** Every discovered instance with its health (grpc.health.v1 Check of "" on its own address). */
  report(deadlineMs: number): Promise<InstancesReport>;
  /** Holds `users`' breaker open while discovery has found no instance, and lets it go when one registers. */
  guard(users: UsersBackend): void;
  stop(): Promise<void>;
}

export interface UsersDiscoveryOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (ETCD_TLS_*). */
  readonly etcdTls?: ClientTls | undefined;
  /** Mutual TLS of the health probes of each instance (GRPC_TLS_*). */
  readonly grpcTls?: MutualTls | undefined;
  readonly logger: Logger;
}

export function registerUsersDiscovery(opts: UsersDiscoveryOptions): UsersDiscovery {
  const log = opts.logger.child({ component: "users-discovery" });
  let current: EtcdDiscovery | undefined;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };

  const registration = registerEtcdResolver({
    logger: opts.logger,
    discovery: (service) => {
      const discovery = createEtcdDiscovery({
        endpoints: opts.endpoints,
        tls: opts.etcdTls,
        service,
        logger: opts.logger,
      });
      if (service !== USERS_SERVICE_NAME) return discovery;
      current = discovery;
      discovery.onChange(notify);
      // The first read of an empty prefix changes nothing, so it is not published: say it once it is done.
      return {
        ...discovery,
        start: () =>
          discovery.start().then(() => {
            notify();
          }),
      };
    },
  });

  const instances = () => (current?.state().synced ? current.endpoints() : undefined);
  const probes = new Map<string, HealthProbe>();
  let releaseBreaker: (() => void) | undefined;

  return {
    instances,
    async report(deadlineMs) {
      const list = instances() ?? [];
      const addresses = new Set(list.map((instance) => instance.address));
      for (const [address, probe] of probes) {
        if (!addresses.has(address)) {
          probe.close();
          probes.delete(address);
        }
      }
      const checked = await Promise.all(
        list.map(async (instance) => {
          let probe = probes.get(instance.address);
          if (!probe) {
            probe = createHealthProbe(instance.address, usersChannelOptions(), grpcClientCredentials(opts.grpcTls));
            probes.set(instance.address, probe);
          }
          return { id: instance.id, address: instance.address, health: await probe.check("", deadlineMs) };
        }),
      );
      const state = current?.state();
      return { synced: state?.synced ?? false, watching: state?.watching ?? false, instances: checked };
    },
    guard(users) {
      const update = () => {
        const list = instances();
        if (list !== undefined && list.length === 0) {
          if (!releaseBreaker) {
            log.warn("no users instance is registered in etcd: failing users calls at once");
            releaseBreaker = users.isolate();
          }
        } else if (releaseBreaker) {
          log.info({ instances: list?.length ?? 0 }, "users instances registered again");
          releaseBreaker();
          releaseBreaker = undefined;
        }
      };
      listeners.add(update);
      update();
    },
    async stop() {
      listeners.clear();
      releaseBreaker?.();
      releaseBreaker = undefined;
      for (const probe of probes.values()) probe.close();
      probes.clear();
      await registration.stop();
    },
  };
}
