/**
 * The one set of examples every mock answers with: the OpenAPI document's own examples
 * (components/examples and each operation's response examples), read at start from
 * contracts/openapi/users.v1.yaml. Prism serves them over REST as they are; the gRPC and
 * GraphQL mocks map the same values to proto messages and GraphQL objects, so the three
 * mocks tell one story and cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { components } from "../generated/openapi/users.v1.js";
import { type Code, grpcStatusOf } from "../platform/errors.js";
import { unescapePointerSegment } from "../platform/json-pointer.js";

export const OPENAPI_FILE = fileURLToPath(new URL("../contracts/openapi/users.v1.yaml", import.meta.url));

export type Problem = components["schemas"]["Problem"];

type Json = { [key: string]: unknown };

export interface OperationExamples {
  readonly operationId: string;
  /** The success body examples by name, in document order (the first is the default); null for a body-less success. */
  readonly examples: ReadonlyMap<string, unknown>;
  /** The documented problem examples by code; when several statuses share a code, the lowest status. */
  readonly problems: ReadonlyMap<Code, Problem>;
}

export interface ContractExamples {
  /** A copy of the value at a local JSON pointer (`#/components/examples/AdaUser/value`), $refs resolved. */
  at(pointer: string): unknown;
  /** A copy of value with every local $ref in it resolved. */
  resolve(value: unknown): unknown;
  /** The examples of an operation; throws naming it when the document has no such operation. */
  operation(operationId: string): OperationExamples;
  /** The problem example of a documented response in components/responses (e.g. `NotFound`). */
  problem(responseName: string): Problem;
  /** Every operation of the document: its id, method (upper case) and path template (`/v1/users/{id}`). */
  readonly routes: readonly OperationRoute[];
}

export interface OperationRoute {
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  /** The RPC its `x-charter-rpc` names (`charter.books.v1.BooksService/GetBook`), if any. */
  readonly rpc?: string;
}

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const codes = new Set(Object.keys(grpcStatusOf));
export const isCode = (value: unknown): value is Code => typeof value === "string" && codes.has(value);

export function loadContractExamples(file: string = OPENAPI_FILE): ContractExamples {
  const doc = parse(readFileSync(file, "utf8")) as Json;

  const lookup = (pointer: string): unknown => {
    if (!pointer.startsWith("#/")) throw new Error(`${pointer}: only local references (#/…) are supported`);
    let node: unknown = doc;
    for (const raw of pointer.slice(2).split("/")) {
      const segment = unescapePointerSegment(decodeURIComponent(raw));
      node = isObject(node) ? node[segment] : Array.isArray(node) ? node[Number(segment)] : undefined;
      if (node === undefined) throw new Error(`${pointer}: nothing there in ${file}`);
    }
    return node;
  };
  const resolve = (value: unknown, depth = 0): unknown => {
    if (depth > 32) throw new Error("$ref nesting deeper than 32 levels");
    if (Array.isArray(value)) return value.map((v) => resolve(v, depth + 1));
    if (!isObject(value)) return value;
    if (typeof value.$ref === "string") return resolve(lookup(value.$ref), depth + 1);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, depth + 1)]));
  };

  const problemOf = (response: Json, where: string): Problem => {
    const media = (response.content as Json | undefined)?.["application/problem+json"];
    if (!isObject(media)) throw new Error(`${where}: no application/problem+json content`);
    const examples = isObject(media.examples) ? Object.values(media.examples) : [];
    const example = media.example ?? (isObject(examples[0]) ? examples[0].value : undefined);
    if (!isObject(example) || !isCode(example.code) || typeof example.detail !== "string") {
      throw new Error(`${where}: its problem example needs a known code and a detail`);
    }
    return example as unknown as Problem;
  };

  const operations = new Map<string, Json>();
  const routes: OperationRoute[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Json)) {
    if (!isObject(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (isObject(op) && typeof op.operationId === "string") {
        operations.set(op.operationId, op);
        routes.push({
          operationId: op.operationId,
          method: method.toUpperCase(),
          path,
          ...(typeof op["x-charter-rpc"] === "string" ? { rpc: op["x-charter-rpc"] } : {}),
        });
      }
    }
  }

  return {
    routes,
    at: (pointer) => resolve(lookup(pointer)),
    resolve: (value) => resolve(value),
    operation(operationId) {
      const op = operations.get(operationId);
      if (!op) throw new Error(`${file} has no operation ${operationId}`);
      const responses = resolve(op.responses ?? {}) as Json;
      const statuses = Object.keys(responses)
        .filter((s) => /^\d{3}$/.test(s))
        .sort();
      const success = statuses.find((s) => s.startsWith("2"));
      if (success === undefined) throw new Error(`${operationId}: no 2xx response is documented`);
      const examples = new Map<string, unknown>();
      const content = (responses[success] as Json).content as Json | undefined;
      const media = content?.["application/json"];
      if (isObject(media) && isObject(media.examples)) {
        for (const [name, example] of Object.entries(media.examples)) {
          if (isObject(example)) examples.set(name, example.value);
        }
      } else if (isObject(media) && media.example !== undefined) {
        examples.set("default", media.example);
      } else if (content === undefined) {
        examples.set("default", null);
      }
      if (examples.size === 0) throw new Error(`${operationId}: its ${success} response has no example`);
      const problems = new Map<Code, Problem>();
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const problem = problemOf(responses[status] as Json, `${operationId} ${status}`);
        if (!problems.has(problem.code)) problems.set(problem.code, problem);
      }
      return { operationId, examples, problems };
    },
    problem(responseName) {
      const response = resolve(lookup(`#/components/responses/${responseName}`));
      if (!isObject(response)) throw new Error(`components/responses/${responseName} is not a response`);
      return problemOf(response, `components/responses/${responseName}`);
    },
  };
}

/** A field as a REST problem names it (a JSON pointer, `/email`) → its proto path (`user.email`). */
export function protoPathOfPointer(pointer: string, prefix: string): string {
  const path = pointer
    .replace(/^\//, "")
    .split("/")
    .filter((s) => s !== "")
    .map((s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
    .join(".");
  return prefix && path ? `${prefix}.${path}` : prefix || path;
}
