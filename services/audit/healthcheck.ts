/** The audit image's HEALTHCHECK: the gRPC health service on the configured port (platform/healthcheck.ts). */
import { checkGrpcHealth } from "../../platform/healthcheck.js";
import { loadAuditConfig } from "./audit-config.js";

const config = loadAuditConfig();
await checkGrpcHealth(config.grpcPort, config.grpcTls);
