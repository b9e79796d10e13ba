import { readFileSync } from "node:fs";

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
  /**
   * A secret (a password, a private key, a certificate): the value of `name`, or the contents of the file that
   * `<name>_FILE` names; undefined when neither is set. Both set, or an unreadable file, is a ConfigError that
   * names the variable and never shows the value.
   */
  secret(name: string): string | undefined;
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
    secret(name) {
      const value = env[name];
      const file = raw(`${name}_FILE`);
      const direct = value === undefined || value.trim() === "" ? undefined : value;
      if (direct !== undefined && file !== undefined) {
        throw new ConfigError(`${name} and ${name}_FILE are both set: set one of them`);
      }
      if (file === undefined) return direct;
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        const code = (error as { code?: string }).code ?? "unreadable";
        throw new ConfigError(`${name}_FILE must name a readable file, got ${JSON.stringify(file)} (${code})`);
      }
      // A password file usually ends with a newline that is not part of the password.
      const trimmed = text.replace(/\r?\n$/, "");
      if (trimmed === "") throw new ConfigError(`${name}_FILE names an empty file: ${JSON.stringify(file)}`);
      return trimmed;
    },
  };
}

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];
