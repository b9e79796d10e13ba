/**
 * Checks over the objects a Helm chart renders that neither its schema, kubeconform nor a kube-apiserver make,
 * because each object on its own is valid and only the set is wrong:
 *
 * - a selector that matches no pod the chart runs (a Service, PodDisruptionBudget or NetworkPolicy selecting
 *   nothing is accepted by the API server, and silently does nothing);
 * - a reference to an object that is not there (an autoscaler's target, a route's backend Service and port, a
 *   Service's named target port);
 * - a probe on a port the container does not expose (the API server accepts any port number), an exec probe included
 *   when the caller can tell which port its command checks;
 * - a `*_FILE` variable (a secret read from a file) naming a path that no read-only Secret or ConfigMap volume of its
 *   container provides: the service would stop at start, or read a file anyone in the pod could have written.
 */
import { parseAllDocuments } from "yaml";

type Labels = Readonly<Record<string, string>>;

interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
}

export interface Probe {
  readonly httpGet?: { readonly port: number | string };
  readonly tcpSocket?: { readonly port: number | string };
  readonly grpc?: { readonly port: number };
  readonly exec?: { readonly command: readonly string[] };
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
}

interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
}

interface KeyToPath {
  readonly key: string;
  readonly path: string;
}

interface Volume {
  readonly name: string;
  readonly secret?: { readonly secretName: string; readonly items?: readonly KeyToPath[] };
  readonly configMap?: { readonly name: string; readonly items?: readonly KeyToPath[] };
}

export interface Container {
  readonly name: string;
  readonly ports?: readonly ContainerPort[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly { readonly configMapRef?: { readonly name: string } }[];
  readonly volumeMounts?: readonly VolumeMount[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly startupProbe?: Probe;
}

interface PodTemplate {
  readonly metadata?: { readonly labels?: Labels };
  readonly spec?: { readonly containers?: readonly Container[]; readonly volumes?: readonly Volume[] };
}

/** A rendered object, as far as these checks read it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Labels };
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects of every kind; each check reads the fields it knows
  readonly spec?: any;
  readonly data?: Readonly<Record<string, string>>;
}

/** The objects of a multi-document YAML stream (empty documents, as Helm leaves them, dropped). */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null && typeof object === "object" && "kind" in object);
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);
/** A Knative Serving Service: kind Service like the core one, but with a pod template (its revisions' pods). */
const isKnativeService = (object: KubeObject) =>
  object.kind === "Service" && object.apiVersion.startsWith("serving.knative.dev/");

interface Workload {
  readonly object: KubeObject;
  readonly labels: Labels;
  readonly containers: readonly Container[];
  readonly volumes: readonly Volume[];
}

function workloads(objects: readonly KubeObject[]): Workload[] {
  return objects
    .filter((object) => WORKLOAD_KINDS.has(object.kind) || isKnativeService(object))
    .map((object) => {
      const template = (object.spec?.template ?? {}) as PodTemplate;
      return {
        object,
        labels: template.metadata?.labels ?? {},
        containers: template.spec?.containers ?? [],
        volumes: template.spec?.volumes ?? [],
      };
    });
}

const nameOf = (object: KubeObject) => `${object.kind} ${object.metadata.name}`;

/** Whether `labels` satisfy a label selector; matchExpressions are evaluated as Kubernetes does. */
function matches(
  selector: { matchLabels?: Labels; matchExpressions?: { key: string; operator: string; values?: string[] }[] },
  labels: Labels,
): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    if (operator === "In") return value !== undefined && values.includes(value);
    if (operator === "NotIn") return value === undefined || !values.includes(value);
    if (operator === "Exists") return value !== undefined;
    if (operator === "DoesNotExist") return value === undefined;
    return false;
  });
  return byLabel && byExpression;
}

/** The problems with what the objects' selectors and references point at; empty when there are none. */
export function checkReferences(objects: readonly KubeObject[]): string[] {
  const pods = workloads(objects);
  const problems: string[] = [];
  const selected = (selector: Parameters<typeof matches>[0]) => pods.filter((pod) => matches(selector, pod.labels));
  for (const pod of pods) {
    const selector = pod.object.spec?.selector;
    if (selector && !matches(selector, pod.labels)) {
      problems.push(`${nameOf(pod.object)}: its selector does not match its own pod template's labels`);
    }
  }
  for (const object of objects) {
    const spec = object.spec ?? {};
    if (object.kind === "Service" && spec.selector) {
      const targets = selected({ matchLabels: spec.selector });
      if (targets.length === 0) problems.push(`${nameOf(object)}: its selector matches no pod of the chart`);
      for (const port of (spec.ports ?? []) as { name?: string; targetPort?: number | string }[]) {
        if (typeof port.targetPort !== "string") continue;
        const exposed = targets.some((pod) =>
          pod.containers.some((container) => container.ports?.some((p) => p.name === port.targetPort)),
        );
        if (targets.length > 0 && !exposed) {
          problems.push(`${nameOf(object)}: target port "${port.targetPort}" is no container port of its pods`);
        }
      }
    }
    if (
      (object.kind === "PodDisruptionBudget" || object.kind === "NetworkPolicy") &&
      (spec.selector ?? spec.podSelector)
    ) {
      const selector = spec.selector ?? spec.podSelector;
      if (selected(selector).length === 0) problems.push(`${nameOf(object)}: its selector matches no pod of the chart`);
    }
    if (object.kind === "HorizontalPodAutoscaler") {
      const { kind, name } = spec.scaleTargetRef ?? {};
      if (!pods.some((pod) => pod.object.kind === kind && pod.object.metadata.name === name)) {
        problems.push(`${nameOf(object)}: its target ${kind} ${name} is not in the chart`);
      }
    }
    // Knative Eventing's addressables: a source's sink and a delivery's dead-letter sink name an object of the chart.
    for (const [what, ref] of [
      ["sink", spec.sink?.ref],
      ["dead-letter sink", spec.delivery?.deadLetterSink?.ref],
    ] as [string, { apiVersion?: string; kind?: string; name?: string } | undefined][]) {
      if (!ref) continue;
      const found = objects.some(
        (o) => o.apiVersion === ref.apiVersion && o.kind === ref.kind && o.metadata.name === ref.name,
      );
      if (!found) problems.push(`${nameOf(object)}: its ${what} ${ref.kind} ${ref.name} is not in the chart`);
    }
    if (object.kind === "HTTPRoute") {
      for (const rule of (spec.rules ?? []) as { backendRefs?: { name: string; port?: number; kind?: string }[] }[]) {
        for (const ref of rule.backendRefs ?? []) {
          if ((ref.kind ?? "Service") !== "Service") continue;
          const service = objects.find((o) => o.kind === "Service" && o.metadata.name === ref.name);
          const ports = ((service?.spec?.ports ?? []) as { port: number }[]).map((p) => p.port);
          if (!service) problems.push(`${nameOf(object)}: its backend Service ${ref.name} is not in the chart`);
          else if (!ports.includes(ref.port ?? -1)) {
            problems.push(`${nameOf(object)}: Service ${ref.name} has no port ${ref.port}`);
          }
        }
      }
    }
  }
  return problems;
}

const PROBES = ["readinessProbe", "livenessProbe", "startupProbe"] as const;

/**
 * The port an exec probe's command checks, which only the caller can tell (e.g. from the service's configuration
 * loader, reading the container's environment); undefined: not known, not checked.
 */
export type ExecProbePort = (workload: KubeObject, container: Container, probe: Probe) => number | undefined;

/** The probes that name a port their container does not expose (by number or by name); empty when none do. */
export function checkProbePorts(objects: readonly KubeObject[], execPort?: ExecProbePort): string[] {
  const problems: string[] = [];
  for (const pod of workloads(objects)) {
    for (const container of pod.containers) {
      const ports = container.ports ?? [];
      for (const kind of PROBES) {
        const probe = container[kind];
        if (!probe) continue;
        const port =
          probe.httpGet?.port ??
          probe.tcpSocket?.port ??
          probe.grpc?.port ??
          (probe.exec ? execPort?.(pod.object, container, probe) : undefined);
        if (port === undefined) continue;
        const exposed =
          typeof port === "number" ? ports.some((p) => p.containerPort === port) : ports.some((p) => p.name === port);
        if (!exposed) {
          const listed = ports.map((p) => `${p.name ?? "?"}=${p.containerPort}`).join(", ");
          problems.push(
            `${nameOf(pod.object)}, container ${container.name}: ${kind} on port ${port}, which it does not expose (${listed})`,
          );
        }
      }
    }
  }
  return problems;
}

/** The variables of a container as the kubelet sets them, the ConfigMaps of its envFrom first; values only. */
function plainEnvironment(objects: readonly KubeObject[], container: Container): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const map = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
    for (const [key, value] of Object.entries(map?.data ?? {})) env.set(key, String(value));
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env.set(entry.name, String(entry.value));
    else env.delete(entry.name);
  }
  return env;
}

/**
 * Every `*_FILE` variable (a secret the service reads from a file) must name a file of a read-only volume of its
 * container that comes from a Secret or a ConfigMap, and when the volume lists its items, one of them. Empty when
 * all do.
 */
export function checkFileVariables(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  for (const pod of workloads(objects)) {
    for (const container of pod.containers) {
      const where = `${nameOf(pod.object)}, container ${container.name}`;
      for (const [name, path] of plainEnvironment(objects, container)) {
        if (!name.endsWith("_FILE")) continue;
        const mount = (container.volumeMounts ?? [])
          .filter((m) => !m.subPath && path.startsWith(`${m.mountPath.replace(/\/$/, "")}/`))
          .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
        if (!mount) {
          problems.push(`${where}: ${name}=${path} is under no volume mount of the container`);
          continue;
        }
        const volume = pod.volumes.find((v) => v.name === mount.name);
        const source = volume?.secret ?? volume?.configMap;
        if (!source) {
          problems.push(`${where}: ${name}=${path} is on volume ${mount.name}, which is no Secret or ConfigMap`);
          continue;
        }
        if (mount.readOnly !== true) problems.push(`${where}: ${name}=${path} is on a mount that is not read-only`);
        const file = path.slice(mount.mountPath.replace(/\/$/, "").length + 1);
        if (source.items && !source.items.some((item) => item.path === file)) {
          const listed = source.items.map((item) => item.path).join(", ");
          problems.push(`${where}: ${name}=${path}: volume ${mount.name} has no file ${file} (${listed})`);
        }
      }
    }
  }
  return problems;
}
