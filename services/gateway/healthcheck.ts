/** The gateway image's HEALTHCHECK: /readyz on the configured port (platform/healthcheck.ts). */
import { checkHttpHealth } from "../../platform/healthcheck.js";
import { loadGatewayConfig } from "./gateway-config.js";

await checkHttpHealth(loadGatewayConfig().port, "/readyz");
