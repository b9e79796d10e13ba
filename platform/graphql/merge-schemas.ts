/**
 * Every other service's GraphQL schema (contracts/graphql/<name>.graphql, a service made by `npm run new:service`)
 * merged into the users schema, as the gateway and the GraphQL mock both serve it: the definitions the users schema
 * has already (directives, scalars, ErrorCode, PageInfo) must be the same (descriptions aside) and are taken once;
 * its Query and Mutation fields extend the users schema's, and a field name both have stops start-up.
 */
import { type DefinitionNode, type FieldDefinitionNode, Kind, parse, print, valueFromASTUntyped } from "graphql";

/** A service's schema: its name (the file is contracts/graphql/<name>.graphql) and its SDL. */
export interface ServiceSchema {
  readonly name: string;
  readonly sdl: string;
}

/** A definition as SDL without its own description: what two schemas must agree on to share it. */
const shapeOf = (definition: DefinitionNode): string =>
  print({ ...definition, description: undefined } as unknown as DefinitionNode);

const nameOf = (definition: DefinitionNode): string | undefined =>
  "name" in definition && definition.name ? definition.name.value : undefined;

/** The users schema with every other service's merged in, as one SDL document. */
export function mergeSchemas(base: string, services: readonly ServiceSchema[]): string {
  if (services.length === 0) return base;
  const merged = [...parse(base).definitions];
  const byName = new Map(merged.flatMap((d) => (nameOf(d) ? [[nameOf(d) as string, shapeOf(d)]] : [])));
  const rootFields = new Set<string>();
  for (const d of merged) {
    if (d.kind === Kind.OBJECT_TYPE_DEFINITION && (d.name.value === "Query" || d.name.value === "Mutation")) {
      for (const f of d.fields ?? []) rootFields.add(`${d.name.value}.${f.name.value}`);
    }
  }
  for (const { name, sdl } of services) {
    const where = `contracts/graphql/${name}.graphql`;
    for (const d of parse(sdl).definitions) {
      const named = nameOf(d);
      if (d.kind === Kind.OBJECT_TYPE_DEFINITION && (named === "Query" || named === "Mutation")) {
        for (const f of d.fields ?? []) {
          const key = `${named}.${f.name.value}`;
          if (rootFields.has(key)) throw new Error(`${where}: ${key} is defined already`);
          rootFields.add(key);
        }
        merged.push({ ...d, kind: Kind.OBJECT_TYPE_EXTENSION } as DefinitionNode);
        continue;
      }
      if (named === undefined) continue;
      const known = byName.get(named);
      if (known === undefined) {
        byName.set(named, shapeOf(d));
        merged.push(d);
      } else if (known !== shapeOf(d)) {
        throw new Error(`${where}: ${named} differs from the definition of that name already in the schema`);
      }
    }
  }
  return print({ kind: Kind.DOCUMENT, definitions: merged });
}

/** The Query and Mutation fields of a schema. */
export function rootFieldsOf(sdl: string): { type: string; field: FieldDefinitionNode }[] {
  return parse(sdl).definitions.flatMap((d) =>
    d.kind === Kind.OBJECT_TYPE_DEFINITION && (d.name.value === "Query" || d.name.value === "Mutation")
      ? (d.fields ?? []).map((field) => ({ type: d.name.value, field }))
      : [],
  );
}

/** The full name of the RPC a field's `@rpc` names (`charter.books.v1.BooksService/GetBook`), "" when it has none. */
export function rpcOfField(field: FieldDefinitionNode): string {
  const rpc = field.directives?.find((x) => x.name.value === "rpc")?.arguments?.[0]?.value;
  return rpc ? String(valueFromASTUntyped(rpc)) : "";
}
