/**
 * The audit service's composition: the history store (MongoDB or memory), the consumer group member on the user
 * events and the AuditService over gRPC, handed to a service host (its own, with health, reflection, metrics and
 * registration; or the users process's, which hosts it on the in-process bus when no Kafka broker is configured).
 * serve.ts runs it as a process; tests run it on port 0.
 */
import type { Registry } from "prom-client";
import { AuditServiceService } from "../../generated/proto/charter/audit/v1/audit.js";
import { createGrpcAuthorizer } from "../../platform/auth/grpc-auth.js";
import { createTokenVerifier, type TokenVerifier } from "../../platform/auth/token-verifier.js";
import type { EventBus } from "../../platform/events/bus.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsRegistry, rpcMetrics } from "../../platform/metrics.js";
import {
  closeResources,
  createServiceHost,
  type GrpcListening,
  type Resource,
  type ServiceHost,
  type ServiceParts,
} from "../../platform/service-host.js";
import { createMemoryHistoryStore } from "./adapters/memory-history-store.js";
import { createMongoHistoryStore } from "./adapters/mongo-history-store.js";
import { createAuditConsumer } from "./app/audit-consumer.js";
import { createHistoryEraser } from "./app/history-eraser.js";
import type { AuditConfig } from "./audit-config.js";
import type { HistoryStore } from "./domain/history.js";
import { AUDIT_RPCS, createAuditGrpcHandlers } from "./transport/audit-grpc.js";

export const AUDIT_SERVICE_NAME = "charter.audit.v1.AuditService";
/** Its name in the registry: `/charter/services/audit/<instance id>`, dialled as `etcd:///audit`. */
export const AUDIT_REGISTRY_NAME = "audit";
const HEALTH_INTERVAL_MS = 2_000;

export interface RunningAudit {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly store: HistoryStore;
  stop(): Promise<void>;
}

/** The audit service's parts, for a host of its own (buildAudit) or another process's (the users one). */
export interface AuditParts extends ServiceParts {
  readonly store: HistoryStore;
}

/**
 * The store (open), the consumer (a worker: it joins the group when the host starts and leaves it first when the
 * host stops, so its partitions go to the other members) and the gRPC service, with metrics in `registry`. A host
 * that checks tokens for its own service passes its `verifier`, so the process keeps one key set.
 */
export async function createAuditParts(
  config: AuditConfig,
  logger: Logger,
  deps: { bus: EventBus; registry: Registry; verifier?: TokenVerifier },
): Promise<AuditParts> {
  const { registry } = deps;
  const store = config.mongoUrl
    ? await createMongoHistoryStore({ url: config.mongoUrl, connectTimeoutMs: config.mongoConnectTimeoutMs })
    : createMemoryHistoryStore();
  const onRpc = rpcMetrics(registry, "audit", AUDIT_RPCS);
  const consumer = createAuditConsumer({
    bus: deps.bus,
    store,
    groupId: config.groupId,
    clientId: config.instanceId,
    logger,
    metrics: registry,
    retryDelayMs: config.retryDelayMs,
    batchSize: config.batchSize,
  });
  const deadLetters = deps.bus.producer();
  const eraser = createHistoryEraser({
    store,
    deadLetters,
    logger,
    metrics: registry,
    sweepMs: config.erasureSweepMs,
  });
  return {
    services: [
      {
        definition: AuditServiceService,
        implementation: createAuditGrpcHandlers(
          store,
          eraser,
          logger,
          createGrpcAuthorizer(deps.verifier ?? createTokenVerifier(config.auth)),
          {
            onRpc,
          },
        ),
        proto: "charter/audit/v1/audit.proto",
      },
    ],
    workers: [
      { name: "audit consumer", start: () => consumer.start(), stop: () => consumer.stop() },
      {
        name: "erasure sweep",
        start: () => eraser.start(),
        stop: async () => {
          await eraser.stop();
          await deadLetters.close();
        },
      },
    ],
    resources: [{ name: "history store", close: () => store.close() }],
    healthNames: [AUDIT_SERVICE_NAME],
    store,
  };
}

/** The audit service on a host of its own; nothing bound or started until `host.listen()`. */
export async function buildAudit(
  config: AuditConfig,
  logger: Logger,
  deps: { bus: EventBus; resources?: readonly Resource[] },
): Promise<{ host: ServiceHost<GrpcListening>; store: HistoryStore }> {
  const registry = createMetricsRegistry("audit");
  let parts: AuditParts;
  try {
    parts = await createAuditParts(config, logger, { bus: deps.bus, registry });
  } catch (error) {
    await closeResources(deps.resources ?? [], logger);
    throw error;
  }
  const host = createServiceHost({
    name: AUDIT_REGISTRY_NAME,
    logger,
    metrics: registry,
    grpc: {
      host: config.host,
      port: config.grpcPort,
      metricsPort: config.metricsPort,
      services: parts.services,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      // In cluster mode (ETCD_ENDPOINTS) the instance is registered as `audit` while its store answers.
      registration: config,
      tls: config.grpcTls,
      health: {
        dependency: "history store",
        ping: () => parts.store.ping(),
        intervalMs: HEALTH_INTERVAL_MS,
        names: parts.healthNames,
      },
    },
    workers: parts.workers,
    resources: [...(deps.resources ?? []), ...parts.resources],
  });
  return { host, store: parts.store };
}

/** buildAudit, then listen: resolves once the service is ready (logged as "audit service ready"). */
export async function startAudit(
  config: AuditConfig,
  logger: Logger,
  deps: { bus: EventBus; resources?: readonly Resource[] },
): Promise<RunningAudit> {
  const { host, store } = await buildAudit(config, logger, deps);
  const listening = await host.listen();
  logger.info(
    {
      grpcPort: listening.grpcPort,
      metricsPort: listening.metricsPort,
      store: config.mongoUrl ? "mongodb" : "memory",
      bus: config.kafkaBrokers.length > 0 ? "kafka" : "in-process",
      groupId: config.groupId,
      instanceId: config.instanceId,
      registry: listening.registers ? "etcd" : "none",
      address: listening.address,
    },
    "audit service ready",
  );
  return {
    grpcPort: listening.grpcPort,
    metricsPort: listening.metricsPort,
    store,
    async stop() {
      await host.stop();
      logger.info("audit service stopped");
    },
  };
}
