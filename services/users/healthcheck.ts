/** The users image's HEALTHCHECK: the gRPC health service on the configured port (platform/healthcheck.ts). */
import { checkGrpcHealth } from "../../platform/healthcheck.js";
import { loadUsersConfig } from "./users-config.js";

const config = loadUsersConfig();
await checkGrpcHealth(config.grpcPort, config.grpcTls);
