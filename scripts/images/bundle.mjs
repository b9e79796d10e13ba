// The build stage of deploy/docker/Dockerfile: bundles each service (users, audit, gateway and those made by
// `npm run new:service`; SERVICES=users,gateway for fewer) into <out>/<service>/app, one build stage for all three images — its entry point and its HEALTHCHECK as ES modules (esbuild), the contracts it reads at run time, a package.json
// with the version, and only the npm packages those bundles import, with what they depend on, copied from the
// build context's node_modules. No tsx, no dev dependencies: what the bundles do not import is not there.
//
// npm packages stay outside the bundles (packages: "external"): OpenTelemetry instruments gRPC, MongoDB, Redis and
// GraphQL by hooking their import by name, which a bundled copy would escape; and several read their own files
// (Swagger UI's assets, GraphiQL's, the health proto) next to themselves.
//
// Files read at run time are found from import.meta.url (platform/grpc-server.ts → ../contracts/proto/, …): each
// source file's import.meta.url is rewritten to the URL it would have in the source tree under /app, so those
// relative paths resolve inside the image as they do in the repository.
//
// Every file gets the mtime SOURCE_DATE_EPOCH (default 0), so the same sources give the same layer.

import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { build } from "esbuild";

const root = process.cwd();
// users, audit and gateway, and every service made by `npm run new:service`, found as the gateway finds it: by its
// contract contracts/openapi/<name>.v1.yaml (its entry point and health check in services/<name>/).
const entityServices = readdirSync(join(root, "contracts/openapi"))
  .map((file) => /^([a-z][a-z0-9]*)\.v1\.yaml$/.exec(file)?.[1])
  .filter((name) => name !== undefined && name !== "users")
  .sort();
const SERVICES = ["users", "audit", "gateway", ...entityServices];
const services = (process.env.SERVICES ?? SERVICES.join(",")).split(",").map((name) => name.trim());
const unknown = services.filter((name) => !SERVICES.includes(name));
if (unknown.length > 0 || services.length === 0) {
  console.error(`SERVICES must name some of ${SERVICES.join(", ")}, got "${process.env.SERVICES}"`);
  process.exit(2);
}
const out = process.argv[2] ?? "/out";
rmSync(out, { recursive: true, force: true });

async function bundle(service) {
  const app = join(out, service, "app");
  // Packages whose files a source reads through require.resolve("<package>/…") rather than importing them.
  const resolvedAtRunTime = new Set();
  const importMetaUrl = {
    name: "import-meta-url-as-in-the-source-tree",
    setup(plugin) {
      plugin.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        for (const [, specifier] of source.matchAll(/require\.resolve\("([^"]+)"\)/g)) resolvedAtRunTime.add(specifier);
        if (!source.includes("import.meta.url")) return undefined;
        const asInTree = `new URL(${JSON.stringify(`./${relative(root, args.path).split(sep).join("/")}`)}, import.meta.url).href`;
        return { contents: source.replaceAll("import.meta.url", asInTree), loader: "ts" };
      });
    },
  };

  const result = await build({
    entryPoints: { main: `services/${service}/main.ts`, healthcheck: `services/${service}/healthcheck.ts` },
    outdir: app,
    bundle: true,
    splitting: true, // main and healthcheck share their chunks; every output is in /app itself (see above)
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    plugins: [importMetaUrl],
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
  });

  // The packages the bundles import, then what each depends on, resolved as Node resolves them.
  const builtins = new Set(builtinModules);
  const packageName = (specifier) =>
    specifier
      .split("/")
      .slice(0, specifier.startsWith("@") ? 2 : 1)
      .join("/");
  const imported = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((entry) => entry.external && !entry.path.startsWith("node:") && !builtins.has(packageName(entry.path)))
    .map((entry) => packageName(entry.path));
  // Only read, never run (GraphiQL's and React's UMD builds): the package itself, without its dependencies.
  const readOnly = [...resolvedAtRunTime].filter((specifier) => !specifier.startsWith(".")).map(packageName);

  function resolvePackage(name, fromDir) {
    for (let dir = fromDir; ; dir = dirname(dir)) {
      const candidate = join(dir, "node_modules", name);
      if (existsSync(join(candidate, "package.json"))) return candidate;
      if (dir === root || dir === dirname(dir)) return undefined;
    }
  }
  const needed = new Set();
  const queue = [...readOnly.map((name) => [name, root, true, false]), ...imported.map((name) => [name, root, true])];
  while (queue.length > 0) {
    const [name, fromDir, required, walk = true] = queue.pop();
    const dir = resolvePackage(name, fromDir);
    if (dir === undefined) {
      if (required) throw new Error(`${name} is imported but not installed (from ${relative(root, fromDir) || "."})`);
      continue;
    }
    if (needed.has(dir)) continue;
    needed.add(dir);
    if (!walk) continue;
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push([dep, dir, true]);
    for (const dep of Object.keys({ ...manifest.optionalDependencies, ...manifest.peerDependencies })) {
      queue.push([dep, dir, false]);
    }
  }

  // Copy each package once (a nested one comes with its parent), without what nothing runs.
  const notShipped = /(\.d\.[cm]?ts|\.map|\.md|\.markdown)$/i;
  const copied = [];
  for (const dir of [...needed].sort()) {
    if (copied.some((parent) => dir.startsWith(`${parent}${sep}`))) continue;
    copied.push(dir);
    cpSync(dir, join(app, relative(root, dir)), {
      recursive: true,
      filter: (path) => !notShipped.test(path) && !path.split(sep).includes(".bin"),
    });
  }
  cpSync(join(root, "contracts"), join(app, "contracts"), { recursive: true });
  const { version, name } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify({ name: `${name}-${service}`, version, private: true, type: "module" }, null, 2)}\n`,
  );
  console.log(`${service}: ${Object.keys(result.metafile.outputs).length} bundle files, ${copied.length} npm packages`);
}

const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
function touch(path) {
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) touch(join(path, entry));
  utimesSync(path, epoch, epoch);
}
for (const service of services) await bundle(service);
touch(out);
