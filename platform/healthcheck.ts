/**
 * The check behind each image's HEALTHCHECK (deploy/docker/Dockerfile): a short process that asks the service in
 * its own container whether it serves, and exits 0 if it does, 1 if not — what Docker's health status counts.
 * The images have no shell and no curl: it runs on the image's Node, reading the port from the service's own
 * configuration, so it checks what the service was configured to listen on.
 */
import { grpcClientCredentials } from "./grpc-credentials.js";
import { createHealthProbe } from "./grpc-health-probe.js";
import type { MutualTls } from "./tls-config.js";

const DEADLINE_MS = 2_000;

function exitWith(healthy: boolean, detail: string): never {
  process.stdout.write(`${healthy ? "healthy" : "unhealthy"}: ${detail}\n`);
  process.exit(healthy ? 0 : 1);
}

/**
 * grpc.health.v1 Check of the whole server ("") on 127.0.0.1:port. With the server's mutual TLS (GRPC_TLS_*), the
 * check presents the server's own certificate, which must then also be good for client auth.
 */
export async function checkGrpcHealth(port: number, tls?: MutualTls): Promise<never> {
  const probe = createHealthProbe(`127.0.0.1:${port}`, {}, grpcClientCredentials(tls));
  const status = await probe.check("", DEADLINE_MS);
  probe.close();
  return exitWith(status === "SERVING", `grpc.health.v1 on 127.0.0.1:${port} is ${status}`);
}

/** GET http://127.0.0.1:port{path}: healthy on a 2xx. */
export async function checkHttpHealth(port: number, path: string): Promise<never> {
  const url = `http://127.0.0.1:${port}${path}`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DEADLINE_MS) });
    return exitWith(response.ok, `${url} answered ${response.status}`);
  } catch (error) {
    return exitWith(false, `${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
