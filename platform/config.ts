/**
 * Environment → typed configuration, parsed once at start. A bad value throws a
 * ConfigError whose message is one line naming the variable; entry points print it
 * and exit non-zero (see lifecycle.ts).
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

export interface EnvReader {
  string(name: string, fallback: string): string;
  optionalUrl(name: string, protocols: readonly string[]): string | undefined;
  port(name: string, fallback: number): number;
  int(name: string, fallback: number, min: number, max: number): number;
  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T;
}

export function envReader(env: Env = process.env): EnvReader {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const fail = (name: string, want: string, got: string): never => {
    throw new ConfigError(`${name} must be ${want}, got ${JSON.stringify(got)}`);
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : fail(name, `an integer from ${min} to ${max}`, value);
  };
  return {
    string: (name, fallback) => raw(name) ?? fallback,
    optionalUrl(name, protocols) {
      const value = raw(name);
      if (value === undefined) return undefined;
      // Scheme and a non-empty authority; multi-host URLs (mongodb://a:1,b:2/db) are valid too.
      const scheme = value.slice(0, value.indexOf(":") + 1);
      const ok = protocols.includes(scheme) && /^[a-z+]+:\/\/[^/?#\s]+(?:[/?#]\S*)?$/.test(value);
      return ok ? value : fail(name, `a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`, value);
    },
    port: (name, fallback) => int(name, fallback, 0, 65535),
    int,
    oneOf(name, fallback, allowed) {
      const value = raw(name);
      if (value === undefined) return fallback;
      return (allowed as readonly string[]).includes(value)
        ? (value as (typeof allowed)[number])
        : fail(name, `one of ${allowed.join(", ")}`, value);
    },
  };
}

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];
