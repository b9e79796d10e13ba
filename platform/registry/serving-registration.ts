/**
 * An instance's registration in etcd that follows its health: registered only while it is SERVING. When its
 * store stops answering it deregisters (clients then stop sending it calls it cannot serve) and registers again
 * with a new lease once the store is back. Changes are chained, so a new registration never races the
 * revocation of the last one. Stopping revokes the lease first and then waits `drainMs`, so clients drop the
 * instance while it still answers.
 */
import type { Logger } from "../logging.js";
import { createEtcdRegistrar, type EtcdRegistrar, type EtcdRegistrarOptions } from "./etcd-registrar.js";

export interface ServingRegistrationOptions
  extends Pick<
    EtcdRegistrarOptions,
    "endpoints" | "service" | "instanceId" | "value" | "leaseTtlSeconds" | "onRenewal" | "onLost"
  > {
  readonly logger: Logger;
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
        const { logger, dependency: _, onChange: __, ...registrarOptions } = opts;
        const next = createEtcdRegistrar({ ...registrarOptions, logger });
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
