/**
 * Writes the Prometheus file_sd targets of the running services into deploy/prometheus/targets/ (or --out).
 *
 *   tsx scripts/prometheus-targets.ts --gateway 127.0.0.1:8080 --users 127.0.0.1:9464,127.0.0.1:9465
 *
 * Each list is comma-separated `host:port` of a /metrics endpoint: the gateway's GATEWAY_PORT, and each users
 * instance's USERS_METRICS_PORT. The lists may also come from CHARTER_GATEWAY_METRICS_TARGETS and
 * CHARTER_USERS_METRICS_TARGETS (the flags win). The etcd registrations of users instances carry their gRPC
 * address but not their metrics port yet, so with ETCD_ENDPOINTS set the users targets must still be given.
 */
import { parseArgs } from "node:util";
import { parseTargets, writeTargets } from "./lib/prometheus-targets.js";

const usage = "usage: tsx scripts/prometheus-targets.ts [--gateway host:port,...] [--users host:port,...] [--out dir]";

try {
  const { values } = parseArgs({
    options: {
      gateway: { type: "string" },
      users: { type: "string" },
      out: { type: "string", default: "deploy/prometheus/targets" },
    },
  });
  const gateway = values.gateway ?? process.env.CHARTER_GATEWAY_METRICS_TARGETS ?? "";
  const users = values.users ?? process.env.CHARTER_USERS_METRICS_TARGETS ?? "";
  const targets = {
    gateway: parseTargets(gateway, values.gateway === undefined ? "CHARTER_GATEWAY_METRICS_TARGETS" : "--gateway"),
    users: parseTargets(users, values.users === undefined ? "CHARTER_USERS_METRICS_TARGETS" : "--users"),
  };
  if (targets.gateway.length + targets.users.length === 0) {
    const registry = process.env.ETCD_ENDPOINTS
      ? " (the etcd registrations do not carry the users metrics port yet, so ETCD_ENDPOINTS alone is not enough)"
      : "";
    throw new Error(`no targets given${registry}\n${usage}`);
  }
  for (const path of await writeTargets(values.out, targets)) console.log(`wrote ${path}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
