/**
 * An instance's registration in etcd that follows its health: registered only while it is SERVING. When its
 * store stops answering it deregisters (clients then stop sending it calls it cannot serve) and registers again
 * with a new lease once the store is back. Changes are chained, so a new registration never races the
 * revocation of the last one. Stopping revokes the lease first and then waits `drainMs`, so clients drop the
 * instance while it still answers.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../logging.js";
import { createEtcdRegistrar, type EtcdRegistrar, type EtcdRegistrarOptions } from "./etcd-registrar.js";

export interface ServingRegistrationOptions
  extends Pick<EtcdRegistrarOptions, "endpoints" | "tls" | "service" | "instanceId" | "value" | "leaseTtlSeconds"> {
  readonly logger: Logger;
  /**
   * Where the registration's metrics go, named `charter_<metricsPrefix>_…`: `_registry_enabled`, `_registered`,
   * `_registry_lease_renewals_total`, `_registry_lease_losses_total`.
   */
  readonly metrics: { readonly registry: Registry; readonly prefix: string };
  /** What stops the instance from serving, for the log line when it deregisters (e.g. "the user store"). */
  readonly dependency: string;
  /** Called whenever `registered()` may have changed. */
  readonly onChange?: () => void;
}

export interface ServingRegistration {
  /** Whether the instance registers at all (etcd endpoints given). */
  readonly enabled: boolean;
  registered(): boolean;
  /** Registers when `serving` and not registered; deregisters when not serving and registered. */
  sync(serving: boolean): void;
  /** Deregisters for good; when the instance had been registered, waits `drainMs` after the revocation. */
  stop(drainMs: number): Promise<void>;
}

export function createServingRegistration(opts: ServingRegistrationOptions): ServingRegistration {
  const enabled = opts.endpoints.length > 0;
  const registers = [opts.metrics.registry];
  const metric = (name: string) => `charter_${opts.metrics.prefix}_${name}`;
  const renewals = new Counter({
    name: metric("registry_lease_renewals_total"),
    help: "Keepalives of this instance's etcd lease that etcd acknowledged (cluster mode).",
    registers,
  });
  const losses = new Counter({
    name: metric("registry_lease_losses_total"),
    help: "Registrations in etcd lost (lease expired or revoked, key gone) and then made again (cluster mode).",
    registers,
  });
  new Gauge({
    name: metric("registry_enabled"),
    help: "1 when this instance registers in etcd (cluster mode), 0 when it runs without a registry.",
    registers,
  }).set(enabled ? 1 : 0);
  new Gauge({
    name: metric("registered"),
    help: "1 while this instance is registered in etcd (cluster mode), 0 otherwise.",
    registers,
    collect() {
      this.set(registrar?.state().status === "registered" ? 1 : 0);
    },
  });
  let registrar: EtcdRegistrar | undefined;
  let change: Promise<void> = Promise.resolve();
  let stopping = false;
  const changed = () => opts.onChange?.();
  return {
    enabled,
    registered: () => registrar?.state().status === "registered",
    sync(serving) {
      if (!enabled || stopping || serving === (registrar !== undefined)) return;
      if (serving) {
        const next = createEtcdRegistrar({
          endpoints: opts.endpoints,
          tls: opts.tls,
          service: opts.service,
          instanceId: opts.instanceId,
          value: opts.value,
          ...(opts.leaseTtlSeconds === undefined ? {} : { leaseTtlSeconds: opts.leaseTtlSeconds }),
          logger: opts.logger,
          onRenewal: () => renewals.inc(),
          onLost: () => losses.inc(),
        });
        registrar = next;
        change = change.then(() => {
          // Not awaited beyond the chain: registration keeps trying while etcd is down and never blocks serving.
          if (registrar === next) void next.start().then(changed);
        });
      } else {
        const old = registrar;
        registrar = undefined;
        opts.logger.warn(`${opts.dependency} does not answer: deregistering from etcd until it does`);
        change = change.then(() => old?.stop());
      }
      changed();
    },
    async stop(drainMs) {
      stopping = true;
      const last = registrar;
      registrar = undefined;
      await change;
      if (!last) return;
      const wasRegistered = last.state().registrations > 0;
      await last.stop();
      changed();
      if (wasRegistered && drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
    },
  };
}
