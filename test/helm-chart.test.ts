/**
 * The Helm chart (deploy/helm/charter), checked as a cluster would: rendered with its default values, the production
 * example and DNS discovery, then `helm lint --strict`, kubeconform -strict with Kubernetes' and the Gateway API's
 * schemas (offline, never -ignore-missing-schemas), `kubectl apply --dry-run=server` against a real kube-apiserver
 * (one for the file, with the Gateway API CRDs installed), and the chart's own checks over the rendered set
 * (scripts/lib/chart-checks.ts). Purpose-made bad values show which layer notices what. The DNS discovery mode runs
 * for real: a DNS server answering the headless Service's name with three addresses, three users processes behind
 * them and a gateway dialing the chart's own dns:/// target.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadErasureConfig } from "../functions/erasure/index.js";
import { loadFunctionHostConfig } from "../functions/function-config.js";
import { loadNotifyConfig } from "../functions/notify/index.js";
import { userEventChannels } from "../generated/asyncapi/users-events.js";
import { authConfig } from "../platform/auth/auth-config.js";
import { envReader } from "../platform/config.js";
import { exportConfigured, serviceNameFromEnv, tracingDisabled } from "../platform/tracing.js";
import { type DevCerts, ensureDevCerts } from "../scripts/infra/dev-certs.js";
import { ensureDnsmasq, startDnsServer } from "../scripts/infra/dnsmasq.js";
import { freePorts, type RunningServer } from "../scripts/infra/index.js";
import { type RunningKubeApiserver, startKubeApiserver } from "../scripts/infra/kube-apiserver.js";
import {
  type Container,
  checkFileVariables,
  checkProbePorts,
  checkReferences,
  type KubeObject,
} from "../scripts/lib/chart-checks.js";
import {
  CHART_DIR,
  CHART_NAMESPACE,
  type ChartTools,
  type ChartValues,
  chartCrds,
  chartTools,
  helmLint,
  helmTemplate,
  isUnchecked,
  kubeconform,
  PRODUCTION_VALUES as PRODUCTION,
  CHART_RELEASE as RELEASE,
  renderChart,
  serverDryRun,
  CHART_VARIANTS as VARIANTS,
} from "../scripts/lib/helm-chart.js";
import { type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { LOAD_BUDGET, otherServicesOffline } from "../scripts/lib/start-platform.js";
import { SERVICE_NAME } from "../scripts/new-service.js";
import { loadAuditConfig } from "../services/audit/audit-config.js";
import { loadGatewayConfig } from "../services/gateway/gateway-config.js";
import { groupIdOf } from "../services/triggers/domain/trigger.js";
import { loadUsersConfig } from "../services/users/users-config.js";
import { startTestIssuer } from "./support/auth.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

let tools: ChartTools;
let api: RunningKubeApiserver;
let certs: DevCerts;
/** Where the test's pods mount their Secrets: one directory per rendered pod, as the kubelet would write them. */
let mounts: string;

before(async () => {
  // Provisioning (the first time: the builds from the Go module proxy, the PyPI schemas, the development CA; then
  // cached).
  [tools, , certs] = await Promise.all([chartTools(), ensureDnsmasq(), ensureDevCerts()]);
  mounts = await mkdtemp(join(tmpdir(), "charter-chart-mounts-"));
  api = await startKubeApiserver({ crds: await chartCrds() });
  await api.createNamespace(CHART_NAMESPACE);
});

after(async () => {
  await api?.stop();
  if (mounts) await rm(mounts, { recursive: true, force: true });
});

const render = (values: ChartValues = {}) => renderChart(tools, values);
const runKubeconform = (yaml: string) => kubeconform(tools, yaml);
const dryRun = (yaml: string) => serverDryRun(api, yaml);

describe("the chart renders and passes every layer", () => {
  for (const [name, values] of Object.entries(VARIANTS)) {
    it(`${name}: helm lint --strict, kubeconform -strict, the server-side dry run and the chart checks`, async () => {
      const { yaml, objects } = await render(values);
      assert.ok(objects.length >= 20, `only ${objects.length} objects rendered`);

      const lint = await helmLint(tools, values);
      assert.equal(lint.code, 0, `helm lint --strict:\n${lint.stdout}${lint.stderr}`);
      assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);

      // Only Knative Eventing's kinds go unvalidated (no schema, no CRD here); "what the chart promises" checks them.
      const unchecked = objects.filter(isUnchecked).length;
      const { ran, summary } = await runKubeconform(yaml);
      assert.equal(ran.code, 0, `kubeconform:\n${ran.stdout}${ran.stderr}`);
      assert.deepEqual(summary, { valid: objects.length - unchecked, invalid: 0, errors: 0, skipped: unchecked });

      const applied = await dryRun(yaml);
      assert.equal(applied.code, 0, `kubectl apply --dry-run=server:\n${applied.stderr}`);
      const created = applied.stdout.split("\n").filter((line) => line.endsWith("created (server dry run)"));
      assert.equal(created.length, objects.length - unchecked, applied.stdout);

      assert.deepEqual(checkReferences(objects), []);
      // An exec probe (`node /app/healthcheck.js`, with tls.enabled) checks the port its service's loader reads.
      const checked = new Map((await configurationOf(values, objects)).map((c) => [c.workload, c.listens[0]]));
      const execPort = (workload: KubeObject, _container: Container) => checked.get(workload.metadata.name);
      assert.deepEqual(checkProbePorts(objects, execPort), []);
      assert.deepEqual(checkFileVariables(objects), []);
    });
  }
});

// biome-ignore lint/suspicious/noExplicitAny: rendered objects
type Any = any;
const byKind = (objects: readonly KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const workloadsOf = (objects: readonly KubeObject[]) =>
  objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
const named = (objects: readonly KubeObject[], kind: string, name: string): Any => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name} not rendered`);
  return found;
};

describe("what the chart promises", () => {
  it("every pod: non-root as 10001, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, no token", async () => {
    for (const values of Object.values(VARIANTS)) {
      const { objects } = await render(values);
      const pods = workloadsOf(objects);
      assert.equal(pods.length, 3);
      for (const workload of pods) {
        const spec = (workload.spec as Any).template.spec;
        assert.equal(spec.automountServiceAccountToken, false, workload.metadata.name);
        assert.deepEqual(spec.securityContext.seccompProfile, { type: "RuntimeDefault" });
        assert.equal(spec.securityContext.runAsNonRoot, true);
        assert.equal(spec.securityContext.runAsUser, 10001);
        const account = named(objects, "ServiceAccount", spec.serviceAccountName);
        assert.equal(account.automountServiceAccountToken, false);
        const keys = spec.topologySpreadConstraints.map((c: Any) => c.topologyKey);
        assert.deepEqual(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        for (const container of spec.containers) {
          assert.match(container.image, /^(registry\.example\.com\/)?charter\/(users|audit|gateway):0\.1\.0$/);
          const context = container.securityContext;
          assert.equal(context.readOnlyRootFilesystem, true);
          assert.equal(context.allowPrivilegeEscalation, false);
          assert.deepEqual(context.capabilities.drop, ["ALL"]);
          assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
        }
      }
      for (const kind of ["PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceAccount", "ConfigMap"]) {
        assert.equal(byKind(objects, kind).length, 3, kind);
      }
    }
  });

  it("probes: the gateway's /readyz and /healthz; users and audit on the gRPC health service of their real port", async () => {
    const { objects } = await render();
    const container = (name: string) =>
      named(objects, "Deployment", `${RELEASE}-charter-${name}`).spec.template.spec.containers[0];
    const gateway = container("gateway");
    assert.deepEqual(gateway.readinessProbe.httpGet, { path: "/readyz", port: "http" });
    assert.deepEqual(gateway.livenessProbe.httpGet, { path: "/healthz", port: "http" });
    // The ports are the services' own defaults, as their configuration loaders have them.
    assert.equal(gateway.ports[0].containerPort, loadGatewayConfig({}).port);
    const users = container("users");
    assert.equal(users.readinessProbe.grpc.port, loadUsersConfig({}).grpcPort);
    assert.equal(users.startupProbe.grpc.port, loadUsersConfig({}).grpcPort);
    const audit = container("audit");
    assert.equal(audit.readinessProbe.grpc.port, loadAuditConfig({}).grpcPort);
    assert.deepEqual(
      audit.ports.map((p: Any) => p.containerPort),
      [loadAuditConfig({}).grpcPort, loadAuditConfig({}).metricsPort],
    );
  });

  it("network policies: default deny; the gateway from the ingress; users and audit from the gateway; each dependency from its users", async () => {
    const { objects } = await render();
    const policy = (name: string): Any => named(objects, "NetworkPolicy", `${RELEASE}-charter-${name}`);
    const deny = policy("default-deny");
    assert.deepEqual(deny.spec.policyTypes, ["Ingress", "Egress"]);
    assert.equal(deny.spec.ingress, undefined);
    assert.equal(deny.spec.egress, undefined);
    const ports = (p: Any) => p.egress.flatMap((rule: Any) => rule.ports.map((port: Any) => port.port));
    assert.deepEqual(policy("gateway").spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } } },
    ]);
    for (const backend of ["users", "audit"]) {
      const from = policy(backend).spec.ingress[0].from[0].podSelector.matchLabels;
      assert.equal(from["app.kubernetes.io/component"], "gateway", backend);
    }
    // etcd 2379, MongoDB 27017, Redis 6379, Kafka 9092, DNS 53.
    assert.deepEqual(ports(policy("users").spec).sort(), [2379, 27017, 53, 53, 6379, 9092].sort());
    assert.deepEqual(ports(policy("audit").spec).sort(), [2379, 27017, 53, 53, 9092].sort());
    // The gateway reaches Redis for its shared request budget (gateway.rateLimit.sharedInRedis, on by default).
    assert.deepEqual(ports(policy("gateway").spec).sort(), [2379, 53, 53, 6379, "grpc", "grpc"].sort());
  });

  it("the production example: three or more replicas, HPA bounds, resources, dependencies from an existing Secret, HTTPS", async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    assert.equal(byKind(objects, "Secret").length, 0, "the dependencies' Secret is the team's, not rendered");
    for (const hpa of byKind(objects, "HorizontalPodAutoscaler") as Any[]) {
      assert.ok(hpa.spec.minReplicas >= 3 && hpa.spec.maxReplicas > hpa.spec.minReplicas, hpa.metadata.name);
    }
    for (const workload of workloadsOf(objects) as Any[]) {
      const container = workload.spec.template.spec.containers[0];
      assert.ok(container.resources.limits.memory, workload.metadata.name);
      const fromSecret = container.env.filter((e: Any) => e.valueFrom?.secretKeyRef);
      assert.ok(fromSecret.length >= 1, workload.metadata.name);
      for (const e of fromSecret) {
        const secret = e.valueFrom.secretKeyRef.name;
        const expected =
          e.name === "REDIS_USERNAME"
            ? "charter-redis-auth"
            : e.name.startsWith("KAFKA_SASL_")
              ? "charter-kafka-auth"
              : "charter-dependencies";
        assert.equal(secret, expected, `${workload.metadata.name} ${e.name}`);
      }
      const kinds = workload.spec.template.spec.topologySpreadConstraints.map((c: Any) => c.whenUnsatisfiable);
      assert.deepEqual(kinds, ["DoNotSchedule", "ScheduleAnyway"]);
    }
    const routes = byKind(objects, "HTTPRoute") as Any[];
    assert.deepEqual(
      routes.map((r) => r.spec.parentRefs[0].sectionName),
      ["https", "http"],
    );
    assert.equal(routes[1].spec.rules[0].filters[0].requestRedirect.scheme, "https");
  });
});

describe("tokens (auth.*): the issuer every service trusts", () => {
  const configOf = (objects: readonly KubeObject[], service: string): Record<string, string> =>
    named(objects, "ConfigMap", `${RELEASE}-charter-${service}`).data;

  it("the production example: AUTH_ISSUER and AUTH_AUDIENCE on the gateway, users and audit, read as the services read them; egress to the issuer", async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    for (const service of ["gateway", "users", "audit"]) {
      const config = authConfig(envReader(configOf(objects, service)));
      assert.equal(config.issuer, "https://keycloak.example.com/realms/charter", service);
      assert.equal(config.audience, "urn:charter:api", service);
      assert.equal(config.jwksUri, undefined, `${service}: the keys are found through discovery`);
      const egress = named(objects, "NetworkPolicy", `${RELEASE}-charter-${service}`).spec.egress as Any[];
      assert.ok(
        egress.some((rule) => rule.ports.some((port: Any) => port.port === 443)),
        `${service} may reach the issuer on 443`,
      );
    }
  });

  it("auth.jwksUri and auth.audience pass through; the defaults set no issuer and open no egress for one", async () => {
    const { objects } = await render({
      set: ["auth.issuer=https://id.example.com", "auth.jwksUri=https://id.example.com/keys", "auth.audience=api://x"],
    });
    const config = authConfig(envReader(configOf(objects, "gateway")));
    assert.deepEqual(
      [config.issuer, config.jwksUri, config.audience],
      ["https://id.example.com", "https://id.example.com/keys", "api://x"],
    );
    const defaults = (await render()).objects;
    assert.equal(configOf(defaults, "users").AUTH_ISSUER, undefined);
    const egress = named(defaults, "NetworkPolicy", `${RELEASE}-charter-users`).spec.egress as Any[];
    assert.ok(!egress.some((rule) => rule.ports.some((port: Any) => port.port === 443)));
  });

  it("refused: the production example without an issuer, an issuer that is no http(s) URL, an audience with spaces", async () => {
    await assert.rejects(render({ files: [PRODUCTION], set: ["auth.issuer="] }), /auth\.issuer is required/);
    await assert.rejects(render({ set: ["auth.issuer=ftp://id.example.com"] }), /auth\.issuer|issuer/);
    await assert.rejects(render({ set: ["auth.audience=two words"] }), /audience/);
  });
});

describe("security between services (tls.enabled, Redis and Kafka credentials: the production example)", () => {
  /** The variables a service reads as secrets (platform/tls-config.ts, EnvReader.secret): only their *_FILE twins. */
  const SECRET_VARIABLES =
    /^(GRPC_TLS_(CERT|KEY|CA)|ETCD_TLS_(CERT|KEY|CA)|REDIS_PASSWORD|REDIS_TLS_CA|KAFKA_TLS_CA|KAFKA_SASL_PASSWORD)$/;

  it("each service reads its certificates and passwords from read-only Secret volumes, through *_FILE variables", async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    const files = (name: string) => {
      const container = named(objects, "Deployment", `${RELEASE}-charter-${name}`).spec.template.spec.containers[0];
      return container.env
        .filter((e: Any) => e.name.endsWith("_FILE"))
        .map((e: Any) => e.name)
        .sort();
    };
    const tls = ["GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE"];
    const etcd = ["ETCD_TLS_CA_FILE", "ETCD_TLS_CERT_FILE", "ETCD_TLS_KEY_FILE"];
    const redis = ["REDIS_PASSWORD_FILE", "REDIS_TLS_CA_FILE"];
    const kafka = ["KAFKA_SASL_PASSWORD_FILE", "KAFKA_TLS_CA_FILE"];
    assert.deepEqual(files("users"), [...tls, ...etcd, ...redis, ...kafka].sort());
    assert.deepEqual(files("audit"), [...tls, ...etcd, ...kafka].sort());
    assert.deepEqual(files("gateway"), [...tls, ...etcd, ...redis].sort());
    for (const workload of workloadsOf(objects) as Any[]) {
      const spec = workload.spec.template.spec;
      for (const volume of spec.volumes.filter((v: Any) => v.secret)) {
        assert.equal(volume.secret.defaultMode, 0o440, `${workload.metadata.name} ${volume.name}`);
        const mount = spec.containers[0].volumeMounts.find((m: Any) => m.name === volume.name);
        assert.equal(mount.readOnly, true, `${workload.metadata.name} ${volume.name}`);
      }
    }
    assert.deepEqual(checkFileVariables(objects), []);
  });

  it("no secret is a ConfigMap entry or an environment value: not the team's certificates and passwords, not a secret variable", async () => {
    const { yaml, objects } = await render({ files: [PRODUCTION] });
    const team = await teamSecrets();
    for (const [secret, data] of Object.entries(team)) {
      for (const [key, value] of Object.entries(data)) {
        if (/username$/.test(key) || secret === "charter-dependencies") continue;
        assert.ok(
          !yaml.includes(value.trim().split("\n")[1] ?? value),
          `${secret}/${key} appears in the rendered chart`,
        );
      }
    }
    const plain: [string, string][] = [];
    for (const map of byKind(objects, "ConfigMap") as Any[]) {
      for (const [key, value] of Object.entries(map.data))
        plain.push([`ConfigMap ${map.metadata.name} ${key}`, String(value)]);
    }
    for (const workload of workloadsOf(objects) as Any[]) {
      for (const e of workload.spec.template.spec.containers[0].env) {
        if (e.value !== undefined) plain.push([`${workload.metadata.name} env ${e.name}`, String(e.value)]);
      }
    }
    for (const [where, value] of plain) {
      const name = where.split(" ").pop() as string;
      assert.ok(!SECRET_VARIABLES.test(name), `${where}: a secret variable set as a value`);
      assert.doesNotMatch(value, /-----BEGIN|:\/\/[^/\s]*:[^@\s]*@/, `${where}: a certificate, key or credential`);
    }
  });

  it("users and audit: readiness and start-up run the image's mTLS health check, liveness the TCP check of the gRPC port", async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    for (const name of ["users", "audit"]) {
      const container = named(objects, "Deployment", `${RELEASE}-charter-${name}`).spec.template.spec.containers[0];
      for (const probe of [container.readinessProbe, container.startupProbe]) {
        assert.deepEqual(probe.exec.command, ["node", "/app/healthcheck.js"]);
        assert.equal(probe.grpc, undefined, "Kubernetes' grpc probe speaks plaintext: it cannot pass mutual TLS");
        assert.ok(probe.timeoutSeconds >= 5, "a Node process's start is more than the default 1 s");
      }
      assert.deepEqual(container.livenessProbe.tcpSocket, { port: "grpc" });
    }
  });

  it("a *_FILE variable no Secret volume provides: only the chart checks see it", async () => {
    const { yaml, objects } = await render({
      set: ["users.env.REDIS_TLS_CA_FILE=/etc/ssl/certs/ca.pem", "audit.env.KAFKA_SASL_PASSWORD_FILE=/tmp/password"],
    });
    assert.equal((await runKubeconform(yaml)).summary.invalid, 0);
    assert.deepEqual(checkFileVariables(objects).sort(), [
      "Deployment t-charter-audit, container audit: KAFKA_SASL_PASSWORD_FILE=/tmp/password is on volume tmp, which is no Secret or ConfigMap",
      "Deployment t-charter-users, container users: REDIS_TLS_CA_FILE=/etc/ssl/certs/ca.pem is under no volume mount of the container",
    ]);
  });
});

/** An environment that records every variable read. */
function recording(values: Record<string, string>, reads: Set<string>): Record<string, string> {
  return new Proxy(values, {
    get(target, property, receiver) {
      if (typeof property === "string") reads.add(property);
      return Reflect.get(target, property, receiver);
    },
  });
}

type SecretStore = Record<string, Record<string, string>>;

/**
 * The Secrets a team creates before installing (README, "Installing on a real cluster" and "Security between
 * services"), with the development CA's certificates and made-up passwords the chart never sees.
 */
async function teamSecrets(): Promise<SecretStore> {
  const ca = await readFile(certs.ca, "utf8");
  const tls = async (pair: { cert: string; key: string }) => ({
    "tls.crt": await readFile(pair.cert, "utf8"),
    "tls.key": await readFile(pair.key, "utf8"),
    "ca.crt": ca,
  });
  return {
    "charter-dependencies": {
      "etcd-endpoints": "https://etcd-0.example.internal:2379,https://etcd-1.example.internal:2379",
      "mongo-url": "mongodb://charter:mongo-password-of-the-team@mongo.example.internal:27017/charter?tls=true",
      "redis-url": "rediss://redis.example.internal:6380",
      "kafka-brokers": "kafka-0.example.internal:9093,kafka-1.example.internal:9093",
    },
    "charter-users-tls": await tls(certs.server.users),
    "charter-audit-tls": await tls(certs.server.audit),
    "charter-gateway-tls": await tls(certs.client.gateway),
    "charter-redis-auth": { username: "charter-users", password: "redis-password-of-the-team" },
    "charter-kafka-auth": {
      "users-username": "charter-users",
      "users-password": "kafka-users-password-of-the-team",
      "audit-username": "charter-audit",
      "audit-password": "kafka-audit-password-of-the-team",
    },
    "charter-dependencies-ca": { "ca.crt": ca },
    "charter-functions-client": { "client-secret": "functions-secret-of-the-team" },
    "charter-notify-smtp": { "smtp-url": "smtps://notify:smtp-password-of-the-team@mail.example.internal:465" },
  };
}

/**
 * The variables the chart gives a workload's container, resolved as the kubelet would: the pod's fields by example,
 * secret keys from the rendered Secret or, where the team brings its own, `team`; each Secret volume written as files
 * under a directory of its own for this pod, and every *_FILE variable pointed there.
 */
async function containerEnvironment(
  objects: readonly KubeObject[],
  workload: Any,
  team: SecretStore,
): Promise<Record<string, string>> {
  const spec = workload.spec.template.spec;
  const container = spec.containers[0];
  const secrets: SecretStore = { ...team };
  for (const rendered of byKind(objects, "Secret") as Any[]) secrets[rendered.metadata.name] = rendered.stringData;
  const secretValue = (name: string, key: string) => {
    const value = secrets[name]?.[key];
    assert.ok(value !== undefined, `${workload.metadata.name}: Secret ${name} has no key ${key}`);
    return value;
  };
  const root = await mkdtemp(join(mounts, `${workload.metadata.name}-`));
  for (const mount of container.volumeMounts ?? []) {
    const volume = spec.volumes.find((v: Any) => v.name === mount.name);
    for (const item of volume.secret?.items ?? []) {
      const file = join(root, mount.mountPath, item.path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, secretValue(volume.secret.secretName, item.key));
    }
  }
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    Object.assign(env, named(objects, "ConfigMap", source.configMapRef.name).data);
  }
  const fields: Record<string, string> = {
    "metadata.name": `${workload.metadata.name}-0`,
    "status.podIP": "10.1.2.3",
    "metadata.labels['apps.kubernetes.io/pod-index']": "0",
  };
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      env[entry.name] = String(entry.value).replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? "");
    } else if (entry.valueFrom?.secretKeyRef) {
      env[entry.name] = secretValue(entry.valueFrom.secretKeyRef.name, entry.valueFrom.secretKeyRef.key);
    } else if (entry.valueFrom?.fieldRef) {
      const value = fields[entry.valueFrom.fieldRef.fieldPath];
      assert.ok(value !== undefined, `unexpected fieldRef ${entry.valueFrom.fieldRef.fieldPath}`);
      env[entry.name] = value;
    }
  }
  for (const name of Object.keys(env)) {
    if (name.endsWith("_FILE")) env[name] = join(root, env[name] as string);
  }
  return env;
}

/** The pod's own name and address, which the chart passes only to build other variables ($(POD_NAME)). */
const DOWNWARD_ONLY = new Set(["POD_NAME", "POD_IP"]);

const LOADERS: Record<string, (env: Record<string, string>) => { ports: number[] }> = {
  users: (env) => {
    const config = loadUsersConfig(env);
    return { ports: [config.grpcPort, config.metricsPort] };
  },
  audit: (env) => {
    const config = loadAuditConfig(env);
    return { ports: [config.grpcPort, config.metricsPort] };
  },
  gateway: (env) => ({ ports: [loadGatewayConfig(env).port] }),
};
const tracing = (env: Record<string, string>) => {
  tracingDisabled(env);
  exportConfigured(env, () => {});
  serviceNameFromEnv(env);
};
/** Every service reads who to trust (AUTH_*) through the one shared loader, as it reads tracing's variables. */
const auth = (env: Record<string, string>) => authConfig(envReader(env));

/**
 * Per service: the variables no loader read, the ports it listens on (its gRPC or HTTP port first: the one its
 * image's `node /app/healthcheck.js` checks) next to those the pod exposes.
 */
async function configurationOf(values: ChartValues, objects?: KubeObject[]) {
  const rendered = objects ?? (await render(values)).objects;
  const team = await teamSecrets();
  return Promise.all(
    (workloadsOf(rendered) as Any[]).map(async (workload) => {
      const service = workload.metadata.name.replace(`${RELEASE}-charter-`, "");
      const env = await containerEnvironment(rendered, workload, team);
      const reads = new Set<string>();
      const loaded = (LOADERS[service] as (typeof LOADERS)[string])(recording(env, reads));
      tracing(recording(env, reads));
      auth(recording(env, reads));
      const unread = Object.keys(env).filter((key) => !reads.has(key) && !DOWNWARD_ONLY.has(key));
      const exposed = workload.spec.template.spec.containers[0].ports.map((p: Any) => p.containerPort);
      return { workload: workload.metadata.name as string, service, unread, listens: loaded.ports, exposed };
    }),
  );
}

describe("the chart's configuration is the services' own", () => {
  for (const [name, values] of Object.entries({
    ...VARIANTS,
    "tracing on": { set: ["tracing.otlpEndpoint=http://collector:4318"] },
  })) {
    it(`${name}: every variable is one its loader reads, the loader accepts the values, the ports are the container's`, async () => {
      for (const { service, unread, listens, exposed } of await configurationOf(values)) {
        assert.deepEqual(unread, [], `${service}: variables the chart sets that its configuration never reads`);
        assert.deepEqual(listens, exposed, `${service}: the ports it listens on are the ports the pod exposes`);
      }
    });
  }

  it("a misspelt variable is named; a bad value is refused by the loader itself", async () => {
    const typo = await configurationOf({ set: ["users.env.CACHE_TTL_SM=30000"] });
    assert.deepEqual(
      typo.map(({ service, unread }) => [service, unread]),
      [
        ["audit", []],
        ["gateway", []],
        ["users", ["CACHE_TTL_SM"]],
      ],
    );
    await assert.rejects(configurationOf({ set: ["users.env.CACHE_TTL_MS=soon"] }), /CACHE_TTL_MS must be an integer/);
  });
});

describe("purpose-made bad values, each caught by the layer expected", () => {
  it("a wrong type or value: values.schema.json, so helm refuses before anything renders", async () => {
    for (const [set, where] of [
      ["users.replicas=three", "/users/replicas"],
      ["discovery.mode=consul", "/discovery/mode"],
      ["gateway.port=70000", "/gateway/port"],
      ["dependencies.redisUrl=memcached://cache:11211", "/dependencies/redisUrl"],
      // Half-configured security: mutual TLS without the certificates' Secrets, a brokers' CA with TLS off.
      ["tls.enabled=true", "/tls/secrets/users"],
      ["kafka.tls.ca.secretName=charter-dependencies-ca", "/kafka/tls/enabled"],
      // An entity service's entry is held to users' keys, and its name to the scaffold's rule.
      ["entityServices.books.grpcPrt=50071", "additional properties 'grpcPrt' not allowed"],
      ["entityServices.Books.grpcPort=50071", "invalid propertyName 'Books'"],
    ] as const) {
      const result = await helmTemplate(tools, { set: [set] });
      assert.notEqual(result.code, 0, `helm rendered ${set}`);
      assert.match(result.stderr, /values don't meet the specifications of the schema/);
      assert.ok(result.stderr.includes(where), `${set}: ${result.stderr}`);
    }
  });

  it("entityServices' names: the rule new:service names a service by, users' taken", async () => {
    const schema = JSON.parse(await readFile(join(CHART_DIR, "values.schema.json"), "utf8"));
    const names = schema.properties.entityServices.propertyNames;
    assert.equal(names.pattern, SERVICE_NAME.source);
    assert.deepEqual(Object.keys(schema.properties.tls.properties.secrets.patternProperties), [SERVICE_NAME.source]);
    const taken = await helmTemplate(tools, { set: ["entityServices.users.grpcPort=50051"] });
    assert.notEqual(taken.code, 0, "an entity service named users is refused");
    assert.match(taken.stderr, /invalid propertyName 'users'/);
  });

  it("a selector that matches nothing: the API server refuses the Deployment, the chart checks name the Service, PDB and policy", async () => {
    // A pod label that replaces the chart's own component label: the pods no longer carry what selects them.
    const { yaml, objects } = await render({ set: ["users.podLabels.app\\.kubernetes\\.io/component=user"] });
    const { summary } = await runKubeconform(yaml);
    assert.equal(summary.invalid, 0, "each object on its own is valid: kubeconform cannot see it");

    const applied = await dryRun(yaml);
    assert.notEqual(applied.code, 0);
    assert.match(
      applied.stderr,
      /The Deployment "t-charter-users" is invalid: spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`/,
    );
    // The Service, the PDB and the NetworkPolicy that select nothing are accepted by the server.
    assert.match(applied.stdout, /service\/t-charter-users created \(server dry run\)/);
    assert.match(applied.stdout, /poddisruptionbudget\.policy\/t-charter-users created \(server dry run\)/);

    assert.deepEqual(checkReferences(objects).sort(), [
      "Deployment t-charter-users: its selector does not match its own pod template's labels",
      "NetworkPolicy t-charter-users: its selector matches no pod of the chart",
      "PodDisruptionBudget t-charter-users: its selector matches no pod of the chart",
      "Service t-charter-users: its selector matches no pod of the chart",
    ]);
  });

  it("a probe on a port the container does not expose: only the chart checks see it", async () => {
    const { yaml, objects } = await render({
      set: [
        "gateway.readinessProbe.httpGet.path=/readyz",
        "gateway.readinessProbe.httpGet.port=8081",
        "users.livenessProbe.grpc.port=50052",
      ],
    });
    assert.equal((await runKubeconform(yaml)).summary.invalid, 0, "kubeconform accepts any port number");
    const applied = await dryRun(yaml);
    assert.equal(applied.code, 0, `the API server accepts any port number too:\n${applied.stderr}`);
    assert.deepEqual(checkProbePorts(objects).sort(), [
      "Deployment t-charter-gateway, container gateway: readinessProbe on port 8081, which it does not expose (http=8080)",
      "Deployment t-charter-users, container users: livenessProbe on port 50052, which it does not expose (grpc=50051, metrics=9464)",
    ]);
  });

  it("a chart check that fails when it should: a route to a Service port that is not there", async () => {
    const { objects } = await render();
    const route = named(objects, "HTTPRoute", "t-charter-gateway");
    route.spec.rules[0].backendRefs[0].port = 8080;
    assert.deepEqual(checkReferences(objects), [
      "HTTPRoute t-charter-gateway: Service t-charter-gateway has no port 8080",
    ]);
  });
});

describe("DNS discovery, resolved as a headless Service resolves", () => {
  let dns: RunningServer | undefined;
  const users: ServiceProcess[] = [];
  let gateway: ServiceProcess | undefined;

  after(async () => {
    await gateway?.stop();
    await Promise.all(users.map((u) => u.stop()));
    await dns?.stop();
  });

  it("the gateway dials the chart's dns:/// target and round-robins over every address the name has", async () => {
    // The chart's targets with the port the test's users processes share (each on its own loopback address).
    const [grpcPort] = await freePorts(1);
    const { objects } = await render({
      set: ["discovery.mode=dns", `users.grpcPort=${grpcPort}`, `audit.grpcPort=${grpcPort}`],
    });
    const gatewayEnv = named(objects, "ConfigMap", "t-charter-gateway").data;
    const target = /^dns:\/\/\/([^:]+):(\d+)$/.exec(gatewayEnv.USERS_ADDR);
    assert.ok(target, gatewayEnv.USERS_ADDR);
    const [, host, port] = target;
    assert.equal(host, "t-charter-users.charter.svc.cluster.local");
    assert.equal(Number(port), grpcPort);
    const auditHost = /^dns:\/\/\/([^:]+):/.exec(gatewayEnv.AUDIT_ADDR)?.[1] as string;

    // A headless Service's name has one A record per ready pod: here three loopback addresses, one users process
    // each (without Kafka each also serves the audit service, so the audit name has the same three).
    const addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    dns = await startDnsServer({ [host as string]: addresses, [auditHost]: addresses });
    for (const address of addresses) {
      users.push(
        await startService(
          "services/users/main.ts",
          { USERS_HOST: address, USERS_GRPC_PORT: String(grpcPort), USERS_METRICS_PORT: "0", ...issuer.env },
          "users service ready",
          60_000,
        ),
      );
    }
    // In a pod, the system resolver asks the cluster DNS; here the target names our DNS server as its authority,
    // which grpc-js asks with its c-ares resolver (GRPC_NODE_USE_ALTERNATIVE_RESOLVER).
    const withAuthority = (value: string) => value.replace("dns:///", `dns://${dns?.url}/`);
    gateway = await startService(
      "services/gateway/main.ts",
      {
        ...gatewayEnv,
        ...otherServicesOffline(),
        USERS_ADDR: withAuthority(gatewayEnv.USERS_ADDR),
        AUDIT_ADDR: withAuthority(gatewayEnv.AUDIT_ADDR),
        GRPC_NODE_USE_ALTERNATIVE_RESOLVER: "true",
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_PORT: "0",
        ...LOAD_BUDGET,
        // The test's issuer rather than the chart's (no issuer runs at its address here).
        ...issuer.env,
      },
      "gateway ready",
    );
    const base = `http://127.0.0.1:${gateway.ready.port as number}`;
    const rpcs = async (instance: ServiceProcess, index: number) => {
      const metricsUrl = `http://${addresses[index]}:${instance.ready.metricsPort as number}/metrics`;
      const metrics = await (await fetch(metricsUrl)).text();
      return metrics
        .split("\n")
        .filter((line) => line.startsWith('charter_users_rpc_total{method="ListUsers"'))
        .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
    };
    // round_robin connects to every address the name resolves to; calls go to each once all are ready.
    await waitFor(
      "calls on all three users instances",
      async () => {
        const response = await fetch(`${base}/v1/users?pageSize=1`, { headers: { authorization } });
        assert.equal(response.status, 200, await response.text());
        const counts = await Promise.all(users.map((instance, index) => rpcs(instance, index)));
        return counts.every((count) => count > 0) ? counts : undefined;
      },
      20_000,
      20,
    );
  });
});

describe("the functions on Knative (functions.enabled)", () => {
  const values: ChartValues = { set: ["functions.enabled=true"] };
  const FUNCTIONS: Record<string, (env: Record<string, string>) => unknown> = {
    erasure: (env) => loadErasureConfig(env),
    notify: (env) => loadNotifyConfig(env),
  };

  it("off by default; on: a KafkaSource per function in the trigger's own group, into its Knative Service, retried with backoff, then into the dead-letter KafkaSink", async () => {
    const off = (await render()).objects;
    assert.deepEqual(
      off.filter((o) => o.apiVersion.includes("knative.dev")),
      [],
    );
    const { objects } = await render(values);
    const sink = named(objects, "KafkaSink", `${RELEASE}-charter-functions-dlq`);
    assert.equal(sink.spec.topic, userEventChannels.userEventsFunctionsDeadLetter);
    assert.equal(sink.spec.contentMode, "binary");
    for (const name of Object.keys(FUNCTIONS)) {
      const source = named(objects, "KafkaSource", `${RELEASE}-charter-fn-${name}`);
      assert.equal(source.apiVersion, "sources.knative.dev/v1beta1");
      // The same group the triggers process uses, so that moving a function between the two resumes where it was.
      assert.equal(source.spec.consumerGroup, groupIdOf({ name }));
      assert.deepEqual(source.spec.topics, [userEventChannels.userEvents]);
      assert.equal(source.spec.ordering, "ordered");
      assert.deepEqual(source.spec.sink.ref, {
        apiVersion: "serving.knative.dev/v1",
        kind: "Service",
        name: `${RELEASE}-charter-fn-${name}`,
      });
      assert.deepEqual(source.spec.delivery, {
        retry: 4,
        backoffPolicy: "exponential",
        backoffDelay: "PT0.2S",
        timeout: "PT10S",
        deadLetterSink: {
          ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "KafkaSink", name: sink.metadata.name },
        },
      });
    }
    // The chart's checks follow the sinks: one that names nothing rendered is caught.
    const lost = objects.map((o) =>
      o.kind === "KafkaSource"
        ? { ...o, spec: { ...o.spec, sink: { ref: { ...o.spec.sink.ref, name: "nowhere" } } } }
        : o,
    );
    assert.deepEqual(checkReferences(lost), [
      `KafkaSource ${RELEASE}-charter-fn-erasure: its sink Service nowhere is not in the chart`,
      `KafkaSource ${RELEASE}-charter-fn-notify: its sink Service nowhere is not in the chart`,
    ]);
  });

  it("kubeconform validates the Knative Services with Knative Serving's own schema", async () => {
    const { yaml } = await render(values);
    assert.match(yaml, /containerConcurrency: 10/);
    const { summary } = await runKubeconform(yaml.replace(/containerConcurrency: 10/g, "containerConcurency: 10"));
    assert.equal(summary.invalid, 2, "both Knative Services refused for the misspelt field");
  });

  it("each function's environment is one its loaders read and accept, its secrets files of read-only Secret volumes, on the port its Service exposes", async () => {
    const { objects } = await render(values);
    const team = await teamSecrets();
    const services = objects.filter((o) => o.kind === "Service" && o.apiVersion === "serving.knative.dev/v1") as Any[];
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), [
      `${RELEASE}-charter-fn-erasure`,
      `${RELEASE}-charter-fn-notify`,
    ]);
    for (const service of services) {
      const container = service.spec.template.spec.containers[0];
      const name = container.args[0] as string;
      const env = await containerEnvironment(objects, service, team);
      const reads = new Set<string>();
      const host = loadFunctionHostConfig(recording(env, reads));
      (FUNCTIONS[name] as (env: Record<string, string>) => unknown)(recording(env, reads));
      assert.equal(host.name, name);
      assert.deepEqual(
        Object.keys(env).filter((key) => !reads.has(key)),
        [],
        `${name}: variables never read`,
      );
      assert.deepEqual(
        container.ports.map((p: Any) => p.containerPort),
        [host.port],
      );
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext.runAsNonRoot, true);
    }
    assert.deepEqual(checkFileVariables(objects), []);
  });
});
