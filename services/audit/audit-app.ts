/**
 * The audit service's composition: the history store (MongoDB or memory), the consumer group member on the user
 * events, the AuditService over gRPC (with health and reflection), and metrics. serve.ts runs it as a process;
 * the users process hosts it on the in-process bus when no Kafka broker is configured; tests run it on port 0.
 */
import type { Registry } from "prom-client";
import { AuditServiceService } from "../../generated/proto/charter/audit/v1/audit.js";
import type { EventBus } from "../../platform/events/bus.js";
import { type GrpcServiceBinding, startGrpcServer } from "../../platform/grpc-server.js";
import type { Logger } from "../../platform/logging.js";
import { createMetricsRegistry, rpcMetrics, serveMetrics } from "../../platform/metrics.js";
import { INSTANCE_VERSION, instanceAddresses } from "../../platform/registry/registry-config.js";
import { createServingRegistration } from "../../platform/registry/serving-registration.js";
import { watchStoreHealth } from "../../platform/store-health.js";
import { createMemoryHistoryStore } from "./adapters/memory-history-store.js";
import { createMongoHistoryStore } from "./adapters/mongo-history-store.js";
import { createAuditConsumer } from "./app/audit-consumer.js";
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

/** The audit service's parts, for a gRPC server of its own (startAudit) or of a host process (the users one). */
export interface AuditParts {
  readonly binding: GrpcServiceBinding;
  readonly reflect: string;
  readonly store: HistoryStore;
  /** Leaves the consumer group and closes the store. */
  stop(): Promise<void>;
}

/** The store, the consumer (started) and the gRPC binding, with metrics in `registry`. */
export async function createAuditParts(
  config: AuditConfig,
  logger: Logger,
  deps: { bus: EventBus; registry: Registry },
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
  });
  await consumer.start();
  return {
    binding: {
      definition: AuditServiceService,
      implementation: createAuditGrpcHandlers(store, logger, { onRpc }),
    },
    reflect: "charter/audit/v1/audit.proto",
    store,
    async stop() {
      await consumer.stop(); // leave the group first: its partitions go to the other members
      await store.close();
    },
  };
}

export async function startAudit(config: AuditConfig, logger: Logger, deps: { bus: EventBus }): Promise<RunningAudit> {
  const startedAt = new Date().toISOString();
  const registry = createMetricsRegistry("audit");
  const parts = await createAuditParts(config, logger, { bus: deps.bus, registry });
  const { store } = parts;
  const grpc = await startGrpcServer({
    host: config.host,
    port: config.grpcPort,
    services: [parts.binding],
    reflect: [parts.reflect],
    logger,
  });

  // Served before the first registration, whose value carries this address for Prometheus to find.
  const metrics = await serveMetrics(registry, config.host, config.metricsPort);
  const { address, metricsAddress } = instanceAddresses(config, grpc.port, metrics.port);
  // In cluster mode (ETCD_ENDPOINTS) the instance is registered as `audit` while its store answers.
  const registration = createServingRegistration({
    endpoints: config.etcdEndpoints,
    service: AUDIT_REGISTRY_NAME,
    instanceId: config.instanceId,
    value: { address, version: INSTANCE_VERSION, zone: config.zone, startedAt, metricsAddress },
    leaseTtlSeconds: config.leaseTtlSeconds,
    logger,
    dependency: "the history store",
    metrics: { registry, prefix: "audit" },
  });

  const health = await watchStoreHealth({
    ping: () => store.ping(),
    intervalMs: HEALTH_INTERVAL_MS,
    logger,
    name: "history store",
    onCheck(up) {
      const status = up ? "SERVING" : "NOT_SERVING";
      grpc.setStatus("", status);
      grpc.setStatus(AUDIT_SERVICE_NAME, status);
      registration.sync(up);
    },
  });

  logger.info(
    {
      grpcPort: grpc.port,
      metricsPort: metrics.port,
      store: config.mongoUrl ? "mongodb" : "memory",
      bus: config.kafkaBrokers.length > 0 ? "kafka" : "in-process",
      groupId: config.groupId,
      instanceId: config.instanceId,
      registry: registration.enabled ? "etcd" : "none",
      address,
    },
    "audit service ready",
  );
  return {
    grpcPort: grpc.port,
    metricsPort: metrics.port,
    store,
    async stop() {
      health.stop();
      // Deregister first and let clients drop this instance while it still answers; then stop serving.
      await registration.stop(config.drainMs);
      await grpc.stop(config.shutdownTimeoutMs);
      await parts.stop();
      await metrics.stop();
      logger.info("audit service stopped");
    },
  };
}
