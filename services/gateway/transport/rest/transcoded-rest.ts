/**
 * The REST operations of every other service's contract (contracts/openapi/<name>.v1.yaml besides users),
 * transcoded to the gRPC method each one names in `x-charter-rpc`, with no code of the service's own in the
 * gateway. The operation's validated inputs become the method's request by one convention — path and query
 * parameters by name; `If-Match` as `etag`; a body as the entity field (`<singular>`, with the path's parameters
 * and the etag), and on PATCH the body's keys as the `updateMask` — and the response is the contract's: the entity
 * itself when the method answers one (with its `ETag`, and its `Location` — the path of the GET of one entity under
 * the operation's — where the contract declares them), else the message (an empty
 * list the contract requires given as []), nothing for a 204. Each document's paths must be its own: a path
 * another document has already is refused at start.
 */
import type { FastifyInstance } from "fastify";
import { singularOf } from "../../../../platform/service-names.js";
import type { ContractBackend } from "../../app/backends.js";
import { createContractSchemas } from "./contract-schemas.js";
import { type JsonObject, type OpenApiDocument, type Operation, operationsOf, resolve } from "./openapi-document.js";
import type { BoundHandler } from "./operation-types.js";
import { registerOperations } from "./register-rest.js";

export interface TranscodedDocument {
  /** The service's name (its document is contracts/openapi/<name>.v1.yaml). */
  readonly name: string;
  readonly document: OpenApiDocument;
  readonly backend: ContractBackend;
}

/** A path template with its parameters' names left out: /v1/books/{id} and /v1/books/{bookId} are one path. */
const shapeOf = (path: string): string => path.replace(/\{[^}]+\}/g, "{}");

/** Mounts each document's operations; throws, naming the path and the document, on a path already served. */
export async function registerTranscodedRest(
  app: FastifyInstance,
  mounted: OpenApiDocument,
  documents: readonly TranscodedDocument[],
): Promise<void> {
  const owners = new Map(operationsOf(mounted).map((op) => [shapeOf(op.path), "contracts/openapi (users)"]));
  for (const { name, document, backend } of documents) {
    const where = `contracts/openapi/${name}.v1.yaml`;
    const operations = operationsOf(document);
    for (const path of new Set(operations.map((op) => shapeOf(op.path)))) {
      const owner = owners.get(path);
      if (owner) throw new Error(`${where}: the path ${path} is served already by ${owner}`);
    }
    for (const op of operations) owners.set(shapeOf(op.path), where);
    const handlers = new Map(operations.map((op) => [op.id, transcoder(name, document, op, backend)]));
    await registerOperations(app, createContractSchemas(document), operations, (op) => {
      const handler = handlers.get(op.id);
      if (!handler) throw new Error(`${where}: no handler for ${op.id}`);
      return handler;
    });
  }
}

/**
 * The handler of one operation: its inputs as the request of its x-charter-rpc, the answer as the contract's.
 * Throws, naming the document and the operation, when the operation is not one the transcoding can serve: no
 * x-charter-rpc, a method the backend does not have, no 2xx response. The RPC completeness check asks it too.
 */
export function transcoder(
  name: string,
  document: OpenApiDocument,
  op: Operation,
  backend: ContractBackend,
): BoundHandler {
  const item = document.paths[op.path] as Record<string, JsonObject> | undefined;
  const rpc = item?.[op.method.toLowerCase()]?.["x-charter-rpc"];
  const where = `contracts/openapi/${name}.v1.yaml ${op.id}`;
  if (typeof rpc !== "string") throw new Error(`${where} has no x-charter-rpc`);
  const [service, method] = rpc.split("/");
  if (service !== backend.service || !method || !backend.methods.includes(method))
    throw new Error(`${where}: x-charter-rpc ${rpc} is not a method of ${backend.service}`);
  const success = [...op.responses.keys()].find((status) => /^2\d\d$/.test(status));
  if (!success) throw new Error(`${where} has no 2xx response`);
  const status = Number(success);
  const response = op.responses.get(success);
  const declares = (name: string) => [...(response?.headers.keys() ?? [])].some((h) => h.toLowerCase() === name);
  const declaresEtag = declares("etag");
  // A created entity's URL, where the contract declares Location: the path of the GET of one entity under this one
  // (none without such a GET).
  const member = declares("location")
    ? operationsOf(document).find(
        (o) => o.method === "GET" && /^\/\{[^}/]+\}$/.test(o.path.slice(op.path.length)) && o.path.startsWith(op.path),
      )
    : undefined;
  const schema = response?.content.get("application/json");
  const resolved = schema ? resolve(document, schema) : undefined;
  const required = Array.isArray(resolved?.node.required) ? (resolved.node.required as string[]) : [];
  const lists = resolved
    ? required.filter((p) => resolve(document, [...resolved.pointer, "properties", p]).node.type === "array")
    : [];
  const singular = singularOf(name);

  return async ({ path, query, header, body, context }) => {
    const params = { ...(query as JsonObject), ...(path as JsonObject) };
    const etag = header["If-Match"];
    const request: Record<string, unknown> = { ...params, ...(etag === undefined ? {} : { etag }) };
    if (body !== undefined) {
      request[singular] = { ...(body as JsonObject), ...(path as JsonObject), ...(etag === undefined ? {} : { etag }) };
      if (op.method === "PATCH") request.updateMask = Object.keys(body as JsonObject).join(",");
    }
    const answer = (await backend.call(method, request, context)) as Record<string, unknown>;
    if (status === 204) return { status, body: undefined };
    const entity = answer[singular];
    const out =
      entity !== undefined && Object.keys(answer).length === 1
        ? (entity as Record<string, unknown>)
        : { ...Object.fromEntries(lists.map((p) => [p, []])), ...answer };
    const headers: Record<string, string> = {};
    if (declaresEtag && typeof out.etag === "string") headers.etag = `"${out.etag}"`;
    if (member && typeof out.id === "string")
      headers.location = member.path.replace(/\{[^}/]+\}$/, encodeURIComponent(out.id));
    return { status, ...(Object.keys(headers).length > 0 ? { headers } : {}), body: out };
  };
}
