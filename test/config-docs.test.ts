/**
 * docs/configuration.md cannot drift from the configuration loaders. For each table (one per `## ` heading that
 * names its loader's file), the loader runs on an environment that records every variable it reads:
 *
 * - every variable read is a row of the table, and every row is a variable the loader reads;
 * - a default written as one value (`5000`, or `on (off when …)`) is the loader's own: setting the variable to it
 *   leaves the loaded configuration as it is with the variable unset;
 * - a default written as another variable of the table (`USERS_DEADLINE_MS`) follows it: setting both to the same
 *   probe value gives what setting the other one alone gives.
 *
 * Defaults written as prose (`unset → …`, `users-<8 hex>`) are not checked; the test lists them.
 *
 * A service made by `npm run new:service` (found by its contract) has its table on its own page, docs/<name>.md,
 * under a heading naming services/<name>/<name>-config.ts: checked the same way.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadErasureConfig } from "../functions/erasure/index.js";
import { loadFunctionHostConfig } from "../functions/function-config.js";
import { loadNotifyConfig } from "../functions/notify/index.js";
import { loadMockConfig } from "../mocks/mock-config.js";
import { ConfigError } from "../platform/config.js";
import { capitalized, entityServiceNames } from "../platform/service-names.js";
import { exportConfigured, serviceNameFromEnv, tracesSampler, tracingDisabled } from "../platform/tracing.js";
import { loadDevIssuerConfig } from "../scripts/lib/dev-issuer-config.js";
import { loadAuditConfig } from "../services/audit/audit-config.js";
import { loadGatewayConfig } from "../services/gateway/gateway-config.js";
import { loadTriggersConfig } from "../services/triggers/triggers-config.js";
import { loadUsersConfig } from "../services/users/users-config.js";

type Env = Record<string, string | undefined>;
type Loader = (env: Env) => unknown;

/**
 * A Python job's loader (`load_config(env)` of `<dir>/config.py`), run by the machine's python3 on a mapping that
 * records what it reads: the reads are replayed on `env` (so they are recorded here too), a ConfigError becomes
 * ours, and the loaded dataclass comes back as a plain object. The variables the job cannot start without get a
 * value when the environment has none, as the launcher gives them.
 */
function pythonLoader(dir: string, required: Env): Loader {
  const probe = `
import dataclasses, json, sys
from collections.abc import Mapping
sys.path.insert(0, sys.argv[1])
from config import ConfigError, load_config
given = json.load(sys.stdin)
reads = []
class Recording(Mapping):
    def __init__(self, values): self.values = values
    def __getitem__(self, key):
        reads.append(key)
        return self.values[key]
    def __iter__(self): return iter(self.values)
    def __len__(self): return len(self.values)
try:
    config = dataclasses.asdict(load_config(Recording(given)))
    print(json.dumps({"reads": reads, "config": config}))
except ConfigError as error:
    print(json.dumps({"reads": reads, "error": str(error)}))
`;
  return (env) => {
    // The values set, taken without reading them through the recording proxy.
    const values = Object.fromEntries(
      Object.keys(env).map((name) => [name, Object.getOwnPropertyDescriptor(env, name)?.value]),
    );
    const run = spawnSync("python3", ["-c", probe, new URL(`../${dir}`, import.meta.url).pathname], {
      input: JSON.stringify({ ...required, ...values }),
      encoding: "utf8",
    });
    assert.equal(run.status, 0, `python3 could not run ${dir}/config.py (install python3): ${run.error ?? run.stderr}`);
    const result = JSON.parse(run.stdout) as { reads: string[]; config?: unknown; error?: string };
    for (const name of result.reads) void env[name];
    if (result.error !== undefined) throw new ConfigError(result.error);
    return result.config;
  };
}

/** Where a loader's table is: docs/configuration.md, or a service's own page (a service made by new:service). */
const DOC = "docs/configuration.md";

/**
 * `env` with `required` as the values of variables it leaves unset: a loader that refuses to start without them
 * still has every read recorded.
 */
const withRequired = (env: Env, required: Env): Env =>
  new Proxy(env, {
    get: (target, property, receiver) =>
      Reflect.get(target, property, receiver) ?? (typeof property === "string" ? required[property] : undefined),
  });

/** The loaders, by the file their heading names. */
const LOADERS: Record<string, Loader> = {
  "services/users/users-config.ts": (env) => loadUsersConfig(env),
  "services/audit/audit-config.ts": (env) => loadAuditConfig(env),
  "services/gateway/gateway-config.ts": (env) => loadGatewayConfig(env),
  "platform/tracing.ts": (env) => ({
    disabled: tracingDisabled(env),
    exporting: exportConfigured(env, () => {}),
    serviceNamed: serviceNameFromEnv(env),
    sampler: tracesSampler(env),
  }),
  "mocks/mock-config.ts": (env) => loadMockConfig([], env),
  "scripts/lib/dev-issuer-config.ts": (env) => loadDevIssuerConfig(env),
  "services/triggers/triggers-config.ts": (env) =>
    loadTriggersConfig(withRequired(env, { TRIGGERS: "erasure=http://127.0.0.1:8091" })),
  "functions/function-config.ts": (env) => loadFunctionHostConfig(env),
  "functions/erasure/index.ts": (env) => loadErasureConfig(withRequired(env, { FUNCTION_CLIENT_SECRET: "secret" })),
  "functions/notify/index.ts": (env) => loadNotifyConfig(withRequired(env, { SMTP_URL: "smtp://127.0.0.1:2525" })),
  "jobs/user-stats/config.py": pythonLoader("jobs/user-stats", {
    KAFKA_BROKERS: "127.0.0.1:9092",
    STATS_CHECKPOINT_DIR: "/tmp/charter-user-stats-checkpoints",
    STATS_FLINK_JARS: "/tmp/flink-sql-connector-kafka.jar",
  }),
};

/** The loader of each service made by `npm run new:service` (found by its contract), its table on its own page. */
const SERVICE_DOCS: Record<string, string> = {};
for (const name of entityServiceNames()) {
  const file = `services/${name}/${name}-config.ts`;
  const loader = ((await import(`../${file}`)) as Record<string, Loader | undefined>)[`load${capitalized(name)}Config`];
  assert.ok(loader, `${file} exports load${capitalized(name)}Config`);
  LOADERS[file] = (env) => loader(env);
  SERVICE_DOCS[file] = `docs/${name}.md`;
}
const docOf = (file: string): string => SERVICE_DOCS[file] ?? DOC;

interface Row {
  readonly variable: string;
  readonly defaultCell: string;
  readonly line: number;
}

interface Section {
  /** The page the table is on. */
  readonly doc: string;
  readonly heading: string;
  readonly file: string;
  readonly rows: readonly Row[];
}

/** The `## ` sections of `doc` whose heading names a loader's file documented there, with their table rows. */
function parseSections(doc: string): Section[] {
  const text = readFileSync(new URL(`../${doc}`, import.meta.url), "utf8");
  const sections: { doc: string; heading: string; file: string; rows: Row[] }[] = [];
  let current: (typeof sections)[number] | undefined;
  text.split("\n").forEach((line, index) => {
    if (line.startsWith("## ")) {
      const file = Object.keys(LOADERS).find((path) => docOf(path) === doc && line.includes(`\`${path}\``));
      current = file ? { doc, heading: line.slice(3), file, rows: [] } : undefined;
      if (current) sections.push(current);
      return;
    }
    if (!current || !line.startsWith("|") || /^\|\s*(variable|-)/.test(line)) return;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    const variable = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? "")?.[1];
    assert.ok(
      variable && cells.length === 3,
      `${doc}:${index + 1}: a row is | \`VARIABLE\` | default | meaning |, one variable per row: ${line}`,
    );
    current.rows.push({ variable, defaultCell: cells[1] ?? "", line: index + 1 });
  });
  return sections;
}

/** An environment whose reads are recorded. */
function recording(values: Env, reads: Set<string>): Env {
  return new Proxy(
    { ...values },
    {
      get(target, property, receiver) {
        if (typeof property === "string") reads.add(property);
        return Reflect.get(target, property, receiver);
      },
    },
  );
}

/** Each top-level field of a loaded configuration, as JSON. */
function fields(config: unknown): Map<string, string> {
  return new Map(Object.entries(config as Record<string, unknown>).map(([key, value]) => [key, JSON.stringify(value)]));
}

/** What differs between two loads, on the fields that are the same whenever the environment is (no random ids). */
function differences(a: Map<string, string>, b: Map<string, string>, stable: ReadonlySet<string>): string[] {
  return [...stable].filter((key) => a.get(key) !== b.get(key)).map((key) => `${key}: ${a.get(key)} → ${b.get(key)}`);
}

/** A default written as one value, `5000` or `on (off when …)`; undefined for prose. */
function plainDefault(cell: string): string | undefined {
  const value = /^`?([^\s`<>]+)`?(?: \([^()]*\))?$/.exec(cell)?.[1];
  return value === "unset" ? undefined : value;
}

/** A value other than `value` of the same shape: a number plus one, a host:port with the port plus one. */
function probe(value: string): string {
  if (/^\d+$/.test(value)) return String(Number(value) + 1);
  const hostPort = /^(.*):(\d+)$/.exec(value);
  return hostPort ? `${hostPort[1]}:${Number(hostPort[2]) + 1}` : value;
}

function load(section: Section, env: Env, what: string): Map<string, string> {
  const loader = LOADERS[section.file] as Loader;
  try {
    return fields(loader(env));
  } catch (error) {
    if (error instanceof ConfigError) assert.fail(`${section.file} refuses ${what}: ${error.message} (${section.doc})`);
    throw error;
  }
}

const sections = [DOC, ...Object.values(SERVICE_DOCS)].flatMap((doc) => parseSections(doc));

describe(`the configuration tables (${[DOC, ...Object.values(SERVICE_DOCS)].join(", ")}) match their loaders`, () => {
  it("has a table for every loader", () => {
    for (const file of Object.keys(LOADERS)) {
      const section = sections.find((s) => s.file === file);
      assert.ok(section, `${docOf(file)} has no "## …" section naming \`${file}\``);
      assert.ok(section.rows.length > 0, `${section.doc}, section "${section.heading}": no table rows`);
    }
  });

  for (const section of sections) {
    describe(section.heading, () => {
      const documented = new Map(section.rows.map((row) => [row.variable, row]));

      it("has each variable once", () => {
        const seen = new Set<string>();
        for (const row of section.rows) {
          assert.ok(
            !seen.has(row.variable),
            `${section.doc}:${row.line}: ${row.variable} is in "${section.heading}" twice`,
          );
          seen.add(row.variable);
        }
      });

      it(`documents every variable ${section.file} reads, and only those`, () => {
        const reads = new Set<string>();
        // Unset, then each variable set to its documented default: the union of what the loader reads.
        (LOADERS[section.file] as Loader)(recording({}, reads));
        for (const row of section.rows) {
          const value = plainDefault(row.defaultCell);
          if (value !== undefined && !documented.has(value)) {
            try {
              (LOADERS[section.file] as Loader)(recording({ [row.variable]: value }, reads));
            } catch {
              // a refused default is reported by the defaults test, with the loader's message
            }
          }
        }
        const problems = [
          ...[...reads]
            .filter((name) => !documented.has(name))
            .map(
              (name) =>
                `${section.file} reads ${name}, which ${section.doc} does not document under "${section.heading}"`,
            ),
          ...section.rows
            .filter((row) => !reads.has(row.variable))
            .map(
              (row) =>
                `${section.doc}:${row.line}: ${row.variable} is documented, but ${section.file} does not read it`,
            ),
        ];
        assert.deepEqual(problems, [], problems.join("\n"));
      });

      it("gives the loader's own defaults", (t) => {
        const unset = load(section, {}, "an empty environment");
        const again = load(section, {}, "an empty environment");
        const stable = new Set([...unset.keys()].filter((key) => unset.get(key) === again.get(key)));
        const checked: string[] = [];
        const prose: string[] = [];
        for (const row of section.rows) {
          const value = plainDefault(row.defaultCell);
          if (value === undefined) {
            prose.push(row.variable);
            continue;
          }
          const other = documented.get(value);
          if (other) {
            // A default that is another variable: setting both to one probe value is setting the other alone.
            const otherDefault = plainDefault(other.defaultCell);
            assert.ok(
              otherDefault !== undefined,
              `${section.doc}:${other.line}: ${other.variable} needs a plain default`,
            );
            const p = probe(otherDefault);
            const alone = load(section, { [other.variable]: p }, `${other.variable}=${p}`);
            const both = load(section, { [other.variable]: p, [row.variable]: p }, `${row.variable}=${p}`);
            const diff = differences(alone, both, stable);
            assert.deepEqual(
              diff,
              [],
              `${section.doc}:${row.line}: ${row.variable} is documented to default to ${other.variable}, but in ` +
                `${section.file} with ${other.variable}=${p}, setting ${row.variable}=${p} changes ${diff.join("; ")}`,
            );
          } else {
            const set = load(section, { [row.variable]: value }, `${row.variable}=${value}`);
            const diff = differences(unset, set, stable);
            assert.deepEqual(
              diff,
              [],
              `${section.doc}:${row.line}: ${row.variable} is documented to default to ${value}, but in ${section.file} ` +
                `setting ${row.variable}=${value} changes ${diff.join("; ")}`,
            );
          }
          checked.push(row.variable);
        }
        t.diagnostic(`defaults checked: ${checked.join(", ")}`);
        t.diagnostic(`defaults in prose, not checked: ${prose.join(", ") || "none"}`);
        assert.ok(checked.length > 0, `${section.doc}, "${section.heading}": no default could be checked`);
      });
    });
  }
});
