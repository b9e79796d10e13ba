/**
 * The REST contract, loaded at run time from contracts/openapi/users.v1.yaml and walked into
 * a list of operations: method, path, parameters, request and response media types, each
 * schema named by its JSON pointer into the document (so validators compile the contract's
 * own schemas, $refs and all, instead of copies).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { escapePointerSegment, unescapePointerSegment } from "../../../../platform/json-pointer.js";
import { otherServiceNames } from "../../../../platform/service-names.js";

export type JsonObject = { readonly [key: string]: unknown };

/** The parsed document. Only the parts the gateway walks are typed; the rest is kept as it is. */
export interface OpenApiDocument extends JsonObject {
  readonly openapi: string;
  readonly paths: Readonly<Record<string, JsonObject>>;
}

/** A JSON pointer as its unescaped segments, e.g. ["components", "schemas", "User"]. */
export type Pointer = readonly string[];

export type ParameterLocation = "path" | "query" | "header" | "cookie";

export interface OperationParameter {
  readonly name: string;
  readonly in: ParameterLocation;
  readonly required: boolean;
  readonly schema: Pointer;
}

export interface OperationResponse {
  /** Media type → schema pointer (undefined when the media type has no schema). */
  readonly content: ReadonlyMap<string, Pointer | undefined>;
  /** Header name as written in the contract → the header object's pointer. */
  readonly headers: ReadonlyMap<string, Pointer>;
}

export interface Operation {
  readonly id: string;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** The contract's path template, e.g. /v1/users/{id}. */
  readonly path: string;
  /**
   * The same path in Fastify's syntax, e.g. /v1/users/:id. A colon of the contract's path is escaped (`::`):
   * find-my-way reads `/v1/users:lookup` as a parameter otherwise.
   */
  readonly route: string;
  readonly parameters: readonly OperationParameter[];
  readonly requestBody: { readonly required: boolean; readonly content: ReadonlyMap<string, Pointer> } | undefined;
  /** Status ("201", "4XX", "default") → response. */
  readonly responses: ReadonlyMap<string, OperationResponse>;
  /**
   * The operation's `security` (or the document's): alternatives, any one of which admits a call, each the scopes
   * it needs (of every scheme it names). Empty: no alternative, the operation is open; `[[]]` likewise.
   */
  readonly security: readonly (readonly string[])[];
}

export const CONTRACT_PATH = fileURLToPath(new URL("../../../../contracts/openapi/users.v1.yaml", import.meta.url));

/**
 * Every other service's REST contract: each contracts/openapi/<name>.v1.yaml besides the users document, by name
 * (the gateway mounts them all, transcoded to their services).
 */
export function loadOtherOpenApiDocuments(
  dir: string = dirname(CONTRACT_PATH),
): { readonly name: string; readonly document: OpenApiDocument }[] {
  return otherServiceNames(dir, CONTRACT_PATH).map((name) => ({
    name,
    document: loadOpenApiDocument(join(dir, `${name}.v1.yaml`)),
  }));
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

export function loadOpenApiDocument(path: string = CONTRACT_PATH): OpenApiDocument {
  const doc = parse(readFileSync(path, "utf8")) as unknown;
  if (!isObject(doc) || typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.1") || !isObject(doc.paths)) {
    throw new Error(`${path} is not an OpenAPI 3.1 document`);
  }
  return doc as OpenApiDocument;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A pointer as a URI fragment reference (escaped per RFC 6901 and RFC 3986) into the document named `id`. */
export const refTo = (id: string, pointer: Pointer): string =>
  `${id}#${pointer.map((s) => `/${encodeURIComponent(escapePointerSegment(s))}`).join("")}`;

const at = (doc: JsonObject, pointer: Pointer): unknown =>
  pointer.reduce<unknown>(
    (node, segment) => (typeof node === "object" && node !== null ? (node as JsonObject)[segment] : undefined),
    doc,
  );

/** Follows local $refs (#/…) from a node to the object it names, returning that object and its pointer. */
export function resolve(doc: JsonObject, pointer: Pointer): { node: JsonObject; pointer: Pointer } {
  let current = pointer;
  for (let hops = 0; hops < 32; hops++) {
    const node = at(doc, current);
    if (!isObject(node)) throw new Error(`the contract has nothing at #/${current.join("/")}`);
    const ref = node.$ref;
    if (typeof ref !== "string") return { node, pointer: current };
    if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported, got ${ref}`);
    current = ref
      .slice(2)
      .split("/")
      .map((s) => unescapePointerSegment(decodeURIComponent(s)));
  }
  throw new Error(`$ref chain too long at #/${pointer.join("/")}`);
}

function parametersAt(doc: JsonObject, pointer: Pointer): OperationParameter[] {
  const list = at(doc, pointer);
  if (!Array.isArray(list)) return [];
  return list.map((_, i) => {
    const { node, pointer: p } = resolve(doc, [...pointer, String(i)]);
    const location = node.in;
    if (typeof node.name !== "string" || !["path", "query", "header", "cookie"].includes(String(location))) {
      throw new Error(`invalid parameter at #/${p.join("/")}`);
    }
    return {
      name: node.name,
      in: location as ParameterLocation,
      required: node.required === true,
      schema: [...p, "schema"],
    };
  });
}

function contentAt(doc: JsonObject, pointer: Pointer): Map<string, Pointer | undefined> {
  const content = at(doc, pointer);
  const out = new Map<string, Pointer | undefined>();
  if (!isObject(content)) return out;
  for (const [mediaType, media] of Object.entries(content)) {
    out.set(mediaType, isObject(media) && media.schema !== undefined ? [...pointer, mediaType, "schema"] : undefined);
  }
  return out;
}

/** A path template as a Fastify route: literal colons doubled (`/v1/users:lookup` → `/v1/users::lookup`), `{id}` → `:id`. */
export const fastifyRoute = (path: string): string => path.replace(/:/g, "::").replace(/\{([^}]+)\}/g, ":$1");

/** A security requirement list (`[{oauth2: ["users:read"]}]`) as its alternatives' scopes. */
function securityOf(requirements: unknown, where: string): string[][] {
  if (requirements === undefined) return [];
  if (!Array.isArray(requirements)) throw new Error(`${where}: security is not a list`);
  return requirements.map((requirement) => {
    if (!isObject(requirement)) throw new Error(`${where}: a security requirement is not an object`);
    return Object.values(requirement).flatMap((scopes) => {
      if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string")) {
        throw new Error(`${where}: a security requirement's scopes are not a list of strings`);
      }
      return scopes as string[];
    });
  });
}

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const path of Object.keys(doc.paths)) {
    const item = resolve(doc, ["paths", path]);
    const shared = parametersAt(doc, [...item.pointer, "parameters"]);
    for (const method of METHODS) {
      if (!isObject(item.node[method])) continue;
      const op: Pointer = [...item.pointer, method];
      const { node } = resolve(doc, op);
      if (typeof node.operationId !== "string") throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      // Operation-level parameters override path-level ones with the same name and location.
      const own = parametersAt(doc, [...op, "parameters"]);
      const parameters = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];

      let requestBody: Operation["requestBody"];
      if (node.requestBody !== undefined) {
        const body = resolve(doc, [...op, "requestBody"]);
        const content = new Map<string, Pointer>();
        for (const [mediaType, schema] of contentAt(doc, [...body.pointer, "content"])) {
          if (schema) content.set(mediaType, schema);
        }
        requestBody = { required: body.node.required === true, content };
      }

      const responses = new Map<string, OperationResponse>();
      const responsesNode = node.responses;
      for (const status of isObject(responsesNode) ? Object.keys(responsesNode) : []) {
        const response = resolve(doc, [...op, "responses", status]);
        const headers = new Map<string, Pointer>();
        const headersNode = response.node.headers;
        for (const name of isObject(headersNode) ? Object.keys(headersNode) : []) {
          headers.set(name, resolve(doc, [...response.pointer, "headers", name]).pointer);
        }
        responses.set(status, { content: contentAt(doc, [...response.pointer, "content"]), headers });
      }

      operations.push({
        id: node.operationId,
        method: method.toUpperCase(),
        path,
        route: fastifyRoute(path),
        parameters,
        requestBody,
        responses,
        security: securityOf(node.security ?? doc.security, `${method.toUpperCase()} ${path}`),
      });
    }
  }
  return operations;
}
