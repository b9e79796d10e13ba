/**
 * The entity a fidelity run drives, read from the contracts by the service's plural name (`users`, or one made by
 * `npm run new:service`): its proto file and service, the entity message whose field rules give the corpus, the
 * List request's page size rule, the REST collection path (the operation whose `x-charter-rpc` is the Create RPC),
 * the example id the mocks answer for, and the GraphQL root fields. Names follow platform/service-names.ts.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { type FieldRule, rulesOfMessage } from "../../../platform/rules/field-rules.js";
import { capitalized, singularOf } from "../../../platform/service-names.js";

export interface Entity {
  readonly plural: string;
  readonly singular: string;
  /** `charter/<plural>/v1/<plural>.proto` and `charter.<plural>.v1.<Plural>Service`. */
  readonly protoFile: string;
  readonly service: string;
  /** The RPC names: CreateUser, UpdateUser, GetUser, DeleteUser, ListUsers. */
  readonly rpc: {
    readonly create: string;
    readonly update: string;
    readonly get: string;
    readonly delete: string;
    readonly list: string;
  };
  /** The entity's writable string fields with their rules (users: name, email; a scaffolded entity: name). */
  readonly fields: Readonly<Record<string, FieldRule>>;
  /** Those of `fields` a create must carry. */
  readonly required: readonly string[];
  /** The List request's page_size rule, as numbers. */
  readonly pageSize: { readonly min: number; readonly max: number };
  /** The REST collection path, e.g. `/v1/users`. */
  readonly restPath: string;
  /** The id of the contract's example entity (what a mock's Get answers; a mock's update names it). */
  readonly exampleId: string;
  /** GraphQL: the root fields and the input types of the mutations. */
  readonly graphql: {
    readonly create: string;
    readonly update: string;
    readonly list: string;
    readonly get: string;
    readonly createInput: string;
    readonly updateInput: string;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a parsed OpenAPI document
type Any = any;

/** The OpenAPI operation whose `x-charter-rpc` is `rpc`, with its path. */
function operationOf(doc: Any, rpc: string): { path: string; operation: Any } {
  for (const [path, item] of Object.entries<Any>(doc.paths ?? {})) {
    for (const operation of Object.values<Any>(item)) {
      if (operation?.["x-charter-rpc"] === rpc) return { path, operation };
    }
  }
  throw new Error(`no REST operation names ${rpc}`);
}

/** Follows a local `$ref` of the document. */
const resolved = (doc: Any, node: Any): Any =>
  typeof node?.$ref === "string"
    ? resolved(
        doc,
        node.$ref
          .replace(/^#\//, "")
          .split("/")
          .reduce((at: Any, key: string) => at?.[key], doc),
      )
    : node;

export function entityOf(plural: string): Entity {
  const singular = singularOf(plural);
  const [Plural, Singular] = [capitalized(plural), capitalized(singular)];
  const pkg = `charter.${plural}.v1`;
  const service = `${pkg}.${Plural}Service`;
  const message = rulesOfMessage(`${pkg}.${Singular}`);
  const pageRule = rulesOfMessage(`${pkg}.List${Plural}Request`)?.pageSize;
  if (!message || !pageRule) throw new Error(`generated/proto/field-rules.ts has no ${pkg}.${Singular} or its List`);
  const fields = Object.fromEntries(
    Object.entries(message).filter(([, rule]) => !rule.outputOnly && rule.maxLen !== undefined),
  );
  const rpc = {
    create: `Create${Singular}`,
    update: `Update${Singular}`,
    get: `Get${Singular}`,
    delete: `Delete${Singular}`,
    list: `List${Plural}`,
  };
  const doc: Any = parse(
    readFileSync(new URL(`../../../contracts/openapi/${plural}.v1.yaml`, import.meta.url), "utf8"),
  );
  const { path: restPath } = operationOf(doc, `${service}/${rpc.create}`);
  const { operation: get } = operationOf(doc, `${service}/${rpc.get}`);
  const examples = Object.values<Any>(resolved(doc, get.responses["200"]).content["application/json"].examples ?? {});
  const exampleId = resolved(doc, examples[0])?.value?.id;
  if (typeof exampleId !== "string") throw new Error(`${rpc.get}'s 200 response has no example with an id`);
  return {
    plural,
    singular,
    protoFile: `charter/${plural}/v1/${plural}.proto`,
    service,
    rpc,
    fields,
    required: Object.keys(fields).filter((field) => fields[field]?.required),
    pageSize: { min: Number(pageRule.minimum), max: Number(pageRule.maximum) },
    restPath,
    exampleId,
    graphql: {
      create: `create${Singular}`,
      update: `update${Singular}`,
      list: plural,
      get: singular,
      createInput: `Create${Singular}Input`,
      updateInput: `Update${Singular}Input`,
    },
  };
}
