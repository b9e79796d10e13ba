/**
 * Debian's Prometheus with the project's scrape config and alert rules (deploy/prometheus/), scraping the
 * users service (on real Redis, registered in a real etcd, its scrape target found there) and the gateway as
 * real processes: every target is up, the gateway's request
 * counter rises by exactly the number of requests sent, the alert rules load, every query of the Grafana
 * dashboard (deploy/grafana/charter.json) reads real series, and with Redis killed the cache-bypass alert fires.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { createLogger } from "../platform/logging.js";
import { type RunningServer, startEtcd, startPrometheus, startRedis } from "../scripts/infra/index.js";
import { metricValue, type ServiceProcess, startService, waitFor } from "../scripts/lib/processes.js";
import { type ScrapeTargets, watchRegistryTargets } from "../scripts/lib/prometheus-targets.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { startTestIssuer } from "./support/auth.js";

/** The issuer every process here trusts; every API request carries a token of it with every scope. */
const issuer = await startTestIssuer();
const authorization = await issuer.bearer();
after(() => issuer.close());

const deploy = fileURLToPath(new URL("../deploy/prometheus/", import.meta.url));
const SCRAPE_DEADLINE_MS = 30_000;

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

let redis: RunningServer;
let etcd: RunningServer;
let targets: Awaited<ReturnType<typeof watchRegistryTargets>>;
let written: ScrapeTargets | undefined;
let platform: RunningPlatform;
/** An audit service of its own (on the in-process bus), registered in etcd like the users instance. */
let audit: ServiceProcess;
let prometheus: RunningServer;
let configDir: string;

/** An instant query through the HTTP API; the vector's samples. */
async function query(promql: string): Promise<Sample[]> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const body = (await (await fetch(url)).json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== "success") throw new Error(`query ${promql} failed: ${body.error ?? "no error given"}`);
  return body.data?.result ?? [];
}

const single = async (promql: string): Promise<number> => {
  const [sample, ...rest] = await query(promql);
  assert.equal(rest.length, 0, `${promql} returned more than one series`);
  return sample === undefined ? 0 : Number(sample.value[1]);
};

const port = (ready: Record<string, unknown>, field: string): number => Number(ready[field]);

before(async () => {
  [redis, etcd] = await Promise.all([startRedis(), startEtcd()]);
  platform = await startPlatform({
    ...issuer.env,
    REDIS_URL: redis.url,
    ETCD_ENDPOINTS: etcd.url,
    REGISTRY_LEASE_TTL_S: "2",
    REDIS_COMMAND_TIMEOUT_MS: "200",
    CACHE_PROBE_INTERVAL_MS: "100",
  });
  audit = await startService(
    "services/audit/main.ts",
    {
      ETCD_ENDPOINTS: etcd.url,
      REGISTRY_LEASE_TTL_S: "2",
      AUDIT_HOST: "127.0.0.1",
      ...issuer.env,
      AUDIT_GRPC_PORT: "0",
      AUDIT_METRICS_PORT: "0",
    },
    "audit service ready",
  );
  await waitFor("the users cache to be up", async () =>
    (await metricValue(port(platform.users.ready, "metricsPort"), "charter_users_cache_up")) === 1 ? true : undefined,
  );
  // The project's config as shipped, with a 1 s scrape and evaluation interval, in a temp dir of its own.
  configDir = await mkdtemp(join(tmpdir(), "charter-prometheus-"));
  await cp(deploy, configDir, { recursive: true, filter: (source) => !source.endsWith(".json") });
  const config = parse(await readFile(join(configDir, "prometheus.yml"), "utf8")) as {
    global: Record<string, string>;
  };
  config.global.scrape_interval = "1s";
  config.global.evaluation_interval = "1s";
  await writeFile(join(configDir, "prometheus.yml"), stringify(config));
  // The users target comes from the registry (the instance registers its metrics address); the gateway's is given.
  targets = await watchRegistryTargets({
    endpoints: [etcd.url],
    dir: join(configDir, "targets"),
    gateway: [`127.0.0.1:${port(platform.gateway.ready, "port")}`],
    logger: createLogger("prometheus-targets", "warn"),
    onWrite: (list) => {
      written = list;
    },
  });
  await waitFor("the users and audit instances in the targets", () =>
    written?.users.length === 1 && written.audit.length === 1 ? true : undefined,
  );
  assert.deepEqual(written?.users, [`127.0.0.1:${port(platform.users.ready, "metricsPort")}`]);
  assert.deepEqual(written?.audit, [`127.0.0.1:${port(audit.ready, "metricsPort")}`]);
  prometheus = await startPrometheus(join(configDir, "prometheus.yml"));
});

after(async () => {
  await prometheus?.stop();
  await targets?.stop();
  await Promise.all([platform?.stop(), audit?.stop()]);
  await Promise.all([redis?.stop(), etcd?.stop()]);
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

describe("Prometheus with the project's scrape config", () => {
  test("every file_sd target is scraped and up", async () => {
    const up = await waitFor(
      "the three targets to be up",
      async () => {
        const samples = await query('up{job=~"charter-.*"}');
        return samples.length === 3 && samples.every((s) => s.value[1] === "1") ? samples : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
    assert.deepEqual(up.map((s) => s.metric.job).sort(), ["charter-audit", "charter-gateway", "charter-users"]);
    const { data } = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
      data: { activeTargets: Array<{ health: string; scrapeUrl: string }> };
    };
    assert.equal(data.activeTargets.length, 3);
    assert.ok(data.activeTargets.every((t) => t.health === "up" && t.scrapeUrl.endsWith("/metrics")));
  });

  test("the gateway request counter rises by exactly the number of requests sent", async () => {
    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Scraped", email: `${randomUUID()}@example.com` }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const counter =
      'sum(charter_gateway_http_request_duration_seconds_count{job="charter-gateway",method="GET",route="/v1/users/:id",status="200"})';
    // A scrape that has seen the gateway at all, so the baseline is what the gateway reports, not a gap.
    await waitFor("a gateway scrape", async () =>
      (await query('up{job="charter-gateway"}')).length > 0 ? true : undefined,
    );
    const before = await single(counter);
    const sent = 7;
    for (let i = 0; i < sent; i++) {
      const response = await fetch(`${platform.baseUrl}/v1/users/${id}`, { headers: { authorization } });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    const after = await waitFor(
      `the counter to reach ${before + sent}`,
      async () => {
        const value = await single(counter);
        return value >= before + sent ? value : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
    assert.equal(after - before, sent);
  });

  test("users RPC and store histograms are scraped", async () => {
    const rpc = await waitFor(
      "the GetUser duration histogram",
      async () => {
        const value = await single(
          'sum(charter_users_rpc_duration_seconds_count{job="charter-users",method="GetUser",code="OK"})',
        );
        return value > 0 ? value : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
    assert.ok(rpc > 0);
    const operations = await query('charter_users_store_duration_seconds_count{job="charter-users"}');
    assert.ok(operations.some((s) => s.metric.operation === "insert" && Number(s.value[1]) >= 1));
  });

  test("registry state is scraped: registered, lease renewals rising, the gateway's known endpoints", async () => {
    const renewals = 'sum(charter_users_registry_lease_renewals_total{job="charter-users"})';
    const first = await waitFor(
      "a scraped lease renewal",
      async () => {
        const value = await single(renewals);
        return value > 0 ? value : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
    await waitFor(
      "more renewals",
      async () => ((await single(renewals)) > first ? true : undefined),
      SCRAPE_DEADLINE_MS,
    );
    assert.equal(await single('charter_users_registered{job="charter-users"}'), 1);
    assert.equal(await single('sum(charter_users_registry_lease_losses_total{job="charter-users"})'), 0);
    assert.equal(await single('charter_gateway_users_endpoints{job="charter-gateway"}'), 1);
  });

  test("the alert rules are loaded, and every Grafana dashboard query is valid PromQL with data", async () => {
    const { data } = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> };
    };
    const loaded = data.groups.flatMap((g) => g.rules);
    assert.deepEqual(loaded.map((r) => r.name).sort(), [
      "CharterGatewayHighErrorRatio",
      "CharterGatewayHighLatencyP99",
      "CharterInstanceDown",
      "CharterUsersCacheBypassing",
      "CharterUsersRegistryLeaseLost",
    ]);
    const dashboard = JSON.parse(await readFile(join(deploy, "..", "grafana", "charter.json"), "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        // Every query runs; the series each one reads exist (the expressions name real metrics and labels).
        await query(target.expr.replaceAll("$__rate_interval", "1m"));
        const metrics = target.expr.match(/charter_[a-z_]+|process_resident_memory_bytes|\bup\b/g) ?? [];
        for (const metric of new Set(metrics)) {
          const series = await query(`count({__name__=~"${metric}(_bucket|_count)?"})`);
          assert.ok(series.length > 0, `${panel.title}: no series for ${metric}`);
        }
      }
    }
  });

  test("with Redis killed, reads bypass the cache and the cache-bypass alert fires", async () => {
    const rules = parse(await readFile(join(deploy, "rules", "charter.rules.yml"), "utf8")) as {
      groups: Array<{ rules: Array<{ alert?: string; expr: string }> }>;
    };
    const bypassRule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === "CharterUsersCacheBypassing");
    assert.ok(bypassRule, "charter.rules.yml has CharterUsersCacheBypassing");
    assert.deepEqual(await query(bypassRule.expr), [], "quiet while Redis is up");

    const created = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ name: "Bypassed", email: `${randomUUID()}@example.com` }),
    });
    const { id } = (await created.json()) as { id: string };
    await redis.kill();
    await waitFor(
      "the bypass counter to rise in Prometheus",
      async () => {
        const response = await fetch(`${platform.baseUrl}/v1/users/${id}`, { headers: { authorization } });
        assert.equal(response.status, 200, "reads are served from the store");
        await response.arrayBuffer();
        const rising = await query('increase(charter_users_cache_reads_total{result="bypass"}[1m]) > 0');
        return rising.length > 0 ? true : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
    assert.ok((await query(bypassRule.expr)).length > 0, "the alert expression evaluates true");
    await waitFor(
      "CharterUsersCacheBypassing to fire",
      async () => {
        const { data } = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
          data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
        };
        return data.alerts.some((a) => a.labels.alertname === "CharterUsersCacheBypassing" && a.state === "firing")
          ? true
          : undefined;
      },
      SCRAPE_DEADLINE_MS,
    );
  });
});
