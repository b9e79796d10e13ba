import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The one naming rule for services named by a plural (`npm run new:service -- books`): the entity is its singular. */

/** A name as its proto types and services spell it: books → Books (BooksService), book → Book. */
export const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/** The singular of a service's plural name: categories → category, books → book. */
export function singularOf(plural: string): string {
  if (plural.endsWith("ies")) return `${plural.slice(0, -3)}y`;
  return plural.endsWith("s") ? plural.slice(0, -1) : plural;
}

/** The verbs of an entity service's RPCs, by the scaffold's convention. */
export type Verb = "Get" | "List" | "Create" | "Update" | "Delete" | "BatchGet";

/**
 * The verb of an RPC (`charter.books.v1.BooksService/GetBook` or `GetBook`): the method name's first word, if it is
 * one of the convention's.
 */
export function verbOf(rpc: string): Verb | undefined {
  const method = rpc.slice(rpc.lastIndexOf("/") + 1);
  return /^(BatchGet|Get|List|Create|Update|Delete)[A-Z]/.exec(method)?.[1] as Verb | undefined;
}

/**
 * The services with a REST contract of their own in `dir` (contracts/openapi): the `<name>` of each
 * `<name>.v1.yaml` but the file `except` (the document its caller serves already), sorted.
 */
export function otherServiceNames(dir: string, except: string): string[] {
  return readdirSync(dir)
    .flatMap((file) => {
      const name = /^([a-z][a-z0-9]*)\.v1\.yaml$/.exec(file)?.[1];
      return name && resolve(dir, file) !== resolve(except) ? [name] : [];
    })
    .sort();
}

/** This tree's OpenAPI documents (contracts/openapi/), one per service. */
const OPENAPI_DIR = fileURLToPath(new URL("../contracts/openapi/", import.meta.url));

/**
 * The services of this tree besides users that have a REST contract of their own (each one made by
 * `npm run new:service`): otherServiceNames of contracts/openapi/ but users.v1.yaml.
 */
export const entityServiceNames = (): string[] => otherServiceNames(OPENAPI_DIR, join(OPENAPI_DIR, "users.v1.yaml"));
