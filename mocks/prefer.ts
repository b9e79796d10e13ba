/**
 * The `prefer` choice of the gRPC and GraphQL mocks (and of the stateful REST mock), spelled like Prism's Prefer
 * header: `code=NOT_FOUND`, `example=firstPage`, `delay=250` (milliseconds to wait first, at most MAX_DELAY_MS), or
 * several (`code=OK, example=empty, delay=100`).
 */
import { MAX_DELAY_MS } from "./faults.js";

export interface Preference {
  readonly code?: string;
  readonly example?: string;
  readonly delay?: number;
}

export class PreferError extends Error {
  override readonly name = "PreferError";
}

export function parsePrefer(values: readonly string[]): Preference {
  const out: { code?: string; example?: string; delay?: number } = {};
  for (const part of values.flatMap((v) => v.split(/[,;]/))) {
    const text = part.trim();
    if (text === "") continue;
    const match = /^(code|example|delay)\s*=\s*"?([^"]*)"?$/i.exec(text);
    if (!match?.[1] || !match[2]) {
      throw new PreferError(
        `prefer: cannot read ${JSON.stringify(text)}; use code=<CODE>, example=<name> and/or delay=<ms>`,
      );
    }
    const key = match[1].toLowerCase();
    if (key === "code") out.code = match[2].toUpperCase();
    else if (key === "example") out.example = match[2];
    else {
      const ms = /^\d{1,5}$/.test(match[2]) ? Number(match[2]) : Number.NaN;
      if (!(ms >= 0 && ms <= MAX_DELAY_MS)) {
        throw new PreferError(`prefer: delay must be a whole number of milliseconds from 0 to ${MAX_DELAY_MS}`);
      }
      out.delay = ms;
    }
  }
  return out;
}

/** The example to answer with: the preferred one, else the first; a name that is not there is a PreferError. */
export function pickExample<T>(examples: ReadonlyMap<string, T>, preference: Preference, what: string): T {
  const name = preference.example ?? examples.keys().next().value;
  if (name === undefined || !examples.has(name)) {
    throw new PreferError(
      `prefer: ${what} has no example ${JSON.stringify(name)}; it has ${[...examples.keys()].join(", ")}`,
    );
  }
  return examples.get(name) as T;
}
