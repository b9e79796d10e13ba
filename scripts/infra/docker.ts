/**
 * The Docker engine the images and the stack use. With DOCKER_HOST set, that engine is used as it is. Otherwise
 * Charter runs an engine of its own: Debian's docker.io (installed with apt-get when missing and running as root,
 * with its packaged daemons kept from starting), started by hand — there is no systemd to start it — with
 * `--bridge=none --iptables=false --ip6tables=false`, so it creates no network of its own (containers use host
 * networking), and its data root, exec root, socket, pidfile and log under ~/.cache/charter/docker/. Such an engine
 * is stopped only by its pidfile (stopDockerEngine), never by name.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { waitFor } from "../lib/processes.js";
import { ensureBinary } from "./provision.js";
import { cacheDir, lastLines, type Ran, runChecked, runCommand, timedStep } from "./steps.js";

/** Where Charter's own engine keeps everything: ~/.cache/charter/docker. */
export const dockerHome = (): string => join(cacheDir(), "docker");
const ownSocket = () => join(dockerHome(), "docker.sock");
const pidFile = () => join(dockerHome(), "docker.pid");

export interface DockerEngine {
  /** The docker client binary. */
  readonly docker: string;
  /** The engine's address, e.g. unix:///root/.cache/charter/docker/docker.sock (what DOCKER_HOST takes). */
  readonly host: string;
  /** Whether this call started the engine (and so whoever called it may stop it). */
  readonly startedHere: boolean;
  /** Runs the docker client against this engine. */
  run(args: readonly string[], options?: { cwd?: string }): Promise<Ran>;
  /** Like run, but throws with the client's last lines when it fails; returns stdout trimmed. */
  ok(args: readonly string[], options?: { cwd?: string }): Promise<string>;
}

/**
 * Debian's docker.io and containerd start their daemons from their maintainer scripts when an init system lets
 * them; a packaged dockerd would create the default bridge network. A policy-rc.d that refuses every start keeps
 * them down for the install and is removed afterwards (an existing one is left as it is).
 */
async function installWithoutStarting(binary: "docker" | "dockerd"): Promise<string> {
  const policy = "/usr/sbin/policy-rc.d";
  const ours = process.getuid?.() === 0 && !existsSync(policy);
  if (ours)
    writeFileSync(policy, "#!/bin/sh\n# no daemon starts during a Charter install\nexit 101\n", { mode: 0o755 });
  try {
    return await ensureBinary(binary, ["docker.io"]);
  } finally {
    if (ours) rmSync(policy, { force: true });
  }
}

/** How long one docker client call may take before it is killed and reported (an image build is the longest). */
const CLIENT_TIMEOUT_MS = 10 * 60_000;

const ensureClient = lazy(() => installWithoutStarting("docker"));
const ensureDockerd = lazy(() => installWithoutStarting("dockerd"));

function engine(docker: string, host: string, startedHere: boolean): DockerEngine {
  // The classic builder: Debian's engine has no buildx plugin for the client, and the Dockerfile needs nothing more.
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: "0" };
  // No client call waits for ever on an engine that stopped answering: the longest, an image build, takes minutes.
  const timeoutMs = CLIENT_TIMEOUT_MS;
  const run = (args: readonly string[], options: { cwd?: string } = {}) =>
    runCommand(docker, args, { ...options, env, timeoutMs });
  return {
    docker,
    host,
    startedHere,
    run,
    ok: async (args, options = {}) =>
      (await runChecked(`docker ${args.slice(0, 3).join(" ")}`, docker, args, { ...options, env, timeoutMs })).trim(),
  };
}

async function answers(docker: string, host: string): Promise<boolean> {
  const result = await runCommand(docker, ["--host", host, "version", "--format", "{{.Server.Version}}"], {
    timeoutMs: 30_000,
  });
  return result.code === 0 && result.stdout.trim() !== "";
}

/** The pid in Charter's engine pidfile, if that process is still a dockerd running on Charter's data root. */
function ownEnginePid(): number | undefined {
  if (!existsSync(pidFile())) return undefined;
  const pid = Number(readFileSync(pidFile(), "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.some((arg) => arg.endsWith("dockerd")) && cmdline.includes(join(dockerHome(), "data"))
      ? pid
      : undefined;
  } catch {
    return undefined; // no such process
  }
}

/** The engine that answers now — DOCKER_HOST's, or Charter's own if it runs — without starting or installing one. */
export async function runningDockerEngine(): Promise<DockerEngine | undefined> {
  const explicit = process.env.DOCKER_HOST?.trim();
  const host = explicit || `unix://${ownSocket()}`;
  if (!explicit && ownEnginePid() === undefined) return undefined;
  const docker = await ensureClient();
  return (await answers(docker, host)) ? engine(docker, host, false) : undefined;
}

/**
 * The engine to use: DOCKER_HOST's if set (it must answer), else Charter's own, started if it is not running.
 * Fails with what to install or run when neither can be had.
 */
export async function ensureDockerEngine(opts: { readyTimeoutMs?: number } = {}): Promise<DockerEngine> {
  const explicit = process.env.DOCKER_HOST?.trim();
  if (explicit) {
    const docker = await ensureClient();
    if (!(await answers(docker, explicit))) {
      throw new Error(`DOCKER_HOST=${explicit} does not answer: start that engine, or unset DOCKER_HOST`);
    }
    return engine(docker, explicit, false);
  }
  const host = `unix://${ownSocket()}`;
  const docker = await ensureClient();
  if (ownEnginePid() !== undefined && (await answers(docker, host))) return engine(docker, host, false);
  if (process.getuid?.() !== 0) {
    throw new Error(
      "no Docker engine: set DOCKER_HOST to one, or run as root with docker.io installed " +
        '("apt-get install -y docker.io") so that Charter starts its own',
    );
  }
  const dockerd = await timedStep("Docker engine (docker.io)", ensureDockerd);
  const home = dockerHome();
  mkdirSync(home, { recursive: true });
  const log = openSync(join(home, "dockerd.log"), "a");
  const args = [
    ...["--data-root", join(home, "data"), "--exec-root", join(home, "exec")],
    ...["-H", host, "--pidfile", pidFile()],
    // No network of its own: no docker0 bridge, no iptables rules; containers run with --network host.
    ...["--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver=overlay2"],
  ];
  const child = spawn(dockerd, args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  try {
    await timedStep(`dockerd on ${host}`, () =>
      waitFor(
        `dockerd on ${host}`,
        async () => (await answers(docker, host)) || undefined,
        opts.readyTimeoutMs ?? 60_000,
        250,
      ),
    );
  } catch (error) {
    if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    const output = readFileSync(join(home, "dockerd.log"), "utf8");
    throw new Error(`${error instanceof Error ? error.message : String(error)}:\n${lastLines(output)}`);
  }
  return engine(docker, host, true);
}

/** Stops Charter's own engine by its pidfile (SIGTERM, then waits for it); anything else is left alone. */
export async function stopDockerEngine(opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const pid = ownEnginePid();
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  await waitFor(
    `dockerd (pid ${pid}) to stop`,
    () => (ownEnginePid() === undefined ? true : undefined),
    opts.timeoutMs ?? 30_000,
    250,
  );
  return true;
}
