/**
 * The `prefer` choice of the gRPC and GraphQL mocks, spelled like Prism's Prefer header:
 * `code=NOT_FOUND`, `example=firstPage`, or both (`code=OK, example=empty`).
 */
export interface Preference {
  readonly code?: string;
  readonly example?: string;
}

export class PreferError extends Error {
  override readonly name = "PreferError";
}

export function parsePrefer(values: readonly string[]): Preference {
  const out: { code?: string; example?: string } = {};
  for (const part of values.flatMap((v) => v.split(/[,;]/))) {
    const text = part.trim();
    if (text === "") continue;
    const match = /^(code|example)\s*=\s*"?([^"]*)"?$/i.exec(text);
    if (!match?.[1] || !match[2]) {
      throw new PreferError(`prefer: cannot read ${JSON.stringify(text)}; use code=<CODE> and/or example=<name>`);
    }
    if (match[1].toLowerCase() === "code") out.code = match[2].toUpperCase();
    else out.example = match[2];
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
