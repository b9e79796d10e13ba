/**
 * `npm run images`: builds the users, audit and gateway images (and one for each service made by `npm run new:service`) from deploy/docker/Dockerfile on a base that exists
 * in the engine (builds never pull), tags each with the version (package.json) and the git revision, and prunes
 * what older builds left. `-- --base bookworm` builds on the debootstrap base, `-- --base <image>` on any image
 * with Node 20 (e.g. node:20-bookworm-slim, loaded with `docker load`).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { entityServiceNames } from "../../platform/service-names.js";
import type { DockerEngine } from "../infra/docker.js";
import { runChecked, runCommand, timedStep } from "../infra/steps.js";
import { type BaseKind, baseImageName, ensureBaseImage } from "./base-image.js";

export const SERVICES = ["users", "audit", "gateway"] as const;
export type Service = (typeof SERVICES)[number];

const root = fileURLToPath(new URL("../..", import.meta.url));

/** What `npm run images` builds: the three, and each service made by `npm run new:service` (found by its contract). */
export function imageServices(): string[] {
  return [...SERVICES, ...entityServiceNames()];
}
/** Revisions of each image kept by the pruning after a build (older tags are removed). */
const KEEP_REVISIONS = 3;

export interface BuiltImage {
  readonly service: string;
  /** charter/<service>:<version>-<revision>: what the stack runs. */
  readonly ref: string;
  readonly tags: readonly string[];
  readonly id: string;
  readonly sizeBytes: number;
}

export interface BuildOptions {
  /** `scratch` (default), `bookworm`, or the name of an image in the engine. */
  readonly base?: string;
  readonly services?: readonly string[];
  /** Overrides package.json's version (the stack's rolling update builds a next version). */
  readonly version?: string;
  /** The images' repository prefix: `charter` (charter/<service>), or a throwaway one for a release's dry run. */
  readonly repository?: string;
}

async function git(args: string[]): Promise<string> {
  const result = await runCommand("git", args, { cwd: root });
  return result.code === 0 ? result.stdout.trim() : "";
}

/** The short revision, with `-dirty` when the tree has changes; the commit time for SOURCE_DATE_EPOCH. */
async function revision(): Promise<{ revision: string; epoch: string }> {
  const short = (await git(["rev-parse", "--short=12", "HEAD"])) || "unknown";
  const dirty = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";
  return { revision: dirty ? `${short}-dirty` : short, epoch: (await git(["log", "-1", "--format=%ct"])) || "0" };
}

/** The npm packages the services may run (package.json's dependencies, with theirs) and esbuild: node_modules/… */
function runtimePackages(): string[] {
  const manifest = (dir: string) =>
    JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; ; dir = dirname(dir)) {
      const candidate = join(dir, "node_modules", name);
      if (existsSync(join(candidate, "package.json"))) return candidate;
      if (dir === root || dir === dirname(dir)) return undefined;
    }
  };
  const found = new Set<string>();
  const queue: [string, string][] = [...Object.keys(manifest(root).dependencies ?? {}), "esbuild"].map((name) => [
    name,
    root,
  ]);
  for (let next = queue.pop(); next; next = queue.pop()) {
    const dir = resolve(...next);
    if (dir === undefined || found.has(dir)) continue; // an optional or peer dependency that is not installed
    found.add(dir);
    const { dependencies, optionalDependencies, peerDependencies } = manifest(dir);
    for (const name of Object.keys({ ...dependencies, ...optionalDependencies, ...peerDependencies }))
      queue.push([name, dir]);
  }
  // A nested package comes with its parent.
  const sorted = [...found].map((dir) => relative(root, dir)).sort();
  return sorted.filter((dir, i) => !sorted.slice(0, i).some((parent) => dir.startsWith(`${parent}/`)));
}

/**
 * The build context, staged in node_modules/.cache/charter-image-context: the sources as hard links (copies across
 * filesystems), the Dockerfile, the .dockerignore, and the runtime packages as one reproducible archive,
 * node_modules.tar (sorted, mtime 0, numeric owners), which the build stage ADDs. The classic builder extracts its
 * whole context on every build and checksums it; ~20,000 small files of node_modules made that about 15 s a build
 * here, one archive takes well under a second, and the same packages give the same archive, so a cached layer.
 */
async function stageContext(): Promise<string> {
  const context = join(root, "node_modules", ".cache", "charter-image-context");
  await rm(context, { recursive: true, force: true });
  await mkdir(context, { recursive: true });
  const sources = [
    ...["package.json", "package-lock.json", ".dockerignore", "deploy/docker/Dockerfile", "contracts", "generated"],
    ...["platform", "services", "scripts/images/bundle.mjs"],
  ];
  const stage = (flags: string) =>
    runChecked("staging the build context", "cp", [flags, "--parents", "--target-directory", context, ...sources], {
      cwd: root,
    });
  await stage("-al").catch(() => stage("-a"));
  await runChecked(
    "packing the runtime packages",
    "tar",
    [
      ...["--create", "--file", join(context, "node_modules.tar"), "--sort=name", "--mtime=@0"],
      ...["--owner=0", "--group=0", "--numeric-owner", "--exclude=*.d.ts", "--exclude=*.map", "--exclude=.bin"],
      ...runtimePackages(),
    ],
    { cwd: root },
  );
  return context;
}

export async function resolveBase(engine: DockerEngine, base = "scratch"): Promise<string> {
  if (base === "scratch" || base === "bookworm") return ensureBaseImage(engine, base as BaseKind);
  if ((await engine.run(["image", "inspect", base, "--format", "{{.Id}}"])).code !== 0) {
    throw new Error(
      `base image ${base} is not in this Docker engine, and builds never pull (--pull=false): load it first ` +
        `(docker load), or use --base scratch (made here: ${baseImageName("scratch")})`,
    );
  }
  return base;
}

/** `docker image ls` rows (reference or id, then creation time), newest first. */
async function newestFirst(engine: DockerEngine, args: readonly string[], format: string): Promise<string[]> {
  const listed = await engine.ok(["image", "ls", ...args, "--format", `${format}\t{{.CreatedAt}}`]);
  return listed
    .split("\n")
    .filter((line) => line.includes("\t"))
    .map((line) => line.split("\t") as [string, string])
    .sort((a, b) => b[1].localeCompare(a[1]))
    .map(([ref]) => ref);
}

/**
 * Removes tags of the image (charter/<service>) older than the newest KEEP_REVISIONS, the project's dangling images,
 * and the build stages (kept untagged by the builder as its cache, one per revision, about 300 MB each) but the
 * newest KEEP_REVISIONS, so a rebuild of a recent revision stays cached.
 */
async function prune(engine: DockerEngine, image: string, keep: readonly string[]): Promise<void> {
  const refs = (await newestFirst(engine, [image], "{{.Repository}}:{{.Tag}}")).filter((ref) => !keep.includes(ref));
  const stale = refs.slice(KEEP_REVISIONS * 2);
  if (stale.length > 0) await engine.run(["image", "rm", ...stale]);
  await engine.run([
    ...["image", "prune", "--force"],
    ...["--filter", "label=dev.charter.project=charter", "--filter", "label!=dev.charter.stage=build"],
  ]);
  const stages = await newestFirst(engine, ["--filter", "label=dev.charter.stage=build"], "{{.ID}}");
  const staleStages = [...new Set(stages)].slice(KEEP_REVISIONS);
  if (staleStages.length > 0) await engine.run(["image", "rm", ...staleStages]);
}

export async function buildImages(engine: DockerEngine, opts: BuildOptions = {}): Promise<BuiltImage[]> {
  if (!existsSync(join(root, "node_modules", "esbuild"))) throw new Error("node_modules is missing: run npm ci first");
  const base = await resolveBase(engine, opts.base);
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
  const version = opts.version ?? manifest.version;
  const { revision: rev, epoch } = await revision();
  const context = await timedStep("image build context (runtime packages only)", stageContext);
  const built: BuiltImage[] = [];
  for (const service of opts.services ?? imageServices()) {
    const image = `${opts.repository ?? "charter"}/${service}`;
    const ref = `${image}:${version}-${rev}`;
    const tags = [`${image}:${version}`, ref];
    await timedStep(`image ${image} ${version} (${rev}) on ${base}`, () =>
      engine.ok(
        [
          ...["build", "--network", "host", "--pull=false", "--quiet", "-f", join(context, "deploy/docker/Dockerfile")],
          ...["--build-arg", `BASE_IMAGE=${base}`, "--build-arg", `SERVICE=${service}`],
          ...["--build-arg", `VERSION=${version}`, "--build-arg", `REVISION=${rev}`],
          ...["--build-arg", `SOURCE_DATE_EPOCH=${epoch}`],
          ...tags.flatMap((tag) => ["--tag", tag]),
          context,
        ],
        { cwd: root },
      ),
    );
    const [id = "", size = "0"] = (await engine.ok(["image", "inspect", ref, "--format", "{{.Id}} {{.Size}}"])).split(
      " ",
    );
    built.push({ service, ref, tags, id, sizeBytes: Number(size) });
    await prune(engine, image, tags);
  }
  return built;
}
