/**
 * The gateway's route for Traefik, kept in etcd in the layout of Traefik's KV provider (under its root key,
 * `traefik` by default):
 *
 *   traefik/http/routers/charter-gateway/rule                      PathPrefix(`/`)
 *   traefik/http/routers/charter-gateway/service                   charter-gateway
 *   traefik/http/routers/charter-gateway/entryPoints/0             web
 *   traefik/http/routers/charter-gateway/middlewares/0             charter-retry
 *   traefik/http/middlewares/charter-retry/retry/attempts          2
 *   traefik/http/services/charter-gateway/loadBalancer/passHostHeader  true
 *   traefik/http/services/charter-gateway/loadBalancer/servers/<instance id>/url  http://127.0.0.1:<port>
 *
 * The router, middleware and service keys are shared by every instance and written without a lease: they must
 * never go, because Traefik ignores the deletion of the last router or service (traefik#8092) and would keep
 * routing to the last instance it knew. `passHostHeader` keeps the service defined while no instance is
 * registered (Traefik then answers 503). Each instance's server key is under the instance's own lease: a gateway
 * that dies leaves the rotation when its lease ends; one that stops deletes it (revokes the lease), waits longer
 * than Traefik's provider throttle so Traefik has stopped sending it requests, and only then drains.
 *
 * Traefik's retry middleware sends a request again (to the next server) only when it could not be written to the
 * backend at all (a refused or failed connection, no byte of it sent), for any method; once the request was sent,
 * whatever happens is answered as is. So a POST is never applied twice by a retry.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../../../platform/logging.js";
import {
  createLeasedEntries,
  type EtcdRegistrar,
  type LeasedEntry,
} from "../../../platform/registry/etcd-registrar.js";
import type { ClientTls } from "../../../platform/tls-config.js";

export const TRAEFIK_ROUTER = "charter-gateway";
export const TRAEFIK_SERVICE = "charter-gateway";
export const TRAEFIK_RETRY = "charter-retry";
/** The Traefik entry point the route is on. */
export const TRAEFIK_ENTRY_POINT = "web";
export const RETRY_ATTEMPTS = 2;

/** The key of one instance's server in the gateway's load balancer. */
export function traefikServerKey(rootKey: string, instanceId: string): string {
  return `${rootKey}/http/services/${TRAEFIK_SERVICE}/loadBalancer/servers/${instanceId}/url`;
}

/** The shared keys (no lease) and the instance's own (under its lease). */
export function traefikRouteEntries(
  rootKey: string,
  instanceId: string,
  url: string,
): { shared: LeasedEntry[]; own: LeasedEntry[] } {
  const router = `${rootKey}/http/routers/${TRAEFIK_ROUTER}`;
  return {
    shared: [
      { key: `${rootKey}/http/middlewares/${TRAEFIK_RETRY}/retry/attempts`, value: String(RETRY_ATTEMPTS) },
      { key: `${rootKey}/http/services/${TRAEFIK_SERVICE}/loadBalancer/passHostHeader`, value: "true" },
      { key: `${router}/rule`, value: "PathPrefix(`/`)" },
      { key: `${router}/service`, value: TRAEFIK_SERVICE },
      { key: `${router}/entryPoints/0`, value: TRAEFIK_ENTRY_POINT },
      { key: `${router}/middlewares/0`, value: TRAEFIK_RETRY },
    ],
    own: [{ key: traefikServerKey(rootKey, instanceId), value: url }],
  };
}

export interface TraefikRouteOptions {
  readonly endpoints: readonly string[];
  /** TLS to etcd (ETCD_TLS_*). */
  readonly tls?: ClientTls | undefined;
  readonly rootKey: string;
  readonly instanceId: string;
  /** The URL Traefik is to send requests to; asked for at start, once the server listens. */
  readonly url: () => string;
  readonly leaseTtlSeconds: number;
  readonly deregisterWaitMs: number;
  readonly logger: Logger;
}

/** A service-host worker: start() registers the route (without waiting for etcd), stop() deregisters and waits. */
export function createTraefikRoute(opts: TraefikRouteOptions) {
  const log = opts.logger.child({ component: "traefik-route", instanceId: opts.instanceId });
  let registrar: EtcdRegistrar | undefined;
  return {
    name: "Traefik route",
    stopGraceMs: opts.deregisterWaitMs,
    start() {
      const url = opts.url();
      const { shared, own } = traefikRouteEntries(opts.rootKey, opts.instanceId, url);
      const next = createLeasedEntries({
        endpoints: opts.endpoints,
        tls: opts.tls,
        entries: own,
        sharedEntries: shared,
        leaseTtlSeconds: opts.leaseTtlSeconds,
        logger: log,
      });
      registrar = next;
      // Not awaited: the gateway serves whether etcd answers or not; the registrar keeps trying.
      void next.start().then(() => {
        if (next.state().status === "registered")
          log.info({ url, rootKey: opts.rootKey }, "route registered for Traefik");
      });
    },
    async stop() {
      const last = registrar;
      registrar = undefined;
      if (!last) return;
      const wasRegistered = last.state().registrations > 0;
      await last.stop();
      if (!wasRegistered || opts.deregisterWaitMs === 0) return;
      log.info(
        { waitMs: opts.deregisterWaitMs },
        "left Traefik's rotation; waiting for Traefik to follow before draining",
      );
      await delay(opts.deregisterWaitMs);
    },
  };
}
