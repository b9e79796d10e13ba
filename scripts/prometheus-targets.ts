/**
 * Writes the Prometheus file_sd targets of the running services into deploy/prometheus/targets/ (or --out).
 *
 *   tsx scripts/prometheus-targets.ts --gateway 127.0.0.1:8080 --users 127.0.0.1:9464 --audit 127.0.0.1:9465
 *   tsx scripts/prometheus-targets.ts --gateway 127.0.0.1:8080 --etcd http://127.0.0.1:2379 [--once]
 *
 * Each list is comma-separated `host:port` of a /metrics endpoint: the gateway's GATEWAY_PORT, each users
 * instance's USERS_METRICS_PORT and each audit instance's AUDIT_METRICS_PORT. The lists may also come from
 * CHARTER_GATEWAY_METRICS_TARGETS, CHARTER_USERS_METRICS_TARGETS and CHARTER_AUDIT_METRICS_TARGETS (the flags
 * win). With --etcd (or ETCD_ENDPOINTS) and neither a users nor an audit list, those targets are the metrics
 * addresses the instances register in etcd, and the files follow the registry until Ctrl-C (--once writes them
 * once and exits).
 */
import { parseArgs } from "node:util";
import { createLogger } from "../platform/logging.js";
import { parseEndpoints } from "../platform/registry/etcd-client.js";
import { parseTargets, watchRegistryTargets, writeTargets } from "./lib/prometheus-targets.js";

const usage =
  "usage: tsx scripts/prometheus-targets.ts [--gateway host:port,...] [--users host:port,... --audit host:port,... | --etcd url,... [--once]] [--out dir]";

try {
  const { values } = parseArgs({
    options: {
      gateway: { type: "string" },
      users: { type: "string" },
      audit: { type: "string" },
      etcd: { type: "string" },
      once: { type: "boolean", default: false },
      out: { type: "string", default: "deploy/prometheus/targets" },
    },
  });
  const gateway = values.gateway ?? process.env.CHARTER_GATEWAY_METRICS_TARGETS ?? "";
  const users = values.users ?? process.env.CHARTER_USERS_METRICS_TARGETS ?? "";
  const audit = values.audit ?? process.env.CHARTER_AUDIT_METRICS_TARGETS ?? "";
  const gatewayTargets = parseTargets(
    gateway,
    values.gateway === undefined ? "CHARTER_GATEWAY_METRICS_TARGETS" : "--gateway",
  );
  const etcd = parseEndpoints(values.etcd ?? process.env.ETCD_ENDPOINTS ?? "");
  if (users === "" && audit === "" && etcd.length > 0) {
    const logger = createLogger("prometheus-targets", "warn");
    const watch = await watchRegistryTargets({
      endpoints: etcd,
      dir: values.out,
      gateway: gatewayTargets,
      logger,
      onWrite: (targets) =>
        console.log(
          `targets from etcd: users ${targets.users.join(", ") || "(none)"}; audit ${targets.audit.join(", ") || "(none)"}`,
        ),
    });
    if (values.once) {
      await watch.stop();
    } else {
      const stop = () => void watch.stop().then(() => process.exit(0));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    }
  } else {
    const targets = {
      gateway: gatewayTargets,
      users: parseTargets(users, values.users === undefined ? "CHARTER_USERS_METRICS_TARGETS" : "--users"),
      audit: parseTargets(audit, values.audit === undefined ? "CHARTER_AUDIT_METRICS_TARGETS" : "--audit"),
    };
    if (targets.gateway.length + targets.users.length + targets.audit.length === 0) {
      throw new Error(`no targets given\n${usage}`);
    }
    for (const path of await writeTargets(values.out, targets)) console.log(`wrote ${path}`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
