/** Network helpers shared by the entry points (the mocks) and the tooling that starts servers for tests. */
import type { Server as HttpServer } from "node:http";
import { type AddressInfo, createServer, type Server } from "node:net";

/** `count` distinct ports on `host` that were free a moment ago (listen on port 0, then close). */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, host, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Starts something on a port that was free a moment ago, for a server that must be given a port number rather than
 * 0: another process may take the port first, so a failure that `retryIf` accepts (any, by default) is tried again on
 * a new port, `attempts` times in all.
 */
export async function onFreePort<T>(
  start: (port: number) => Promise<T>,
  {
    attempts = 3,
    retryIf = () => true,
    host = "127.0.0.1",
  }: { attempts?: number; retryIf?: (error: Error) => boolean; host?: string } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const [port = 0] = await freePorts(1, host);
    try {
      return await start(port);
    } catch (error) {
      if (attempt >= attempts || !retryIf(error as Error)) throw error;
    }
  }
}

export interface ListeningHttp {
  readonly port: number;
  /** Closes the server and every connection it still holds. */
  stop(): Promise<void>;
}

/** Starts `server` on `host`:`port` (0 picks a free one); rejects when the port cannot be had. */
export async function listenHttp(server: HttpServer, port: number, host: string): Promise<ListeningHttp> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
