/**
 * The host every service runs in, after go-kratos' App and Fastify's build/listen split. A service declares its
 * parts — gRPC services, the dependency its health follows and checks of its own, its metrics registry, background
 * workers, resources to close — and createServiceHost() wires them without binding a port or starting anything,
 * so a test can build a host and inspect it. listen() starts, in this order: the metrics endpoint, the workers
 * (in the order given), the gRPC server, the registration in etcd and the health loop. stop() undoes that in
 * reverse and then closes the resources (the last given first): each step bounded, a failing or hanging step
 * logged and collected while the later steps still run, the failures thrown together at the end. A listen() that
 * fails stops what it had started and closes the resources before it rejects.
 */
import type { Registry } from "prom-client";
import { createGrpcServer, type GrpcServer, type GrpcServiceBinding, type ServingStatus } from "./grpc-server.js";
import type { Logger } from "./logging.js";
import { createMetricsEndpoint } from "./metrics.js";
import { INSTANCE_VERSION, instanceAddresses, type RegistrationConfig } from "./registry/registry-config.js";
import { createServingRegistration } from "./registry/serving-registration.js";
import { watchStoreHealth } from "./store-health.js";
import type { MutualTls } from "./tls-config.js";

/** A gRPC service to serve, with its proto file (under contracts/proto, or an absolute path) for reflection. */
export interface HostedGrpcService extends GrpcServiceBinding {
  readonly proto: string;
}

/** Something that runs in the background while the service serves (an outbox relay, a consumer, a lease). */
export interface Worker {
  readonly name: string;
  /** Awaited when it returns a promise; so is stop(). */
  start(): unknown;
  stop(): unknown;
  /** How long its stop() may take by design (in-flight work's timeout): its step is bounded at this plus stepTimeoutMs. */
  readonly stopGraceMs?: number;
}

/** Something opened while the service was built (a store, a cache, a bus): closed after everything else. */
export interface Resource {
  readonly name: string;
  /** Awaited when it returns a promise. */
  close(): unknown;
}

/** A health name with a check of its own, set at every round of the health loop; it never takes the service down. */
export interface HealthCheck {
  readonly name: string;
  up(): boolean;
}

/** Parts a service hands to a host other than its own (a service embedded in another's process). */
export interface ServiceParts {
  readonly services: readonly HostedGrpcService[];
  readonly workers: readonly Worker[];
  readonly resources: readonly Resource[];
  /** The health names of its services. */
  readonly healthNames: readonly string[];
}

/**
 * What the instance's health follows: `ping` every `intervalMs` (see watchStoreHealth). While it answers, the
 * server ("") and `names` are SERVING and the instance is registered (cluster mode); while it does not, they are
 * NOT_SERVING and then the instance deregisters.
 */
export interface HealthGate {
  /** What is pinged, as the log lines name it. */
  readonly dependency: string;
  ping(): Promise<unknown>;
  readonly intervalMs: number;
  readonly names: readonly string[];
  readonly checks?: readonly HealthCheck[];
  /** In cluster mode, the name that is SERVING while the instance is registered in etcd. */
  readonly registryName?: string;
}

export interface GrpcHosting {
  /** Where the gRPC server and the metrics endpoint bind; the registered addresses derive from it. */
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly services: readonly HostedGrpcService[];
  /** How long in-flight calls may finish at stop before they are cancelled. */
  readonly shutdownTimeoutMs: number;
  readonly health: HealthGate;
  /** Registration in etcd while the health gate is SERVING (none without etcd endpoints), and the drain. */
  readonly registration: RegistrationConfig;
  /** Mutual TLS for the gRPC server (GRPC_TLS_*); plaintext when undefined. */
  readonly tls?: MutualTls | undefined;
}

export interface ServiceHostOptions {
  /** The name the instance registers under (`/charter/services/<name>/<instance id>`) and its metrics' prefix. */
  readonly name: string;
  readonly logger: Logger;
  readonly metrics?: Registry;
  readonly grpc?: GrpcHosting;
  readonly workers?: readonly Worker[];
  readonly resources?: readonly Resource[];
  /** The bound on each stop step, beyond its own budget (the drain, the in-flight calls' timeout). Default 10 s. */
  readonly stepTimeoutMs?: number;
}

export interface GrpcListening {
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** The addresses the instance registers (advertised host, bound ports). */
  readonly address: string;
  readonly metricsAddress: string;
  /** Whether the instance registers in etcd at all (etcd endpoints given). */
  readonly registers: boolean;
}

export interface ServiceHost<Listening> {
  readonly metrics: Registry | undefined;
  /** The gRPC services declared, by full name (health and reflection come on top); empty without gRPC. */
  readonly services: readonly string[];
  /** The health status last set for `name`; undefined when never set (or without gRPC). */
  health(name: string): ServingStatus | undefined;
  /** Starts everything, in order; once. */
  listen(): Promise<Listening>;
  /** Stops everything started and closes the resources, in reverse; idempotent. Works before listen() too. */
  stop(): Promise<void>;
}

const DEFAULT_STEP_TIMEOUT_MS = 10_000;

interface Step {
  readonly name: string;
  readonly timeoutMs: number;
  run(): unknown;
}

/** Runs `step`, failing it when it does not settle within its timeout. */
async function bounded(step: Step): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => step.run())(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${step.timeoutMs} ms`)), step.timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every step in turn, bounded; a failure is logged and collected and the next step still runs. */
async function runSteps(steps: readonly Step[], logger: Logger): Promise<Error[]> {
  const failures: Error[] = [];
  for (const step of steps) {
    try {
      await bounded(step);
    } catch (error) {
      logger.error({ err: error, step: step.name }, "a stop step failed; the next ones still run");
      failures.push(
        new Error(`${step.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }),
      );
    }
  }
  return failures;
}

const closing = (resource: Resource, timeoutMs: number): Step => ({
  name: resource.name,
  timeoutMs,
  run: () => resource.close(),
});

/**
 * Closes resources the last first, each bounded, logging failures; never throws. For a service whose own build
 * fails before it has a host to hand them to.
 */
export async function closeResources(
  resources: readonly Resource[],
  logger: Logger,
  stepTimeoutMs = DEFAULT_STEP_TIMEOUT_MS,
): Promise<void> {
  await runSteps(
    [...resources].reverse().map((resource) => closing(resource, stepTimeoutMs)),
    logger,
  );
}

/** The full name of a service definition's service, from its methods' paths (`/pkg.Service/Method`). */
const serviceName = (service: GrpcServiceBinding): string =>
  Object.values(service.definition)[0]?.path.split("/")[1] ?? "";

export function createServiceHost(
  options: ServiceHostOptions & { readonly metrics: Registry; readonly grpc: GrpcHosting },
): ServiceHost<GrpcListening>;
export function createServiceHost(options: ServiceHostOptions): ServiceHost<GrpcListening | undefined>;
export function createServiceHost(options: ServiceHostOptions): ServiceHost<GrpcListening | undefined> {
  const { logger, metrics } = options;
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const startedAt = new Date().toISOString();
  const hosting = options.grpc;
  if (hosting && !metrics) throw new Error(`${options.name}: a gRPC host needs a metrics registry`);
  const grpc = hosting
    ? createGrpcServer({
        services: hosting.services,
        reflect: hosting.services.map((s) => s.proto),
        logger,
        tls: hosting.tls,
      })
    : undefined;
  const endpoint = hosting && metrics ? createMetricsEndpoint(metrics) : undefined;
  // What stop() undoes, in the order it was started: the resources were opened before the host was built.
  const started: Step[] = (options.resources ?? []).map((resource) => closing(resource, stepTimeoutMs));
  const unwind = () => runSteps(started.splice(0).reverse(), logger);
  let listening: Promise<GrpcListening | undefined> | undefined;
  let stopping: Promise<void> | undefined;

  /** Registration and health over a bound gRPC server; both are stopped (in reverse) by stop(). */
  async function serve(
    server: GrpcServer,
    grpcOptions: GrpcHosting,
    registry: Registry,
    grpcPort: number,
    metricsPort: number,
  ): Promise<GrpcListening> {
    const { health, registration: config } = grpcOptions;
    const { address, metricsAddress } = instanceAddresses(
      { host: grpcOptions.host, advertiseAddr: config.advertiseAddr },
      grpcPort,
      metricsPort,
    );
    // Only while SERVING: a dependency that stops answering deregisters the instance (clients then stop sending
    // it calls it cannot serve); it registers again when the dependency is back. Its value carries the metrics
    // address (already served) for Prometheus to find.
    const registration = createServingRegistration({
      endpoints: config.etcdEndpoints,
      tls: config.etcdTls,
      service: options.name,
      instanceId: config.instanceId,
      value: { address, version: INSTANCE_VERSION, zone: config.zone, startedAt, metricsAddress },
      leaseTtlSeconds: config.leaseTtlSeconds,
      logger,
      dependency: `the ${health.dependency}`,
      metrics: { registry, prefix: options.name },
      onChange: () => {
        if (registration.enabled && health.registryName) {
          server.setStatus(health.registryName, registration.registered() ? "SERVING" : "NOT_SERVING");
        }
      },
    });
    // Deregisters first, then gives clients the drain to drop this instance while it still serves.
    started.push({
      name: "registration",
      timeoutMs: config.drainMs + stepTimeoutMs,
      run: () => registration.stop(config.drainMs),
    });
    const watch = await watchStoreHealth({
      ping: () => health.ping(),
      intervalMs: health.intervalMs,
      logger,
      name: health.dependency,
      onCheck(up) {
        const status = up ? "SERVING" : "NOT_SERVING";
        server.setStatus("", status);
        for (const name of health.names) server.setStatus(name, status);
        for (const check of health.checks ?? []) server.setStatus(check.name, check.up() ? "SERVING" : "NOT_SERVING");
        registration.sync(up);
      },
    });
    started.push({ name: "health loop", timeoutMs: stepTimeoutMs, run: () => watch.stop() });
    return { grpcPort, metricsPort, address, metricsAddress, registers: registration.enabled };
  }

  async function start(): Promise<GrpcListening | undefined> {
    let metricsPort: number | undefined;
    if (hosting && endpoint) {
      metricsPort = await endpoint.listen(hosting.host, hosting.metricsPort);
      started.push({ name: "metrics endpoint", timeoutMs: stepTimeoutMs, run: () => endpoint.stop() });
    }
    for (const worker of options.workers ?? []) {
      await worker.start();
      started.push({
        name: worker.name,
        timeoutMs: (worker.stopGraceMs ?? 0) + stepTimeoutMs,
        run: () => worker.stop(),
      });
    }
    if (!hosting || !grpc || !metrics || metricsPort === undefined) return undefined;
    const grpcPort = await grpc.listen(hosting.host, hosting.port);
    // Stops accepting calls; in-flight ones finish (up to the shutdown timeout) before the workers stop.
    started.push({
      name: "gRPC server",
      timeoutMs: hosting.shutdownTimeoutMs + stepTimeoutMs,
      run: () => grpc.stop(hosting.shutdownTimeoutMs),
    });
    return serve(grpc, hosting, metrics, grpcPort, metricsPort);
  }

  return {
    metrics,
    services: (hosting?.services ?? []).map(serviceName),
    health: (name) => grpc?.status(name),
    listen() {
      if (stopping) return Promise.reject(new Error(`${options.name}: the host was stopped`));
      if (listening) return Promise.reject(new Error(`${options.name}: listen() was called already`));
      listening = start().catch(async (error: unknown) => {
        await unwind();
        throw error;
      });
      return listening;
    },
    stop() {
      stopping ??= (async () => {
        await listening?.catch(() => undefined);
        const failures = await unwind();
        if (failures.length > 0) {
          throw new AggregateError(
            failures,
            `${options.name}: ${failures.length} stop step(s) failed: ${failures.map((f) => f.message).join("; ")}`,
          );
        }
      })();
      return stopping;
    },
  };
}
