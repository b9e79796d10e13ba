/**
 * A GraphQL validation rule bounding how much one operation may ask for, counted with
 * fragments expanded: its depth, its aliased fields (each alias of `user(id:)` or `users` is
 * another lookup) and its field selections overall.
 *
 * Depth is measured here rather than with mercurius's `queryDepth` because that one counts
 * introspection too, and GraphiQL's own schema query (`__schema` … `ofType` nested eight
 * times) is deeper than any limit worth having on data. Introspection subtrees are left out
 * of the depth (they read the schema, never the users service) but still count as fields.
 */
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";

export interface QueryLimits {
  /** Nesting of field selections; `{ user(id: 1) { id } }` is 2 deep. */
  readonly maxDepth: number;
  /** Aliased fields in one operation, fragments expanded. */
  readonly maxAliases: number;
  /** Field selections in one operation, fragments expanded. */
  readonly maxFields: number;
}

export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      let aliases = 0;
      let fields = 0;
      let depth = 0;
      // Stops as soon as a limit is passed, so a document built to expand exponentially is not walked.
      const within = (set: SelectionSetNode, level: number | undefined, visiting: Set<string>): boolean => {
        for (const selection of set.selections) {
          if (selection.kind === Kind.FIELD) {
            fields++;
            if (selection.alias) aliases++;
            const introspection = selection.name.value === "__schema" || selection.name.value === "__type";
            const here = level === undefined || introspection ? undefined : level + 1;
            if (here !== undefined) depth = Math.max(depth, here);
            if (fields > limits.maxFields || aliases > limits.maxAliases || depth > limits.maxDepth) return false;
            if (selection.selectionSet && !within(selection.selectionSet, here, visiting)) return false;
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            if (!within(selection.selectionSet, level, visiting)) return false;
          } else {
            const name = selection.name.value;
            const fragment = fragments.get(name);
            // Unknown and cyclic fragments are reported by GraphQL's own rules.
            if (!fragment || visiting.has(name)) continue;
            visiting.add(name);
            const ok = within(fragment.selectionSet, level, visiting);
            visiting.delete(name);
            if (!ok) return false;
          }
        }
        return true;
      };
      if (!within(operation.selectionSet, 0, new Set())) {
        const [message, reason] =
          depth > limits.maxDepth
            ? [`The operation nests fields more than ${limits.maxDepth} levels deep.`, "QUERY_TOO_DEEP"]
            : aliases > limits.maxAliases
              ? [`The operation selects more than ${limits.maxAliases} aliased fields.`, "QUERY_TOO_COMPLEX"]
              : [`The operation selects more than ${limits.maxFields} fields.`, "QUERY_TOO_COMPLEX"];
        context.reportError(
          new GraphQLError(`${message} Split it into smaller operations.`, {
            nodes: [operation],
            extensions: { code: "INVALID_ARGUMENT", reason },
          }),
        );
      }
      return false;
    },
  });
}
