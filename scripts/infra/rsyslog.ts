/**
 * The log shipper: Debian's rsyslog (`rsyslog` + `rsyslog-elasticsearch`) run in the foreground as a child process,
 * shipping the services' pino JSON lines and Traefik's JSON access log into OpenSearch, one index a day.
 *
 * Input: RFC 5424 over TCP on a free loopback port, as Docker's syslog log driver sends it for
 * `--log-driver syslog --log-opt syslog-address=tcp://127.0.0.1:<port> --log-opt syslog-format=rfc5424
 * --log-opt tag=<instance>`: `<PRI>1 TIMESTAMP HOST TAG PID TAG - <pino line>` ended by a newline (no octet count:
 * the driver frames only tcp+tls that way). And files tailed with imfile (Traefik's access log).
 * Pipeline: mmjsonparse (the whole message is the JSON object) → the document is the line's own fields plus
 * `instance` (the syslog app-name, Docker's tag), `host` and `@timestamp` (reception time, UTC); a line that is
 * not JSON is kept as `msg` with `parse_error` → omelasticsearch in bulk mode into `<prefix>YYYY.MM.DD`, the day
 * the line was received (UTC), through a disk-assisted queue retried forever, so an OpenSearch that is away for a
 * while loses nothing. Stopping the shipper while OpenSearch is away spools the queue to disk for the next start,
 * all but the one line the output is retrying (rsyslog#2710, seen with 8.2302). Documents OpenSearch refuses (a
 * mapping conflict) go to the error file in the temp dir.
 *
 * The daemon touches nothing of the system's syslog: its own config, work dir and pid file in the server's temp
 * dir, no /dev/log (imuxsock) or kernel log (imklog), and its own messages on its stdout.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureBinary } from "./provision.js";
import { HOST, type RunningServer, startServer } from "./start-server.js";
import { runCommand } from "./steps.js";

/** The index name prefix; each day's index is `<prefix>YYYY.MM.DD`. */
export const LOG_INDEX_PREFIX = "charter-logs-";

/** Where Debian's packaged rsyslogd writes its pid when the package starts it. */
const PACKAGED_PID_FILE = "/run/rsyslogd.pid";

/**
 * Debian's rsyslog package enables and starts the system's syslog daemon on install unless policy-rc.d forbids it.
 * The shipper runs its own, so a packaged one is stopped: through the init system when there is one, else by the
 * pid in its pid file, and only when that pid is the packaged rsyslogd (not a shipper of ours, which has `-f`).
 */
export async function stopPackagedRsyslog(): Promise<void> {
  const quiet = (command: string, args: string[]) => runCommand(command, args).catch(() => undefined);
  if (existsSync("/usr/bin/systemctl") || existsSync("/bin/systemctl")) {
    await quiet("systemctl", ["disable", "--now", "rsyslog.service", "syslog.socket"]);
  }
  let pid: number;
  try {
    pid = Number(readFileSync(PACKAGED_PID_FILE, "utf8").trim());
  } catch {
    return; // nothing was started
  }
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (args[0]?.endsWith("rsyslogd") && !args.includes("-f")) process.kill(pid, "SIGTERM");
  } catch {
    // it is gone already
  }
}

/** rsyslogd, installed with its Elasticsearch output module when missing (as root); no system daemon left running. */
export const ensureRsyslog = lazy(async (): Promise<string> => {
  const options = { aptArgs: ["--no-install-recommends"], afterInstall: stopPackagedRsyslog };
  const rsyslogd = await ensureBinary("rsyslogd", ["rsyslog", "rsyslog-elasticsearch"], options);
  // The daemon may come from an earlier install without the output module.
  const modules = ["/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"];
  if (!modules.some((dir) => existsSync(join(dir, "omelasticsearch.so")))) {
    if (process.getuid?.() !== 0) {
      throw new Error(`rsyslog's omelasticsearch module is missing: apt-get install -y rsyslog-elasticsearch`);
    }
    await installOutputModule();
  }
  return rsyslogd;
});

/** Installs rsyslog-elasticsearch alone (rsyslogd is there, its output module is not). */
async function installOutputModule(): Promise<void> {
  const result = await runCommand(
    "apt-get",
    ["-q", "install", "-y", "--no-install-recommends", "rsyslog-elasticsearch"],
    {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    },
  );
  if (result.code !== 0) throw new Error(`apt-get install rsyslog-elasticsearch failed:\n${result.stderr}`);
  await stopPackagedRsyslog();
}

/** A RainerScript string constant: double-quoted, backslash and quote escaped; control characters refused. */
export function rainerString(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new Error(`not allowed in an rsyslog config value: ${JSON.stringify(value)}`);
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export interface ShippedFile {
  /** The file to tail (read from its start, then followed with inotify). */
  readonly path: string;
  /** The syslog tag of its lines, indexed as `instance`. */
  readonly tag: string;
  /** The `service` field of lines that have none (default: the tag), e.g. "traefik". */
  readonly service?: string;
}

export interface LogShipperOptions {
  /** OpenSearch's REST endpoint, http://127.0.0.1:<port>. */
  readonly opensearchUrl: string;
  /** Index name prefix (default `charter-logs-`): lowercase letters, digits, `-`, `_`, `.`. */
  readonly indexPrefix?: string;
  /** Files to tail with imfile, JSON a line (Traefik's access log). */
  readonly files?: readonly ShippedFile[];
  /** Seconds between retries while OpenSearch is unreachable (default 1). */
  readonly retryIntervalSeconds?: number;
  readonly readyTimeoutMs?: number;
}

export interface RunningLogShipper extends RunningServer {
  /** What Docker's `--log-opt syslog-address=` takes: tcp://127.0.0.1:<port>. */
  readonly syslogAddress: string;
  /** Where OpenSearch's refusals of single documents are written (JSON, one object a bulk request). */
  readonly errorFile: string;
}

/** The rsyslog configuration of the shipper (see the file comment); every value from outside is escaped. */
export function rsyslogConfig(
  opts: LogShipperOptions & { port: number; workDirectory: string; errorFile: string },
): string {
  const prefix = opts.indexPrefix ?? LOG_INDEX_PREFIX;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) throw new Error(`not an index name prefix: ${JSON.stringify(prefix)}`);
  const server = new URL(opts.opensearchUrl);
  if (server.protocol !== "http:" && server.protocol !== "https:") {
    throw new Error(`opensearchUrl must be http(s)://host:port, got ${opts.opensearchUrl}`);
  }
  const s = rainerString;
  const day = (format: string) => `property(name="timegenerated" dateFormat="${format}" date.inUTC="on")`;
  const files = opts.files ?? [];
  for (const file of files) {
    // imfile expands a path like a shell glob: a backslash or a wildcard would name another file, or none.
    if (/[\\*?[]/.test(file.path)) throw new Error(`a tailed file's path may not contain \\ * ? [: ${file.path}`);
  }
  const fileInputs = files.map(
    (file) =>
      `input(type="imfile" file=${s(file.path)} tag=${s(file.tag)} addMetadata="on" ruleset="charter_file" ` +
      `readMode="0" freshStartTail="off" reopenOnTruncate="on")`,
  );
  const fileServices = files.map(
    (file) => `  if $!metadata!filename == ${s(file.path)} then { set $.service = ${s(file.service ?? file.tag)}; }`,
  );
  return `# The log shipper's rsyslog configuration (scripts/infra/rsyslog.ts); nothing of the system's syslog.
global(workDirectory=${s(opts.workDirectory)} net.enableDNS="off" maxMessageSize="256k")
module(load="imtcp")
${files.length > 0 ? 'module(load="imfile" mode="inotify")' : ""}
module(load="mmjsonparse")
module(load="omelasticsearch")

template(name="charter_index" type="list") {
  constant(value=${s(prefix)})
  ${day("year")}
  constant(value=".")
  ${day("month")}
  constant(value=".")
  ${day("day")}
}
template(name="charter_received" type="list") { property(name="timegenerated" dateFormat="rfc3339" date.inUTC="on") }
template(name="charter_document" type="list") { property(name="$!all-json") }

# The document (pino's fields, instance, host, @timestamp) into the day's index, queued on disk when OpenSearch is
# away and retried forever.
ruleset(name="charter_ship") {
  action(type="omelasticsearch" server=${s(server.origin)} esVersion.major="8" bulkmode="on"
    searchIndex="charter_index" dynSearchIndex="on" template="charter_document"
    errorFile=${s(opts.errorFile)}
    action.resumeRetryCount="-1" action.resumeInterval="${opts.retryIntervalSeconds ?? 1}" action.resumeIntervalMax="10"
    queue.type="LinkedList" queue.filename="charter_es" queue.saveOnShutdown="on"
    queue.size="100000" queue.dequeueBatchSize="500" queue.timeoutEnqueue="0")
}

# Docker's syslog driver: the message is one pino line; the app-name is the container's tag.
ruleset(name="charter") {
  action(type="mmjsonparse" cookie="")
  if $parsesuccess != "OK" then { set $!parse_error = "not JSON"; }
  set $!instance = $app-name;
  set $!host = $hostname;
  set $!@timestamp = exec_template("charter_received");
  call charter_ship
}

# Tailed files (Traefik's access log): the line is the JSON object; service from the file, instance its tag.
ruleset(name="charter_file") {
  action(type="mmjsonparse" cookie="")
  if $parsesuccess != "OK" then { set $!parse_error = "not JSON"; }
${fileServices.join("\n")}
  if $!service == "" then { set $!service = $.service; }
  set $!instance = $programname;
  set $!host = $hostname;
  set $!@timestamp = exec_template("charter_received");
  unset $!metadata;
  call charter_ship
}

input(type="imtcp" port="${opts.port}" address="${HOST}" ruleset="charter")
${fileInputs.join("\n")}

# rsyslogd's own messages (errors, OpenSearch unreachable): on its stdout, for the server's output().
action(type="omfile" file="/dev/stdout")
`;
}

/** True once the port accepts a TCP connection. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => done(true));
  });
}

/**
 * rsyslogd in the foreground (`-n`) with its config, work dir and pid file in its own temp dir, listening for
 * RFC 5424 over TCP on a free loopback port, shipping to `opensearchUrl`. Ready once the port accepts. restart()
 * keeps the work dir, so lines spooled to disk at the stop are sent after it (see the file comment).
 */
export async function startLogShipper(opts: LogShipperOptions): Promise<RunningLogShipper> {
  const rsyslogd = await ensureRsyslog();
  let errorFile = "";
  const server = await startServer({
    name: "rsyslog",
    command: rsyslogd,
    portCount: 1,
    args: ([port], dir) => {
      const conf = join(dir, "rsyslog.conf");
      errorFile = join(dir, "opensearch-errors.json");
      writeFileSync(conf, rsyslogConfig({ ...opts, port: port ?? 0, workDirectory: dir, errorFile }));
      return ["-n", "-f", conf, "-i", join(dir, "rsyslogd.pid")];
    },
    url: (port) => `tcp://${HOST}:${port}`,
    isReady: accepts,
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
  });
  return { ...server, syslogAddress: server.url, errorFile };
}
