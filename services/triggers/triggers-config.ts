import { ConfigError, envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { type KafkaSecurity, kafkaBrokers, kafkaSecurity } from "../../platform/events/kafka-config.js";
import type { RetrySettings } from "./app/trigger-delivery.js";
import { TRIGGER_NAME, type Trigger } from "./domain/trigger.js";

export interface TriggersConfig {
  /** TRIGGERS: `name=url` pairs, space- or comma-separated; TRIGGER_FILTERS: `name=TYPE+TYPE` pairs. */
  readonly triggers: readonly Trigger[];
  readonly host: string;
  readonly metricsPort: number;
  /** Empty → the in-process bus (only the events of this process: for tests and the embedded launcher). */
  readonly kafkaBrokers: readonly string[];
  readonly kafkaSecurity: KafkaSecurity;
  readonly instanceId: string;
  readonly retry: RetrySettings;
  /** How long one send to a function may take. */
  readonly timeoutMs: number;
  readonly logLevel: LogLevel;
}

const EVENT_TYPE = /^USER_EVENT_TYPE_[A-Z]+$/;

function pairs(name: string, text: string): [string, string][] {
  return text
    .split(/[\s,]+/)
    .filter((item) => item !== "")
    .map((item) => {
      const at = item.indexOf("=");
      if (at <= 0 || at === item.length - 1) {
        throw new ConfigError(
          `${name} must be name=value pairs separated by spaces or commas, got ${JSON.stringify(item)}`,
        );
      }
      return [item.slice(0, at), item.slice(at + 1)];
    });
}

function triggersOf(triggers: string, filters: string): Trigger[] {
  const types = new Map<string, string[]>();
  for (const [name, list] of pairs("TRIGGER_FILTERS", filters)) {
    const each = list.split("+");
    const bad = each.find((type) => !EVENT_TYPE.test(type));
    if (bad !== undefined) {
      throw new ConfigError(
        `TRIGGER_FILTERS must name event types such as USER_EVENT_TYPE_DELETED, got ${JSON.stringify(bad)}`,
      );
    }
    types.set(name, each);
  }
  const result = pairs("TRIGGERS", triggers).map(([name, url]): Trigger => {
    if (!TRIGGER_NAME.test(name)) {
      throw new ConfigError(`TRIGGERS must name functions with 1 to 63 of [a-z0-9-], got ${JSON.stringify(name)}`);
    }
    if (!/^https?:\/\/[^/?#\s]+(?:[/?#]\S*)?$/.test(url)) {
      throw new ConfigError(`TRIGGERS must give each function an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    return { name, url, types: types.get(name) ?? [] };
  });
  const names = new Set(result.map((trigger) => trigger.name));
  if (names.size !== result.length) throw new ConfigError("TRIGGERS names a function twice");
  const unknown = [...types.keys()].find((name) => !names.has(name));
  if (unknown !== undefined)
    throw new ConfigError(`TRIGGER_FILTERS names ${JSON.stringify(unknown)}, which TRIGGERS does not`);
  return result;
}

/** The triggers' configuration from the environment; throws ConfigError naming a bad variable. */
export function loadTriggersConfig(env: Readonly<Record<string, string | undefined>> = process.env): TriggersConfig {
  const e = envReader(env);
  const triggers = triggersOf(e.string("TRIGGERS", ""), e.string("TRIGGER_FILTERS", ""));
  if (triggers.length === 0)
    throw new ConfigError("TRIGGERS must name at least one function, e.g. erasure=http://127.0.0.1:8091");
  const initialDelayMs = e.int("TRIGGERS_BACKOFF_INITIAL_MS", 200, 1, 60_000);
  return {
    triggers,
    host: e.string("TRIGGERS_HOST", "0.0.0.0"),
    metricsPort: e.port("TRIGGERS_METRICS_PORT", 9466),
    kafkaBrokers: kafkaBrokers(e),
    kafkaSecurity: kafkaSecurity(e),
    instanceId: e.string("TRIGGERS_INSTANCE_ID", `triggers-${process.pid}`),
    retry: {
      maxAttempts: e.int("TRIGGERS_MAX_ATTEMPTS", 5, 1, 100),
      initialDelayMs,
      maxDelayMs: e.int("TRIGGERS_BACKOFF_MAX_MS", 30_000, initialDelayMs, 600_000),
    },
    timeoutMs: e.int("TRIGGERS_TIMEOUT_MS", 10_000, 100, 300_000),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}
