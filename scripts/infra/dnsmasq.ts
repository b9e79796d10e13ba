/**
 * A real DNS server for tests: Debian's dnsmasq (package dnsmasq-base, installed with apt-get when missing), on a free
 * loopback port, answering only the names it is given, each with all its addresses (several A records for one name,
 * as a cluster's DNS answers for a headless Service: one per ready pod). No upstream, no /etc/hosts.
 */

import { promises as dns } from "node:dns";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureBinary } from "./provision.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";

export const ensureDnsmasq = lazy(() => ensureBinary("dnsmasq", ["dnsmasq-base"]));

/** Starts dnsmasq answering `records` (name → IPv4 addresses); `url` is its `host:port`, a DNS server address. */
export async function startDnsServer(
  records: Readonly<Record<string, readonly string[]>>,
  opts: { readonly readyTimeoutMs?: number } = {},
): Promise<RunningServer> {
  const command = await ensureDnsmasq();
  const [first] = Object.keys(records);
  if (first === undefined) throw new Error("startDnsServer needs at least one name");
  return startServer({
    name: "dnsmasq",
    command,
    portCount: 1,
    args: ([port], dir) => {
      const hosts = join(dir, "hosts");
      const lines = Object.entries(records).flatMap(([name, addresses]) => addresses.map((ip) => `${ip} ${name}`));
      writeFileSync(hosts, `${lines.join("\n")}\n`);
      return [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        ...["--no-resolv", "--no-hosts", `--addn-hosts=${hosts}`],
        ...[`--listen-address=${HOST}`, "--bind-interfaces", `--port=${port}`],
        // It would drop to `nobody`, who cannot read the hosts file in the server's private temp dir.
        ...(process.getuid?.() === 0 ? ["--user=root", "--group=root"] : []),
        "--pid-file=",
        "--log-facility=-",
      ];
    },
    url: (port) => `${HOST}:${port}`,
    async isReady(port) {
      const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([`${HOST}:${port}`]);
      return (await resolver.resolve4(first)).length > 0;
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
  });
}
