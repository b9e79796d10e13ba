/**
 * The Helm chart's validation layers, shared by `npm run chart:check` and test/helm-chart.test.ts: helm template and
 * `helm lint --strict` (values.schema.json), kubeconform -strict with offline schemas (never
 * -ignore-missing-schemas), `kubectl apply --dry-run=server` against a kube-apiserver, and the checks over the
 * rendered set (chart-checks.ts).
 */
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { RunningKubeApiserver } from "../infra/kube-apiserver.js";
import { ensureGatewayApiCrds, ensureKnativeServingCrds, ensureKubeconformSchemas } from "../infra/kube-schemas.js";
import { ensureHelm, ensureKubeconform, KUBERNETES_VERSION } from "../infra/kube-tools.js";
import { type Ran, runCommand } from "../infra/steps.js";
import { type KubeObject, parseManifests } from "./chart-checks.js";

export const CHART_DIR = fileURLToPath(new URL("../../deploy/helm/charter", import.meta.url));
export const PRODUCTION_VALUES = `${CHART_DIR}/values-production.yaml`;
export const CHART_NAMESPACE = "charter";
export const CHART_RELEASE = "t";

/** Values files (-f) and single values (--set), in that order; the chart of another tree (a copy's) by chartDir. */
export interface ChartValues {
  readonly chartDir?: string;
  readonly files?: readonly string[];
  readonly set?: readonly string[];
}

/** The values every check runs with: the defaults, the production example, DNS discovery, the functions on Knative. */
export const CHART_VARIANTS: Readonly<Record<string, ChartValues>> = {
  "default values": {},
  "the production example": { files: [PRODUCTION_VALUES] },
  "DNS discovery": { set: ["discovery.mode=dns"] },
  "the functions on Knative": { set: ["functions.enabled=true"] },
};

/**
 * Kinds the chart renders that no offline schema or installed CRD covers: Knative Eventing's (its Go modules are not
 * on the Go module proxy). kubeconform skips them by name and the server-side dry run leaves them out; the chart's
 * checks follow their references and test/helm-chart.test.ts asserts their fields.
 */
export const UNCHECKED_KINDS: readonly string[] = [
  "sources.knative.dev/v1beta1/KafkaSource",
  "eventing.knative.dev/v1alpha1/KafkaSink",
];
export const isUnchecked = (object: { apiVersion?: unknown; kind?: unknown }): boolean =>
  UNCHECKED_KINDS.includes(`${String(object.apiVersion)}/${String(object.kind)}`);

/** The CRDs a kube-apiserver needs for the server-side dry run: the Gateway API's and Knative Serving's Service. */
export async function chartCrds(): Promise<string[]> {
  const [gatewayApi, knative] = await Promise.all([ensureGatewayApiCrds(), ensureKnativeServingCrds()]);
  return [...gatewayApi.crds, ...knative.crds];
}

export interface ChartTools {
  readonly helm: string;
  readonly kubeconform: string;
  /** kubeconform's -schema-location templates: Kubernetes' kinds, then the Gateway API's. */
  readonly schemaLocations: readonly string[];
}

/** helm, kubeconform and the offline schemas, provisioned on first use (scripts/infra). */
export async function chartTools(): Promise<ChartTools> {
  const [helm, kubeconform, schemas] = await Promise.all([
    ensureHelm(),
    ensureKubeconform(),
    ensureKubeconformSchemas(),
  ]);
  return { helm, kubeconform, schemaLocations: schemas.locations };
}

const valueArgs = (values: ChartValues) => [
  ...(values.files ?? []).flatMap((file) => ["-f", file]),
  ...(values.set ?? []).flatMap((value) => ["--set", value]),
];
const target = ["--namespace", CHART_NAMESPACE, "--kube-version", KUBERNETES_VERSION];

/** `helm template`, as the kube-apiserver's version. */
export function helmTemplate(tools: ChartTools, values: ChartValues = {}): Promise<Ran> {
  return runCommand(tools.helm, [
    "template",
    CHART_RELEASE,
    values.chartDir ?? CHART_DIR,
    ...target,
    ...valueArgs(values),
  ]);
}

/** The rendered YAML and its objects; throws with helm's message if it refuses the values. */
export async function renderChart(
  tools: ChartTools,
  values: ChartValues = {},
): Promise<{ yaml: string; objects: KubeObject[] }> {
  const result = await helmTemplate(tools, values);
  if (result.code !== 0) throw new Error(`helm template refused ${JSON.stringify(values)}:\n${result.stderr}`);
  return { yaml: result.stdout, objects: parseManifests(result.stdout) };
}

export function helmLint(tools: ChartTools, values: ChartValues = {}): Promise<Ran> {
  return runCommand(tools.helm, ["lint", "--strict", values.chartDir ?? CHART_DIR, ...target, ...valueArgs(values)]);
}

export interface KubeconformSummary {
  readonly valid: number;
  readonly invalid: number;
  readonly errors: number;
  readonly skipped: number;
}

export async function kubeconform(tools: ChartTools, yaml: string): Promise<{ ran: Ran; summary: KubeconformSummary }> {
  const locations = tools.schemaLocations.flatMap((location) => ["-schema-location", location]);
  const skip = ["-skip", UNCHECKED_KINDS.join(",")];
  const ran = await runCommand(
    tools.kubeconform,
    ["-strict", "-summary", "-output", "json", ...locations, ...skip, "-"],
    {
      input: yaml,
    },
  );
  try {
    return { ran, summary: (JSON.parse(ran.stdout) as { summary: KubeconformSummary }).summary };
  } catch {
    throw new Error(`kubeconform did not answer with its JSON report (${ran.code}):\n${ran.stdout}${ran.stderr}`);
  }
}

/** `kubectl apply --dry-run=server` of the rendered YAML into the chart's namespace, the UNCHECKED_KINDS left out. */
export function serverDryRun(api: RunningKubeApiserver, yaml: string): Promise<Ran> {
  const checked = parseAllDocuments(yaml)
    .filter((doc) => {
      const object = doc.toJS() as { apiVersion?: unknown; kind?: unknown } | null;
      return object !== null && !isUnchecked(object);
    })
    .map((doc) => doc.toString())
    .join("---\n");
  return api.kubectl(["apply", "--dry-run=server", "--namespace", CHART_NAMESPACE, "-f", "-"], { input: checked });
}
