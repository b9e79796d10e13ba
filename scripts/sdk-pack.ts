/**
 * `npm run sdk:pack [-- --version <v>] [--out <dir>] [--dry-run]`: the SDK as an npm tarball, made with `npm pack`
 * (never `npm publish`). The package is staged in a temporary directory from what sdk/index.ts imports, followed
 * file by file (the SDK's sources and the generated OpenAPI types they name, no tests), with a package.json that
 * keeps the import path users know (`charter/sdk`) and declares exactly the packages those files import, at the
 * versions of the root package.json. Writes charter-<version>.tgz into --out (default .cache/release/);
 * `--dry-run` runs `npm pack --dry-run`, which lists the contents and writes nothing.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const ENTRY = "sdk/index.ts";

const { values: args } = parseArgs({
  options: { version: { type: "string" }, out: { type: "string" }, "dry-run": { type: "boolean", default: false } },
});

/** The files `entry` reaches through relative imports (`./x.js` → x.ts), and the packages they import. */
function reachable(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(root, entry)];
  for (let file = queue.pop(); file; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, "utf8");
    for (const [, specifier = ""] of source.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)) {
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"));
        if (!existsSync(target)) throw new Error(`${relative(root, file)} imports ${specifier}, not found as .ts`);
        queue.push(target);
      } else if (!specifier.startsWith("node:")) {
        packages.add(
          specifier.startsWith("@")
            ? specifier.split("/").slice(0, 2).join("/")
            : (specifier.split("/")[0] ?? specifier),
        );
      }
    }
  }
  return { files: [...files].map((file) => relative(root, file)).sort(), packages };
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  description?: string;
  engines?: Record<string, string>;
  dependencies: Record<string, string>;
};
const version = args.version ?? manifest.version;
const { files, packages } = reachable(ENTRY);
const outsideRoot = files.filter((file) => file.startsWith(".."));
if (outsideRoot.length > 0) throw new Error(`the SDK reaches outside the repository: ${outsideRoot.join(", ")}`);
const dependencies = Object.fromEntries(
  [...packages].sort().map((name) => {
    const range = manifest.dependencies[name];
    if (range === undefined) throw new Error(`the SDK imports ${name}, which package.json's dependencies lack`);
    return [name, range];
  }),
);

const stage = mkdtempSync(join(tmpdir(), "charter-sdk-pack-"));
try {
  for (const file of [...files, "sdk/README.md"]) {
    mkdirSync(dirname(join(stage, file)), { recursive: true });
    copyFileSync(join(root, file), join(stage, file));
  }
  writeFileSync(
    join(stage, "package.json"),
    `${JSON.stringify(
      {
        name: "charter",
        version,
        description: "Charter's typed TypeScript client of the users REST API (shipped as TypeScript source)",
        type: "module",
        exports: { "./sdk": `./${ENTRY}` },
        engines: manifest.engines,
        dependencies,
      },
      null,
      2,
    )}\n`,
  );
  const out = resolve(args.out ?? join(root, ".cache", "release"));
  if (!args["dry-run"]) mkdirSync(out, { recursive: true });
  const pack = spawnSync(
    "npm",
    ["pack", "--json", ...(args["dry-run"] ? ["--dry-run"] : ["--pack-destination", out])],
    { cwd: stage, encoding: "utf8" },
  );
  if (pack.status !== 0) {
    console.error(`npm pack failed (${pack.status}):\n${pack.stderr}${pack.stdout}`);
    process.exit(1);
  }
  const [packed] = JSON.parse(pack.stdout) as { filename: string; size: number; files: { path: string }[] }[];
  if (packed === undefined) throw new Error(`npm pack reported nothing:\n${pack.stdout}`);
  console.log(`${packed.files.map((f) => `  ${f.path}`).join("\n")}`);
  console.log(
    args["dry-run"]
      ? `dry run: ${packed.filename} would hold ${packed.files.length} files (${packed.size} bytes); nothing written`
      : `✔ ${join(out, packed.filename)}: ${packed.files.length} files, ${packed.size} bytes (npm pack; not published)`,
  );
} finally {
  rmSync(stage, { recursive: true, force: true });
}
