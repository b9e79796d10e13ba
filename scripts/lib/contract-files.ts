/** The contracts by directory: every service's files of one format, so that the tools name no service's file. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "./proto-descriptor.js";

/** The contract files of one format: every file of contracts/<dir> with that extension, sorted, without the extension. */
export async function contractStems(dir: string, extension: string, root = repoRoot): Promise<string[]> {
  const entries = await readdir(join(root, "contracts", dir), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => entry.name.slice(0, -extension.length))
    .sort();
}

/** The singular of a service's plural name, the one rule the generator and the scaffold share: categories → category, books → book. */
export function singularOf(plural: string): string {
  if (plural.endsWith("ies")) return `${plural.slice(0, -3)}y`;
  return plural.endsWith("s") ? plural.slice(0, -1) : plural;
}
