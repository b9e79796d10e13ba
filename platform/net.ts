/** Network helpers shared by the entry points (the mocks) and the tooling that starts servers for tests. */
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
