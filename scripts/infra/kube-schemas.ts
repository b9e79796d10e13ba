/**
 * Offline schemas for kubeconform, cached under ~/.cache/charter/:
 *
 * - Kubernetes' own, from the PyPI package kubernetes-validate (its `vX.Y.Z-local-strict` set: every object closed
 *   with `additionalProperties: false`, references into one `_definitions.json`). Each resource kind is written
 *   as a standalone file with the definitions it reaches copied into its `$defs`, because kubeconform resolves a
 *   reference by URL and would try the internet for `/api/_definitions.json`. The package's virtualenv is removed
 *   once they are written.
 * - The Gateway API's CRDs (HTTPRoute, Gateway, …) from the `sigs.k8s.io/gateway-api` Go module, fetched through the
 *   Go module proxy: the CRD YAML as shipped (to install into a kube-apiserver) and each version's
 *   `openAPIV3Schema` as a JSON schema, closed like the strict set (to validate with kubeconform).
 * - Knative Serving's Service CRD the same way, from the `knative.dev/serving` Go module. Knative Eventing's
 *   modules (KafkaSource, KafkaSink, Trigger) are not served by the Go module proxy: those kinds have no schema here.
 */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { lazy } from "../../platform/lazy.js";
import { KUBERNETES_VERSION } from "./kube-tools.js";
import { ensurePipTool } from "./provision.js";
import { cacheDir, lastLines, publish, runChecked, runCommand, timedStep } from "./steps.js";

export const KUBERNETES_VALIDATE_VERSION = "1.37.0";
export const GATEWAY_API_VERSION = "v1.4.1";
/** Knative Serving 1.21's Go module version. */
export const KNATIVE_SERVING_VERSION = "v0.51.0";
const MARKER = ".complete";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export interface KubeconformSchemas {
  /** `-schema-location` templates, Kubernetes' first; never the default (internet) location. */
  readonly locations: readonly string[];
}

/** Every `$ref` under `node`, rewritten by `rewrite`, collected into `found`. */
function walkRefs(node: Json, found: Set<string>, rewrite: (ref: string) => string): Json {
  if (Array.isArray(node)) return node.map((item) => walkRefs(item, found, rewrite));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string") {
      found.add(value);
      out[key] = rewrite(value);
    } else {
      out[key] = walkRefs(value, found, rewrite);
    }
  }
  return out;
}

/** A reference into _definitions.json: from a kind's file by its URL, between definitions locally. */
const DEFINITIONS_REF = /^(?:\/api\/_definitions\.json)?#\/\$defs\/(.+)$/;

/** A schema of the strict set made standalone: the definitions it reaches, transitively, in its own `$defs`. */
function standalone(schema: JsonObject, definitions: JsonObject): JsonObject {
  const rewrite = (ref: string) => ref.replace(DEFINITIONS_REF, "#/$defs/$1");
  const nameOf = (ref: string) => DEFINITIONS_REF.exec(ref)?.[1];
  const pending = new Set<string>();
  const root = walkRefs(schema, pending, rewrite) as JsonObject;
  const defs: JsonObject = {};
  while (pending.size > 0) {
    const [ref] = pending;
    pending.delete(ref as string);
    const name = nameOf(ref as string);
    if (name === undefined) throw new Error(`unexpected reference ${ref} in kubernetes-validate's schemas`);
    if (name in defs) continue;
    const definition = definitions[name];
    if (definition === undefined) throw new Error(`kubernetes-validate's _definitions.json lacks ${name}`);
    const more = new Set<string>();
    defs[name] = walkRefs(definition, more, rewrite);
    for (const next of more) {
      const nextName = nameOf(next);
      if (nextName === undefined || !(nextName in defs)) pending.add(next);
    }
  }
  return { $schema: "https://json-schema.org/draft/2020-12/schema", ...root, $defs: defs };
}

async function buildKubernetesSchemas(target: string): Promise<void> {
  const python = await ensurePipTool({
    pkg: "kubernetes-validate",
    version: KUBERNETES_VALIDATE_VERSION,
    versionCheck: ["-c", "import importlib.metadata as m; print(m.version('kubernetes-validate'))"],
  });
  const pkgDir = (
    await runChecked("locating kubernetes_validate", python, [
      "-c",
      "import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))",
    ])
  ).trim();
  const source = join(pkgDir, "kubernetes-json-schema", `${KUBERNETES_VERSION}-local-strict`);
  if (!existsSync(join(source, "_definitions.json"))) {
    throw new Error(
      `kubernetes-validate ${KUBERNETES_VALIDATE_VERSION} has no ${KUBERNETES_VERSION}-local-strict schemas ` +
        `(${source}); pick a kubernetes-validate release that ships them`,
    );
  }
  const definitions = (JSON.parse(await readFile(join(source, "_definitions.json"), "utf8")) as JsonObject).$defs;
  if (!isObject(definitions)) throw new Error(`${source}/_definitions.json has no $defs`);
  const work = `${target}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await writeStandalone(source, definitions, work);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  await publish(work, target, (dir) => existsSync(join(dir, MARKER)));
  // Only the standalone files are read from now on: the virtualenv (about 140 MB) goes.
  await rm(dirname(dirname(python)), { recursive: true, force: true });
}

async function writeStandalone(source: string, definitions: JsonObject, work: string): Promise<void> {
  let kinds = 0;
  for (const file of (await readdir(source)).sort()) {
    if (!file.endsWith(".json") || file.startsWith("_") || file === "all.json") continue;
    const schema = JSON.parse(await readFile(join(source, file), "utf8")) as JsonObject;
    const properties = schema.properties;
    // Only resource kinds (with apiVersion and kind): kubeconform looks up a schema per kind.
    if (!isObject(properties) || !isObject(properties.kind) || !Array.isArray(properties.kind.enum)) continue;
    await writeFile(join(work, file), JSON.stringify(standalone(schema, definitions)));
    kinds++;
  }
  if (kinds < 50) throw new Error(`only ${kinds} resource kinds in ${source}: is it the right set?`);
  await writeFile(join(work, MARKER), `${kinds} kinds from kubernetes-validate ${KUBERNETES_VALIDATE_VERSION}\n`);
}

/** Closes every object schema that lists its properties, as the strict set does (not where unknown fields are kept). */
function closeObjects(node: Json): Json {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) out[key] = closeObjects(value);
  if (isObject(out.properties) && !("additionalProperties" in out) && !out["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

/** CRDs shipped in a Go module: its module path and version, the folder of the CRDs, and which of its files. */
interface CrdModule {
  readonly module: string;
  readonly version: string;
  readonly crdDir: string;
  readonly files: (name: string) => boolean;
}

/**
 * The CRDs of a Go module (the Gateway API's standard channel, Knative Serving's Service): `crds/*.yaml` as shipped,
 * and `schemas/<group>/<kind>_<version>.json` for kubeconform.
 */
async function buildCrds(source: CrdModule, target: string): Promise<void> {
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(`${target}.tmp-`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPROXY: (process.env.GOPROXY || "https://proxy.golang.org").replace(/,direct$/, ""),
    GOMODCACHE: join(work, "go-mod"),
    GOPATH: join(work, "gopath"),
    GOFLAGS: "-modcacherw",
  };
  const at = `${source.module}@${source.version}`;
  try {
    const download = await timedStep(`go mod download ${at}`, () =>
      runCommand("go", ["mod", "download", "-json", at], { cwd: work, env }),
    );
    const dir = download.code === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
    if (dir === undefined) {
      throw new Error(
        `go mod download ${at} failed: it needs Go and the Go module proxy (GOPROXY); check both and run again.\n` +
          lastLines(download.stderr + download.stdout),
      );
    }
    const out = join(work, "out");
    await mkdir(join(out, "crds"), { recursive: true });
    const crdDir = join(dir, source.crdDir);
    let schemas = 0;
    for (const file of (await readdir(crdDir)).filter((name) => name.endsWith(".yaml") && source.files(name)).sort()) {
      await cp(join(crdDir, file), join(out, "crds", file));
      for (const doc of parseAllDocuments(await readFile(join(crdDir, file), "utf8"))) {
        const crd = doc.toJS() as {
          kind?: string;
          spec?: {
            group: string;
            names: { kind: string };
            versions: { name: string; schema?: { openAPIV3Schema?: JsonObject } }[];
          };
        } | null;
        if (crd?.kind !== "CustomResourceDefinition" || !crd.spec) continue;
        const { group, names, versions } = crd.spec;
        await mkdir(join(out, "schemas", group), { recursive: true });
        for (const version of versions) {
          const schema = version.schema?.openAPIV3Schema;
          if (!schema) continue;
          const name = `${names.kind.toLowerCase()}_${version.name}.json`;
          await writeFile(join(out, "schemas", group, name), JSON.stringify(closeObjects(schema)));
          schemas++;
        }
      }
    }
    if (schemas === 0) throw new Error(`no CRD schemas found in ${crdDir}`);
    await writeFile(join(out, MARKER), `${schemas} schemas from ${at}\n`);
    await publish(out, target, (d) => existsSync(join(d, MARKER)));
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

const kubernetesSchemaDir = () => join(cacheDir(), `kube-schemas-${KUBERNETES_VERSION}`);
const gatewayApiDir = () => join(cacheDir(), `gateway-api-${GATEWAY_API_VERSION}`);
const knativeServingDir = () => join(cacheDir(), `knative-serving-${KNATIVE_SERVING_VERSION}`);

const GATEWAY_API: CrdModule = {
  module: "sigs.k8s.io/gateway-api",
  version: GATEWAY_API_VERSION,
  crdDir: join("config", "crd", "standard"),
  files: () => true,
};
/** Only the Service CRD: what the chart renders of Knative Serving. */
const KNATIVE_SERVING: CrdModule = {
  module: "knative.dev/serving",
  version: KNATIVE_SERVING_VERSION,
  crdDir: join("config", "core", "300-resources"),
  files: (name) => name === "service.yaml",
};

/** A module's CRDs (to install) and their schemas (for kubeconform), made once. */
async function ensureCrds(
  what: string,
  source: CrdModule,
  dir: string,
): Promise<{ crds: string[]; schemaDir: string }> {
  if (!existsSync(join(dir, MARKER))) {
    await timedStep(`${what} ${source.version} CRDs and their schemas`, () => buildCrds(source, dir));
  }
  const crds = (await readdir(join(dir, "crds"))).sort().map((file) => join(dir, "crds", file));
  return { crds, schemaDir: join(dir, "schemas") };
}

/** Kubernetes' schemas for kubeconform, made once from kubernetes-validate (PyPI). */
export const ensureKubernetesSchemas = lazy(async (): Promise<string> => {
  const dir = kubernetesSchemaDir();
  if (!existsSync(join(dir, MARKER))) {
    await timedStep(`Kubernetes ${KUBERNETES_VERSION} schemas from kubernetes-validate, made standalone`, () =>
      buildKubernetesSchemas(dir),
    );
  }
  return dir;
});

/** The Gateway API's CRDs (to install) and their schemas (for kubeconform). */
export const ensureGatewayApiCrds = lazy(() => ensureCrds("Gateway API", GATEWAY_API, gatewayApiDir()));

/** Knative Serving's Service CRD (to install) and its schema (for kubeconform). */
export const ensureKnativeServingCrds = lazy(() => ensureCrds("Knative Serving", KNATIVE_SERVING, knativeServingDir()));

/** kubeconform's `-schema-location`s: Kubernetes' kinds, then the Gateway API's and Knative Serving's; nothing from the internet. */
export async function ensureKubeconformSchemas(): Promise<KubeconformSchemas> {
  const kubernetes = await ensureKubernetesSchemas();
  const gatewayApi = await ensureGatewayApiCrds();
  const knative = await ensureKnativeServingCrds();
  return {
    locations: [
      `${kubernetes}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      ...[gatewayApi, knative].map(
        ({ schemaDir }) => `${schemaDir}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
      ),
    ],
  };
}
