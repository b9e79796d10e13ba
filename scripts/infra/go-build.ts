/**
 * Tools built once from the Go module proxy and cached (Traefik, Jaeger, helm, kubeconform, kube-apiserver and
 * kubectl): `go mod download -json <module>@<version>` fetches the module's source, which is copied to a writable
 * work dir, adjusted if the tool needs it (`prepare`: Kubernetes' go.mod points its staging modules at directories the
 * module zip does not hold) and built there with `go build -trimpath -ldflags "-s -w …" ./<package>…`. Not
 * `go install …@version`: Traefik's go.mod has replace directives, which `go install` refuses. A first build takes about 5 minutes on two cores and fills several GiB of
 * Go module and build caches; both are the work dir's and go with it, so the cache keeps only the binary,
 * in ~/.cache/charter/<name>-<version>/ (a new version is a new directory; delete an old one by hand).
 */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir, lastLines, publish, runChecked, runCommand, timedStep } from "./steps.js";

export interface GoTool {
  /** The tool's name in messages (Traefik). */
  readonly title: string;
  /** The binary's file name and the cache dir's prefix (traefik). */
  readonly name: string;
  readonly module: string;
  readonly version: string;
  /** The main package inside the module (./cmd/traefik). */
  readonly pkg: string;
  /** Linker flags beyond `-s -w` (the version stamped into the binary). */
  readonly ldflags: string;
  /** More main packages of the module built in the same `go build`, each into the binary named after it (kubectl). */
  readonly alsoBuild?: readonly string[];
  /** More environment for `go` (GOWORK=off). */
  readonly env?: Readonly<Record<string, string>>;
  /** Runs in the copied source before the build, with `go` in the build's environment. */
  readonly prepare?: (source: string, go: (args: readonly string[]) => Promise<string>) => Promise<void>;
}

/** Where the binary is cached: ~/.cache/charter/<name>-<version>/<name>. */
export const goToolPath = (tool: GoTool): string => join(cacheDir(), `${tool.name}-${tool.version}`, tool.name);

async function buildGoTool(tool: GoTool, binary: string): Promise<void> {
  const target = join(cacheDir(), `${tool.name}-${tool.version}`);
  const manual = `or put a ${tool.title} ${tool.version} binary (${tool.pkg}) at ${binary}`;
  const go = await runCommand("go", ["version"]);
  if (go.code !== 0) {
    throw new Error(
      `${tool.title} ${tool.version} is built from source with Go, and \`go\` was not found on PATH.\n` +
        `Fix: install Go 1.24 or newer (https://go.dev/dl/ or \`apt-get install golang-go\`), ${manual}.`,
    );
  }
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(join(cacheDir(), `${tool.name}-${tool.version}.tmp-`));
  // No `,direct` fallback: only the module proxy is asked. -modcacherw leaves the module cache writable, so it can
  // be deleted like any other directory.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPROXY: (process.env.GOPROXY || "https://proxy.golang.org").replace(/,direct$/, ""),
    GOMODCACHE: join(work, "go-mod"),
    GOCACHE: join(work, "go-build"),
    GOPATH: join(work, "gopath"),
    GOFLAGS: "-modcacherw -buildvcs=false",
    CGO_ENABLED: "0",
    ...tool.env,
  };
  const source = join(work, "src");
  const at = `${tool.module}@${tool.version}`;
  try {
    console.error(`provision: building ${tool.title} ${tool.version} once into ${target} with ${go.stdout.trim()}`);
    const download = await timedStep(`go mod download ${at}`, () =>
      runCommand("go", ["mod", "download", "-json", at], { cwd: work, env }),
    );
    const dir = download.code === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
    if (dir === undefined) {
      throw new Error(
        `go mod download ${at} failed: it needs the Go module proxy (GOPROXY) to answer; check the network or ` +
          `GOPROXY, then run again, ${manual}.\n${lastLines(download.stderr + download.stdout)}`,
      );
    }
    await timedStep("copy the module source to a writable dir", async () => {
      await cp(dir, source, { recursive: true });
      // A module cache filled without -modcacherw is read-only; the copy must be writable to be removed.
      await runCommand("chmod", ["-R", "u+w", source]);
    });
    if (tool.prepare) {
      const go = (args: readonly string[]) => runChecked(`go ${args.join(" ")}`, "go", args, { cwd: source, env });
      await timedStep(`prepare the ${tool.title} source`, () => tool.prepare?.(source, go) ?? Promise.resolve());
    }
    const pkgs = [tool.pkg, ...(tool.alsoBuild ?? [])];
    // With several packages, `-o` names a directory (trailing slash) and each binary is named after its package.
    const output = pkgs.length > 1 ? `${join(work, "out")}/` : join(work, "out", tool.name);
    const build = await timedStep(`go build ${pkgs.join(" ")} (about 5 minutes the first time)`, () =>
      runCommand("go", ["build", "-trimpath", "-ldflags", `-s -w ${tool.ldflags}`, "-o", output, ...pkgs], {
        cwd: source,
        env,
      }),
    );
    if (build.code !== 0) {
      throw new Error(
        `go build of ${tool.title} ${tool.version} failed. It needs Go 1.24 or newer, the module proxy for its ` +
          `dependencies and a few GiB free in ${cacheDir()}; fix what the output below says and run again, ${manual}.\n` +
          lastLines(build.stderr + build.stdout),
      );
    }
    await mkdir(join(work, "out"), { recursive: true });
    await writeFile(join(work, "out", "VERSION"), `${tool.version}\n`);
    // Another run may have installed it first: theirs is as good as ours.
    await timedStep(`install into ${target}`, () =>
      publish(join(work, "out"), target, (dir) => existsSync(join(dir, tool.name))),
    );
  } finally {
    await timedStep("remove the build dir and its Go caches", () =>
      rm(work, { recursive: true, force: true, maxRetries: 3 }),
    );
  }
  if (!existsSync(binary)) throw new Error(`the ${tool.title} build did not produce ${binary}`);
}

/** The cached binary of a Go-built tool, built on first use; the `alsoBuild` binaries sit beside it. */
export async function ensureGoTool(tool: GoTool): Promise<string> {
  const binary = goToolPath(tool);
  if (!existsSync(binary)) await buildGoTool(tool, binary);
  return binary;
}
