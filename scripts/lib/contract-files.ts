/** The contracts by directory: every service's files of one format, so that the tools name no service's file. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "./proto-descriptor.js";

export { singularOf } from "../../platform/service-names.js";

/** The contract files of one format: every file of contracts/<dir> with that extension, sorted, without the extension. */
export async function contractStems(dir: string, extension: string, root = repoRoot): Promise<string[]> {
  const entries = await readdir(join(root, "contracts", dir), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => entry.name.slice(0, -extension.length))
    .sort();
}
