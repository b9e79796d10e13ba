/**
 * `npm run new:service -- <name>`: scaffolds an entity service from the templates of scripts/scaffold/templates,
 * in the house's layout: its contracts in the four formats (proto with CRUD, list and batch-get and their scopes;
 * an OpenAPI document with `x-charter-rpc` per operation; a GraphQL schema with `@rpc` and `@auth`; AsyncAPI
 * events), the service under services/<name>/ (domain, app, memory and MongoDB adapters under the shared store
 * spec, gRPC transport, host with etcd registration), its tests and a docs page. `npm run generate` then writes
 * its generated code.
 *
 * <name> is the plural the service is named by, lower case (`books`, `categories`); the entity is its singular
 * (`book`, `category`). A name that is taken (a service, a contract or a docs page of that name) is refused
 * before anything is written. Exit code: 0 written, 1 refused.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { capitalized, singularOf } from "../platform/service-names.js";
import { repoRoot } from "./lib/proto-descriptor.js";

const TEMPLATES = fileURLToPath(new URL("./scaffold/templates/", import.meta.url));
/** A service's name; the chart's values.schema.json holds its entityServices keys to the same rule. */
export const SERVICE_NAME = /^[a-z][a-z0-9]{1,29}s$/;

export interface ServiceNames {
  readonly plural: string;
  readonly singular: string;
}

/** The names a service is made with, or an Error saying in one line what a good name is. */
export function serviceNames(name: string | undefined): ServiceNames {
  if (name === undefined || !SERVICE_NAME.test(name)) {
    throw new Error(
      `the service name must be a lower-case plural of 3 to 31 letters and digits ending in "s" (e.g. books), got ${JSON.stringify(name ?? "")}`,
    );
  }
  const singular = singularOf(name);
  if (!/^[a-z][a-z0-9]+$/.test(singular) || singular === name) {
    throw new Error(`the service name ${JSON.stringify(name)} has no usable singular (${JSON.stringify(singular)})`);
  }
  return { plural: name, singular };
}

/** Fills a template's placeholders: {{plural}}, {{Plural}}, {{PLURAL}} and the same of {{singular}}. */
export function fill(text: string, { plural, singular }: ServiceNames): string {
  const values: Record<string, string> = {
    plural,
    Plural: capitalized(plural),
    PLURAL: plural.toUpperCase(),
    singular,
    Singular: capitalized(singular),
    SINGULAR: singular.toUpperCase(),
  };
  return text.replace(
    /\{\{(plural|Plural|PLURAL|singular|Singular|SINGULAR)\}\}/g,
    (_, key: string) => values[key] ?? "",
  );
}

/** Every template, relative to the templates folder. */
async function templates(): Promise<string[]> {
  const entries = await readdir(TEMPLATES, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".tmpl"))
    .map((entry) => relative(TEMPLATES, join(entry.parentPath, entry.name)))
    .sort();
}

/** Writes the service's files into `root`; returns their paths relative to it. Refuses a taken name before writing. */
export async function scaffoldService(root: string, name: string | undefined): Promise<string[]> {
  const names = serviceNames(name);
  const planned = (await templates()).map((template) => ({
    template,
    target: fill(template, names).slice(0, -".tmpl".length),
  }));
  const taken = [`services/${names.plural}`, ...planned.map((p) => p.target)].find((path) =>
    existsSync(join(root, path)),
  );
  if (taken !== undefined) throw new Error(`a service named ${names.plural} exists already (${taken})`);
  for (const { template, target } of planned) {
    const file = join(root, target);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, fill(await readFile(join(TEMPLATES, template), "utf8"), names));
  }
  const written = planned.map((p) => p.target);
  // The house's formatting (of the files Biome knows), whatever the name's length did to the lines.
  const biome = spawnSync(
    join(root, "node_modules/.bin/biome"),
    ["check", "--write", "--files-ignore-unknown=true", ...written],
    { cwd: root, encoding: "utf8" },
  );
  if (biome.status !== 0) throw new Error(`biome could not format the new service:\n${biome.stdout}${biome.stderr}`);
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  try {
    const written = await scaffoldService(repoRoot, name);
    console.log(`new service ${name}: ${written.length} files written`);
    for (const path of written) console.log(`  ${path}`);
    console.log(`next: npm run generate, then node scripts/test.mjs $(find services/${name} -name '*.test.ts')`);
  } catch (error) {
    console.error(`new:service: ${(error as Error).message.split("\n")[0]}`);
    process.exitCode = 1;
  }
}
