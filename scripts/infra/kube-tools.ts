/**
 * The Kubernetes tools the chart is checked with, each built once from the Go module proxy and cached
 * (scripts/infra/go-build.ts): kube-apiserver and kubectl from k8s.io/kubernetes (one build), helm, kubeconform.
 * kubectl is built with the server rather than taken from Debian: bookworm's kubernetes-client is 1.20, ten minor
 * versions from the server, far outside kubectl's supported skew of one.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { lazy } from "../../platform/lazy.js";
import { ensureGoTool, type GoTool } from "./go-build.js";

export const KUBERNETES_VERSION = "v1.31.0";
export const HELM_VERSION = "v3.21.4";
export const KUBECONFORM_VERSION = "v0.8.0";

/** k8s.io/kubernetes v1.X.Y publishes its staging modules (k8s.io/api, k8s.io/client-go, …) as v0.X.Y. */
const stagingVersion = KUBERNETES_VERSION.replace(/^v1\./, "v0.");
const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");

/**
 * The version variables Kubernetes' own build (hack/lib/version.sh) sets with -X: without them the binaries say
 * v0.0.0-master, and kubectl refuses to talk to a server of that version.
 */
const kubernetesLdflags = ["k8s.io/client-go/pkg/version", "k8s.io/component-base/version"]
  .flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
  ])
  .join(" ");

/**
 * k8s.io/kubernetes' go.mod replaces each staging module with `./staging/src/k8s.io/<name>`, a nested module the
 * module zip leaves out: point every such replace at the published module of the same release instead. Its go.work
 * would bring the directories back, hence GOWORK=off; -mod=mod lets go record the new modules' sums.
 */
async function replaceStagingModules(source: string, go: (args: readonly string[]) => Promise<string>): Promise<void> {
  const goMod = await readFile(join(source, "go.mod"), "utf8");
  const staging = [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\/src\//gm)].map((match) => match[1]);
  if (staging.length < 20) {
    throw new Error(`expected k8s.io/kubernetes' go.mod to replace its ~30 staging modules, found ${staging.length}`);
  }
  await go(["mod", "edit", ...staging.map((module) => `-replace=${module}=${module}@${stagingVersion}`)]);
}

const KUBERNETES: GoTool = {
  title: "kube-apiserver and kubectl",
  name: "kube-apiserver",
  module: "k8s.io/kubernetes",
  version: KUBERNETES_VERSION,
  pkg: "./cmd/kube-apiserver",
  alsoBuild: ["./cmd/kubectl"],
  ldflags: kubernetesLdflags,
  env: { GOWORK: "off", GOFLAGS: "-modcacherw -buildvcs=false -mod=mod" },
  prepare: replaceStagingModules,
};

const HELM: GoTool = {
  title: "helm",
  name: "helm",
  module: "helm.sh/helm/v3",
  version: HELM_VERSION,
  pkg: "./cmd/helm",
  ldflags: `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
};

const KUBECONFORM: GoTool = {
  title: "kubeconform",
  name: "kubeconform",
  module: "github.com/yannh/kubeconform",
  version: KUBECONFORM_VERSION,
  pkg: "./cmd/kubeconform",
  ldflags: `-X main.version=${KUBECONFORM_VERSION}`,
};

/** kube-apiserver and kubectl, from one build of k8s.io/kubernetes (about 4 minutes on two cores the first time). */
export const ensureKubernetes = lazy(async (): Promise<{ apiserver: string; kubectl: string }> => {
  const apiserver = await ensureGoTool(KUBERNETES);
  return { apiserver, kubectl: join(dirname(apiserver), "kubectl") };
});

export const ensureHelm = lazy((): Promise<string> => ensureGoTool(HELM));
export const ensureKubeconform = lazy((): Promise<string> => ensureGoTool(KUBECONFORM));
