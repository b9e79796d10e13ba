/** Other services' REST documents are refused at start when they claim a path another document serves. */
import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import type { ContractBackend } from "../../app/backends.js";
import { loadOpenApiDocument, type OpenApiDocument } from "./openapi-document.js";
import { registerTranscodedRest } from "./transcoded-rest.js";

const users = loadOpenApiDocument();
const backend: ContractBackend = {
  service: "charter.books.v1.BooksService",
  methods: ["GetBook", "ListBooks", "CreateBook", "UpdateBook", "DeleteBook", "BatchGetBooks"],
  call: () => Promise.reject(new Error("not called")),
  close: () => {},
};

/** A document with one GET operation on `path`, transcoded to GetBook. */
const documentWith = (path: string): OpenApiDocument => ({
  openapi: "3.1.0",
  paths: {
    [path]: {
      get: {
        operationId: `get${path.length}`,
        "x-charter-rpc": "charter.books.v1.BooksService/GetBook",
        responses: { "200": { description: "ok" } },
      },
    },
  },
});

test("a path the users document serves, under another parameter name, stops start-up naming it", async () => {
  const app = Fastify();
  await assert.rejects(
    registerTranscodedRest(app, users, [{ name: "books", document: documentWith("/v1/users/{bookId}"), backend }]),
    /^Error: contracts\/openapi\/books\.v1\.yaml: the path \/v1\/users\/\{\} is served already by contracts\/openapi \(users\)$/,
  );
  await app.close();
});

test("two other documents with one path: the second is refused; distinct paths mount", async () => {
  const app = Fastify();
  await assert.rejects(
    registerTranscodedRest(app, users, [
      { name: "books", document: documentWith("/v1/books/{id}"), backend },
      { name: "tomes", document: documentWith("/v1/books/{tomeId}"), backend },
    ]),
    /contracts\/openapi\/tomes\.v1\.yaml: the path \/v1\/books\/\{\} is served already by contracts\/openapi\/books\.v1\.yaml/,
  );
  await app.close();
  const fine = Fastify();
  await registerTranscodedRest(fine, users, [{ name: "books", document: documentWith("/v1/books/{id}"), backend }]);
  await fine.ready();
  assert.ok(fine.hasRoute({ method: "GET", url: "/v1/books/:id" }));
  await fine.close();
});

test("an operation whose x-charter-rpc is not a method of the service's backend stops start-up", async () => {
  const app = Fastify();
  const document = documentWith("/v1/books/{id}");
  const wrong = { ...backend, service: "charter.tomes.v1.TomesService" };
  await assert.rejects(
    registerTranscodedRest(app, users, [{ name: "books", document, backend: wrong }]),
    /x-charter-rpc charter\.books\.v1\.BooksService\/GetBook is not a method of charter\.tomes\.v1\.TomesService/,
  );
  await app.close();
  // The service's own name, but a method its generated definition lacks.
  const lacking = Fastify();
  const withoutGet = { ...backend, methods: backend.methods.filter((m) => m !== "GetBook") };
  await assert.rejects(
    registerTranscodedRest(lacking, users, [{ name: "books", document, backend: withoutGet }]),
    /x-charter-rpc charter\.books\.v1\.BooksService\/GetBook is not a method of charter\.books\.v1\.BooksService/,
  );
  await lacking.close();
});
