/**
 * `npm run chart:check [-- -f my-values.yaml …]`: the Helm chart (deploy/helm/charter) through every layer, for the
 * default values, the production example, DNS discovery and the functions on Knative (or, given -f/--set, for those values only): helm lint
 * --strict (values.schema.json), kubeconform -strict with offline schemas, the checks over the rendered set, and
 * `kubectl apply --dry-run=server` against a kube-apiserver started for the run. Prints each layer with its time;
 * exits 1 at the first layer that refuses.
 */
import { parseArgs } from "node:util";
import { startKubeApiserver } from "./infra/kube-apiserver.js";
import { checkFileVariables, checkProbePorts, checkReferences } from "./lib/chart-checks.js";
import {
  CHART_NAMESPACE,
  CHART_VARIANTS,
  type ChartValues,
  chartCrds,
  chartTools,
  helmLint,
  isUnchecked,
  kubeconform,
  renderChart,
  serverDryRun,
} from "./lib/helm-chart.js";

const { values: args } = parseArgs({
  options: { values: { type: "string", short: "f", multiple: true }, set: { type: "string", multiple: true } },
});
const given: ChartValues = { files: args.values ?? [], set: args.set ?? [] };
const variants: Record<string, ChartValues> =
  (given.files?.length ?? 0) + (given.set?.length ?? 0) > 0 ? { "the given values": given } : { ...CHART_VARIANTS };

async function layer(label: string, check: () => Promise<string | undefined>): Promise<void> {
  const started = Date.now();
  const problem = await check();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (problem !== undefined) {
    console.error(`✖ ${label} (${seconds} s)\n${problem}`);
    process.exitCode = 1;
    throw new Error(label);
  }
  console.log(`✔ ${label} (${seconds} s)`);
}

const tools = await chartTools();
const api = await startKubeApiserver({ crds: await chartCrds() });
try {
  await api.createNamespace(CHART_NAMESPACE);
  for (const [name, values] of Object.entries(variants)) {
    console.log(`\n${name}`);
    await layer("helm lint --strict", async () => {
      const lint = await helmLint(tools, values);
      return lint.code === 0 ? undefined : lint.stdout + lint.stderr;
    });
    const { yaml, objects } = await renderChart(tools, values);
    await layer(`kubeconform -strict (${objects.length} objects)`, async () => {
      const { ran, summary } = await kubeconform(tools, yaml);
      const unchecked = objects.filter(isUnchecked).length;
      return ran.code === 0 && summary.skipped === unchecked ? undefined : ran.stdout + ran.stderr;
    });
    await layer("selectors, references, probe ports and *_FILE mounts", async () => {
      const problems = [...checkReferences(objects), ...checkProbePorts(objects), ...checkFileVariables(objects)];
      return problems.length === 0 ? undefined : problems.join("\n");
    });
    await layer("kubectl apply --dry-run=server", async () => {
      const applied = await serverDryRun(api, yaml);
      return applied.code === 0 ? undefined : applied.stderr;
    });
  }
} catch (error) {
  if (process.exitCode !== 1) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
} finally {
  await api.stop();
}
