/**
 * Checks HTTP responses against contracts/openapi/users.v1.yaml, from the contract alone (no
 * gateway code): the status is documented for the operation, the content type is a documented
 * one, the body validates against its schema (Ajv, JSON Schema 2020-12, $refs resolved in the
 * document, components/responses and components/headers included), and every documented header
 * is present with a valid value.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { escapePointerSegment, unescapePointerSegment } from "../../platform/json-pointer.js";

const addFormats = addFormatsModule.default;
const contractFile = fileURLToPath(new URL("../../contracts/openapi/users.v1.yaml", import.meta.url));
const DOC_ID = "urn:test:openapi";

type Json = { [key: string]: unknown };

export interface ResponseToCheck {
  readonly status: number;
  readonly headers: Headers;
  /** The raw body ("" when there is none). */
  readonly text: string;
}

export interface ContractOperation {
  readonly id: string;
  readonly method: string;
  readonly path: string;
}

export interface OpenApiValidator {
  /** The operation a request goes to, by method and URL path; undefined for a route the contract does not have. */
  operationFor(method: string, path: string): ContractOperation | undefined;
  /** Everything wrong with a response to the operation; empty when it conforms. */
  check(operationId: string, response: ResponseToCheck): string[];
  /** Everything wrong with a response that should be a problem document of this status (for routes outside the contract). */
  checkProblem(status: number, response: ResponseToCheck): string[];
}

const escapeSegment = (s: string) => encodeURIComponent(escapePointerSegment(s));
const pointerRef = (segments: readonly string[]) => `${DOC_ID}#${segments.map((s) => `/${escapeSegment(s)}`).join("")}`;

export function createOpenApiValidator(file: string = contractFile): OpenApiValidator {
  const doc = parse(readFileSync(file, "utf8")) as Json;
  const ajvOf = (coerceTypes: boolean) => {
    const ajv = new Ajv2020({ strict: true, allErrors: true, coerceTypes, validateSchema: false });
    addFormats(ajv);
    ajv.addVocabulary([
      "openapi",
      "info",
      "servers",
      "paths",
      "components",
      "tags",
      "example",
      "security",
      "x-pattern-message",
    ]);
    ajv.addSchema(doc, DOC_ID);
    return ajv;
  };
  const bodies = ajvOf(false);
  const headerValues = ajvOf(true);
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (ajv: Ajv2020, segments: readonly string[]) => {
    const ref = pointerRef(segments);
    const key = `${ajv === bodies ? "b" : "h"}${ref}`;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      compiled.set(key, validate);
    }
    return validate;
  };

  const get = (segments: readonly string[]): unknown =>
    segments.reduce<unknown>((node, s) => (node && typeof node === "object" ? (node as Json)[s] : undefined), doc);
  /** Follows local $refs; returns the object and where it is. */
  const deref = (segments: readonly string[]): { node: Json; at: string[] } => {
    let at = [...segments];
    for (let i = 0; i < 20; i++) {
      const node = get(at) as Json | undefined;
      if (!node || typeof node !== "object") throw new Error(`nothing at #/${at.join("/")}`);
      if (typeof node.$ref !== "string") return { node, at };
      at = node.$ref
        .slice(2)
        .split("/")
        .map((s) => unescapePointerSegment(decodeURIComponent(s)));
    }
    throw new Error(`$ref loop at #/${segments.join("/")}`);
  };

  const operations: (ContractOperation & { at: string[]; pattern: RegExp })[] = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of Object.keys(item as Json)) {
      const op = (item as Json)[method] as Json;
      if (typeof op?.operationId !== "string") continue;
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`);
      operations.push({ id: op.operationId, method: method.toUpperCase(), path, at: ["paths", path, method], pattern });
    }
  }

  const mediaTypeOf = (headers: Headers) => headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  const errorsOf = (validate: ValidateFunction) =>
    (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`).join("; ");

  /** Checks a response against the response object at `at` (a $ref or not). */
  const checkAgainst = (where: string, at: readonly string[], response: ResponseToCheck): string[] => {
    const problems: string[] = [];
    const { node, at: resolved } = deref(at);
    const content = node.content as Json | undefined;
    const mediaType = mediaTypeOf(response.headers);
    if (!content) {
      if (response.text !== "")
        problems.push(`${where}: no body is documented, got ${JSON.stringify(response.text.slice(0, 80))}`);
    } else if (!mediaType || !(mediaType in content)) {
      problems.push(`${where}: content type ${mediaType ?? "(none)"} is not one of ${Object.keys(content).join(", ")}`);
    } else if ((content[mediaType] as Json).schema !== undefined) {
      let body: unknown;
      try {
        body = JSON.parse(response.text);
      } catch {
        problems.push(`${where}: the body is not JSON: ${JSON.stringify(response.text.slice(0, 80))}`);
      }
      if (body !== undefined) {
        const validate = validatorAt(bodies, [...resolved, "content", mediaType, "schema"]);
        if (!validate(body)) problems.push(`${where}: body breaks the schema: ${errorsOf(validate)}`);
      }
    }
    for (const name of Object.keys((node.headers as Json | undefined) ?? {})) {
      const header = deref([...resolved, "headers", name]);
      const value = response.headers.get(name);
      if (value === null) {
        problems.push(`${where}: documented header ${name} is missing`);
        continue;
      }
      // Header values are text: the validator coerces them to the schema's type, as a client would read them.
      const validate = validatorAt(headerValues, [...header.at, "schema"]);
      if (!validate(value)) {
        problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${errorsOf(validate)}`);
      }
    }
    return problems;
  };

  return {
    operationFor: (method, path) => {
      const op = operations.find((o) => o.method === method.toUpperCase() && o.pattern.test(path));
      return op && { id: op.id, method: op.method, path: op.path };
    },
    check(operationId, response) {
      const op = operations.find((o) => o.id === operationId);
      if (!op) return [`the contract has no operation ${operationId}`];
      const responses = (get([...op.at, "responses"]) ?? {}) as Json;
      const status = String(response.status);
      const key = [status, `${status[0]}XX`, "default"].find((k) => k in responses);
      if (!key) return [`${operationId}: status ${status} is not documented (${Object.keys(responses).join(", ")})`];
      return checkAgainst(`${operationId} ${status}`, [...op.at, "responses", key], response);
    },
    checkProblem(status, response) {
      const problems: string[] = [];
      if (response.status !== status) problems.push(`status ${response.status}, expected ${status}`);
      if (mediaTypeOf(response.headers) !== "application/problem+json") {
        problems.push(`content type ${mediaTypeOf(response.headers)} is not application/problem+json`);
        return problems;
      }
      try {
        const validate = validatorAt(bodies, ["components", "schemas", "Problem"]);
        const body = JSON.parse(response.text) as { status?: unknown };
        if (!validate(body)) problems.push(`problem breaks the schema: ${errorsOf(validate)}`);
        if (body.status !== response.status)
          problems.push(`problem status ${String(body.status)} is not ${response.status}`);
      } catch {
        problems.push(`the body is not JSON: ${JSON.stringify(response.text.slice(0, 80))}`);
      }
      return problems;
    },
  };
}

/**
 * A REST call to a gateway whose response must conform to the contract (asserted): its status and JSON body.
 * JSON bodies are sent as the operation takes them (merge patch for PATCH).
 */
export async function contractRequest(
  validator: OpenApiValidator,
  baseUrl: string,
  request: { method: string; path: string; authorization: string; body?: unknown },
): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const { method, path, authorization, body } = request;
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization,
      ...(body === undefined
        ? {}
        : { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const operation = validator.operationFor(method, path.split("?")[0] as string);
  assert.ok(operation, `${method} ${path} is in the contract`);
  assert.deepEqual(validator.check(operation.id, { status: response.status, headers: response.headers, text }), []);
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}
