/**
 * Fastify's validator and serializer compilers over the contract: Ajv 2020-12 with the whole
 * OpenAPI document added as one schema, so a route's schemas are $refs into it (the contract's
 * own schemas, never copies). Bodies are validated without type coercion and with every error;
 * parameters are coerced from strings; responses are checked and stripped to what the contract
 * declares before they are written.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { FastifySchemaCompiler, FastifySerializerCompiler } from "fastify";
import { addRuleFormats } from "../../../../platform/rules/formats.js";
import { type OpenApiDocument, type Operation, type Pointer, refTo } from "./openapi-document.js";

const DOC_ID = "urn:charter:openapi:users.v1";
const OPENAPI_FIELDS = [
  "openapi",
  "info",
  "jsonSchemaDialect",
  "servers",
  "paths",
  "webhooks",
  "components",
  "security",
  "tags",
];
const OPENAPI_ANNOTATIONS = ["discriminator", "xml", "externalDocs", "example"];
/** What a refused pattern is told (the proto field rule's pattern_message, restated in the OpenAPI contract). */
const PATTERN_MESSAGE = "x-pattern-message";

/**
 * A failure as the client is told it: a refused pattern with the message its schema gives, and without what
 * `verbose` added (the schema, and the value, which never leaves in an error).
 */
function told({ data: _value, schema: _schema, parentSchema, ...failure }: ErrorObject): ErrorObject {
  const message = failure.keyword === "pattern" ? parentSchema?.[PATTERN_MESSAGE] : undefined;
  return typeof message === "string" ? { ...failure, message } : failure;
}

type Check = ((data: unknown) => boolean) & { errors: ErrorObject[] | null };

/** A compiled check whose `errors` (which Fastify reads) are the failures as told. */
function telling(validate: ValidateFunction): Check {
  const check: Check = Object.assign(
    (data: unknown) => {
      const ok = validate(data);
      check.errors = ok ? null : (validate.errors ?? []).map(told);
      return ok;
    },
    { errors: null },
  );
  return check;
}

function ajvOver(doc: OpenApiDocument, options: { coerceTypes: boolean; removeAdditional: boolean }): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    // Each failure carries its schema, for the contract's x-pattern-message (`told` below drops what it added).
    verbose: true,
    allErrors: !options.removeAdditional,
    coerceTypes: options.coerceTypes,
    removeAdditional: options.removeAdditional ? "all" : false,
    validateSchema: false,
  });
  // The one format set of platform/rules: `format: email` means here what it means in every other check.
  addRuleFormats(ajv);
  // The document's own fields, and the OpenAPI 3.1 schema vocabulary's annotations, are not validation keywords.
  ajv.addVocabulary([...OPENAPI_FIELDS, ...OPENAPI_ANNOTATIONS, PATTERN_MESSAGE]);
  ajv.addSchema(doc, DOC_ID);
  return ajv;
}

export interface ContractSchemas {
  readonly validatorCompiler: FastifySchemaCompiler<unknown>;
  readonly serializerCompiler: FastifySerializerCompiler<unknown>;
  /** The Fastify route schema of an operation: parameters, body and responses as refs into the contract. */
  routeSchema(operation: Operation): Record<string, unknown>;
  /**
   * A check of a value against one of the contract's schemas (e.g. an operation's response): what is wrong
   * with it, one entry per failure (the field as a JSON pointer, and Ajv's message, never the value); empty
   * when it fits.
   */
  checkerOf(pointer: Pointer): (value: unknown) => ContractViolation[];
}

export interface ContractViolation {
  /** A JSON pointer into the value, "/" for the value itself. */
  readonly field: string;
  readonly message: string;
}

/**
 * A parameters check (path, query or headers, coerced from strings): a number that coerces to no finite value
 * (`Infinity`, `1e400`, which Ajv's coercion lets through its integer and range checks) is refused as not an
 * integer, as Prism refuses it. Fastify reads the failures
 * from the function's `errors`, as Ajv leaves them.
 */
function parameterCheck(validate: Check): Check {
  const check: Check = Object.assign(
    (data: unknown) => {
      const record = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
      const ok = validate(data);
      const infinite = ok
        ? Object.keys(record).find((name) => typeof record[name] === "number" && !Number.isFinite(record[name]))
        : undefined;
      check.errors =
        infinite === undefined
          ? (validate.errors ?? null)
          : [
              {
                keyword: "type",
                instancePath: `/${infinite}`,
                schemaPath: "#/type",
                params: { type: "integer" },
                message: "must be integer",
              },
            ];
      return ok && infinite === undefined;
    },
    { errors: null },
  );
  return check;
}

export function createContractSchemas(doc: OpenApiDocument): ContractSchemas {
  const bodies = ajvOver(doc, { coerceTypes: false, removeAdditional: false });
  const parameters = ajvOver(doc, { coerceTypes: true, removeAdditional: false });
  const responses = ajvOver(doc, { coerceTypes: false, removeAdditional: true });
  const ref = (pointer: Pointer) => ({ $ref: refTo(DOC_ID, pointer) });

  /** The parameters in one location as an object schema; `closed` refuses undeclared names (and, with none declared, any). */
  const objectOf = (operation: Operation, location: string, nameOf: (name: string) => string, closed = false) => {
    const list = operation.parameters.filter((p) => p.in === location);
    if (list.length === 0 && !closed) return undefined;
    return {
      type: "object",
      properties: Object.fromEntries(list.map((p) => [nameOf(p.name), ref(p.schema)])),
      required: list.filter((p) => p.required).map((p) => nameOf(p.name)),
      ...(closed ? { additionalProperties: false } : {}),
    };
  };

  return {
    // Fastify reads the failures from the returned function's `errors`, as Ajv leaves them.
    validatorCompiler: ({ schema, httpPart }) =>
      httpPart === "body"
        ? telling(bodies.compile(schema as object))
        : parameterCheck(telling(parameters.compile(schema as object))),
    serializerCompiler: ({ schema, method, url, httpStatus, contentType }) => {
      const validate: ValidateFunction = responses.compile(schema as object);
      return (data: unknown) => {
        if (!validate(data)) {
          const where = `${method} ${url} ${httpStatus} ${contentType ?? ""}`;
          const why = (validate.errors ?? [])
            .map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`)
            .join("; ");
          // A bug in the gateway, never sent: the error handler answers 500 and logs this.
          throw new Error(`response of ${where} breaks the contract: ${why}`);
        }
        return JSON.stringify(data);
      };
    },
    checkerOf(pointer) {
      // Every error, nothing removed or coerced: the value is judged as it is.
      const validate = telling(bodies.compile(ref(pointer)));
      return (value) =>
        validate(value)
          ? []
          : (validate.errors ?? []).map((e) => {
              const missing = e.params.missingProperty;
              const field = typeof missing === "string" ? `${e.instancePath}/${missing}` : e.instancePath;
              return { field: field || "/", message: e.message ?? `fails ${e.keyword}` };
            });
    },
    routeSchema(operation) {
      const schema: Record<string, unknown> = {};
      const params = objectOf(operation, "path", (n) => n);
      // A query parameter the contract does not declare is refused, as an undeclared body field is.
      const querystring = objectOf(operation, "query", (n) => n, true);
      // Node lower-cases header names.
      const headers = objectOf(operation, "header", (n) => n.toLowerCase());
      if (params) schema.params = params;
      if (querystring) schema.querystring = querystring;
      if (headers) schema.headers = headers;
      if (operation.requestBody) {
        schema.body = {
          content: Object.fromEntries(
            [...operation.requestBody.content].map(([mediaType, pointer]) => [mediaType, { schema: ref(pointer) }]),
          ),
        };
      }
      const response: Record<string, unknown> = {};
      for (const [status, { content }] of operation.responses) {
        const withSchema = [...content].flatMap(([mediaType, pointer]) =>
          pointer ? [[mediaType, { schema: ref(pointer) }] as const] : [],
        );
        if (withSchema.length > 0) response[status.toLowerCase()] = { content: Object.fromEntries(withSchema) };
      }
      schema.response = response;
      return schema;
    },
  };
}
