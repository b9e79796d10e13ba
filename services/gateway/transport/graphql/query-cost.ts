/**
 * What a GraphQL request costs in the gateway's request budget: one unit per started FIELDS_PER_UNIT field
 * selections of the operation it runs, fragments expanded, introspection (`__schema`, `__type`, `__typename`) left
 * out as it never reaches a backend. A usual page query (`users { edges { node { id name email } } pageInfo { … } }`,
 * 9 fields) costs 1, as a REST call does; the largest operation the query limits let through (1,000 fields) costs
 * 100. A request whose query cannot be read costs 1: GraphQL refuses it before anything runs.
 */
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
} from "graphql";

export const FIELDS_PER_UNIT = 10;

const INTROSPECTION = new Set(["__schema", "__type", "__typename"]);

/** The operation a request runs: the one named, or the only one. */
function operationOf(document: DocumentNode, name: string | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (name === undefined) return operations.length === 1 ? operations[0] : undefined;
  return operations.find((o) => o.name?.value === name);
}

/** Field selections of the operation, fragments expanded, introspection aside; counting stops past `cap`. */
export function countFields(document: DocumentNode, operationName: string | undefined, cap: number): number {
  const operation = operationOf(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let fields = 0;
  // Stops as soon as the cap is passed, so a document built to expand exponentially is not walked.
  const walk = (set: SelectionSetNode, visiting: Set<string>): boolean => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (INTROSPECTION.has(selection.name.value)) continue;
        if (++fields > cap) return false;
        if (selection.selectionSet && !walk(selection.selectionSet, visiting)) return false;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!walk(selection.selectionSet, visiting)) return false;
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || visiting.has(selection.name.value)) continue;
        visiting.add(selection.name.value);
        const ok = walk(fragment.selectionSet, visiting);
        visiting.delete(selection.name.value);
        if (!ok) return false;
      }
    }
    return true;
  };
  walk(operation.selectionSet, new Set());
  return Math.min(fields, cap);
}

/** Budget units of a query document as sent (`query`, `operationName`); 1 when it cannot be read. */
export function queryCost(
  query: unknown,
  operationName: unknown,
  limits: { readonly maxFields: number; readonly maxTokens: number },
): number {
  if (typeof query !== "string") return 1;
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true, maxTokens: limits.maxTokens });
  } catch {
    return 1;
  }
  const fields = countFields(document, typeof operationName === "string" ? operationName : undefined, limits.maxFields);
  return Math.max(1, Math.ceil(fields / FIELDS_PER_UNIT));
}
