/**
 * The development CA and certificates of a secured cluster (`npm run start:cluster`, the security tests), made with
 * Debian's openssl once and kept in ${XDG_CACHE_HOME:-~/.cache}/charter/dev-pki-<version>/: `ca.pem` (the CA), a
 * server certificate per component (`<name>.pem` + `<name>-key.pem`: users, audit, etcd, redis, kafka; SANs
 * 127.0.0.1, localhost and the component's name, which is the authority a client of `etcd:///users` checks) and a client certificate per calling service (`<name>-client.pem` +
 * `<name>-client-key.pem`: gateway, users, audit, functions, traefik, operator). Keys are EC P-256 (PKCS#8); certificates last ten years. The
 * CA's key stays in the directory: these are for loopback development only, never for anything else.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureBinary } from "./provision.js";
import { cacheDir, publish, runChecked, timedStep } from "./steps.js";

/** Bump to make every machine create its certificates afresh (e.g. after a change of names or extensions). */
const PKI_VERSION = 4;
const MARKER = ".complete";
const DAYS = "3650";

export const SERVER_NAMES = ["users", "audit", "etcd", "redis", "kafka"] as const;
/**
 * The calling services (and the functions, which call the audit service), plus Traefik (its etcd provider reads the routes) and `operator`: the tools of a run
 * (`npm run stack`'s own etcd writes, its Prometheus target watcher, the tests), never a service.
 */
export const CLIENT_NAMES = ["gateway", "users", "audit", "functions", "traefik", "operator"] as const;

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface DevCerts {
  readonly dir: string;
  /** The CA certificate every server and client certificate chains to. */
  readonly ca: string;
  readonly server: Readonly<Record<(typeof SERVER_NAMES)[number], KeyPair>>;
  readonly client: Readonly<Record<(typeof CLIENT_NAMES)[number], KeyPair>>;
}

function paths(dir: string): DevCerts {
  const pair = (name: string): KeyPair => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) });
  return {
    dir,
    ca: join(dir, "ca.pem"),
    server: Object.fromEntries(SERVER_NAMES.map((name) => [name, pair(name)])) as DevCerts["server"],
    client: Object.fromEntries(CLIENT_NAMES.map((name) => [name, pair(`${name}-client`)])) as DevCerts["client"],
  };
}

async function create(openssl: string, work: string): Promise<void> {
  const ssl = (label: string, args: string[]) => runChecked(`openssl ${label}`, openssl, args, { cwd: work });
  const key = (file: string) =>
    ssl(`genpkey ${file}`, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
  await key("ca-key.pem");
  await ssl("req (CA)", [
    ...[
      "req",
      "-x509",
      "-new",
      "-key",
      "ca-key.pem",
      "-out",
      "ca.pem",
      "-days",
      DAYS,
      "-subj",
      "/CN=Charter development CA",
    ],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  // Server certificates may also act as clients (etcd's members dial each other and their own gateway with theirs).
  const issue = async (file: string, cn: string, extensions: string) => {
    await key(`${file}-key.pem`);
    await ssl(`req ${file}`, ["req", "-new", "-key", `${file}-key.pem`, "-out", `${file}.csr`, "-subj", `/CN=${cn}`]);
    await writeFile(join(work, `${file}.ext`), extensions);
    await ssl(`x509 ${file}`, [
      ...["x509", "-req", "-in", `${file}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial"],
      ...["-out", `${file}.pem`, "-days", DAYS, "-extfile", `${file}.ext`],
    ]);
    await rm(join(work, `${file}.csr`));
    await rm(join(work, `${file}.ext`));
  };
  const common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  for (const name of SERVER_NAMES) {
    await issue(
      name,
      `charter-${name}`,
      `${common}extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${name}\n`,
    );
  }
  for (const name of CLIENT_NAMES) {
    await issue(`${name}-client`, `charter-${name}`, `${common}extendedKeyUsage=clientAuth\n`);
  }
  for (const file of [
    "ca-key.pem",
    ...[...SERVER_NAMES, ...CLIENT_NAMES.map((n) => `${n}-client`)].map((n) => `${n}-key.pem`),
  ]) {
    await chmod(join(work, file), 0o600);
  }
}

/** The development CA and certificates, created on first use (about a second) and reused after. */
export const ensureDevCerts = lazy(async (): Promise<DevCerts> => {
  const dir = join(cacheDir(), `dev-pki-${PKI_VERSION}`);
  const isComplete = (target: string) => existsSync(join(target, MARKER));
  if (isComplete(dir)) return paths(dir);
  const openssl = await ensureBinary("openssl", ["openssl"]);
  await mkdir(cacheDir(), { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
  try {
    await timedStep("development CA and certificates (openssl)", () => create(openssl, work));
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  await writeFile(join(work, MARKER), `${new Date().toISOString()}\n`);
  await publish(work, dir, isComplete);
  return paths(dir);
});
