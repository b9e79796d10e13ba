/**
 * The CRUD convention of an entity service (every service made by `npm run new:service`), read from its contract
 * alone: each RPC's verb (platform/service-names.ts verbOf), the page
 * size a List takes by default (its request's field rule), and the store of the stateful mode, seeded from the
 * examples of its Get and List operations.
 */
import { type FieldRule, rulesOfMessage } from "../platform/rules/field-rules.js";
import { verbOf } from "../platform/service-names.js";
import type { ContractExamples } from "./contract-examples.js";
import { type Entity, type EntityInput, EntityStore } from "./mock-store.js";

/** The fields of an entity the store sets (output only), whatever a request says of them. */
const OUTPUT_ONLY = new Set(["id", "etag", "createTime", "updateTime"]);

/** The fields of a request's entity the store takes: those it gives (not null), none of the output-only ones. */
export function inputOf(fields: object): EntityInput<Entity> {
  return Object.fromEntries(
    Object.entries(fields).filter(([key, value]) => value != null && !OUTPUT_ONLY.has(key)),
  ) as EntityInput<Entity>;
}

/** The page size rule of a List RPC's request (`charter.books.v1.ListBooksRequest`), as generated. */
export function pageSizeRuleOf(rpc: string): FieldRule | undefined {
  const service = rpc.slice(0, rpc.indexOf("/"));
  const request = `${service.slice(0, service.lastIndexOf("."))}.${rpc.slice(rpc.indexOf("/") + 1)}Request`;
  return rulesOfMessage(request)?.pageSize;
}

/** The page size of a List RPC when the request gives none. */
export function defaultPageSize(rpc: string): number {
  const rule = pageSizeRuleOf(rpc);
  if (rule?.defaultValue === undefined)
    throw new Error(`generated/proto/field-rules.ts has no pageSize default of ${rpc}`);
  return Number(rule.defaultValue);
}

/**
 * The stateful mode's store of a service: the entities its Get operation's examples show, then those of its List
 * operation's pages; the entity named as its Get operation names it (`getBook`: book).
 */
export function entityStoreOf(examples: ContractExamples): EntityStore<Entity> {
  const get = examples.routes.find((r) => r.rpc !== undefined && verbOf(r.rpc) === "Get");
  const list = examples.routes.find((r) => r.rpc !== undefined && verbOf(r.rpc) === "List");
  if (!get) throw new Error("the contract has no Get operation: the stateful mode needs one to name its entity");
  const seed: Entity[] = [...examples.operation(get.operationId).examples.values()] as Entity[];
  for (const page of list ? examples.operation(list.operationId).examples.values() : []) {
    const items = Object.values(page as object).find(Array.isArray) as Entity[] | undefined;
    seed.push(...(items ?? []));
  }
  const singular = get.operationId.replace(/^get/, "");
  return new EntityStore(`${singular.charAt(0).toLowerCase()}${singular.slice(1)}`, seed);
}
