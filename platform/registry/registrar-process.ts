/**
 * A process that only registers one instance and waits: the registry tests SIGKILL it to see its key expire.
 * argv: endpoints (comma-separated), service, instance id, address, lease TTL seconds. Prints REGISTERED.
 */
import { pino } from "pino";
import { parseEndpoints } from "./etcd-client.js";
import { createEtcdRegistrar } from "./etcd-registrar.js";

const [endpoints = "", service = "", instanceId = "", address = "", ttl = "2"] = process.argv.slice(2);
const registrar = createEtcdRegistrar({
  endpoints: parseEndpoints(endpoints),
  service,
  instanceId,
  value: { address, version: "test", zone: "local", startedAt: new Date().toISOString() },
  leaseTtlSeconds: Number(ttl),
  logger: pino({ level: "warn" }, process.stderr),
});
await registrar.start();
process.stdout.write("REGISTERED\n");
setInterval(() => {}, 60_000);
