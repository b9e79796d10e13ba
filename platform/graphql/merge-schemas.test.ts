/** Other services' GraphQL schemas merge into the users schema, or stop start-up saying why. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildSchema } from "graphql";
import { mergeSchemas } from "./merge-schemas.js";

const users = readFileSync(new URL("../../contracts/graphql/users.graphql", import.meta.url), "utf8");
const books = `
"Repeated with another description: the same definition."
scalar DateTime
type Book { id: ID! }
type Query { book(id: ID!): Book }
type Mutation { deleteBook(id: ID!): Book }
`;

test("a schema's own types and root fields join the users schema; shared definitions are taken once", () => {
  const schema = buildSchema(mergeSchemas(users, [{ name: "books", sdl: books }]));
  assert.ok(schema.getType("Book"));
  assert.ok(schema.getQueryType()?.getFields().book);
  assert.ok(schema.getQueryType()?.getFields().user, "the users fields stay");
  assert.ok(schema.getMutationType()?.getFields().deleteBook);
});

test("a shared name defined otherwise, or a root field the users schema has, stops start-up naming it", () => {
  assert.throws(
    () => mergeSchemas(users, [{ name: "books", sdl: `${books}\ntype PageInfo { hasNextPage: Boolean }` }]),
    /^Error: contracts\/graphql\/books\.graphql: PageInfo differs from the definition of that name already in the schema$/,
  );
  assert.throws(
    () => mergeSchemas(users, [{ name: "books", sdl: "type Query { user(id: ID!): String }" }]),
    /contracts\/graphql\/books\.graphql: Query\.user is defined already/,
  );
});
