/** The gateway's HTTP options in-process (Fastify inject): CORS from configuration, docs on or off. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inProcessGatewayOptions, offlineAudit, offlineUsers } from "../../test/support/in-process-gateway.js";
import type { ContractBackend, UsersBackend } from "./app/backends.js";
import { buildGateway, type GatewayOptions } from "./app.js";
import { registerGraphql } from "./transport/graphql/index.js";

const users = offlineUsers();
const audit = offlineAudit();
const options = (overrides: Partial<GatewayOptions>): GatewayOptions =>
  inProcessGatewayOptions({ users, audit, ...overrides });

test("CORS is off by default and allows exactly the configured origins", async () => {
  const none = await buildGateway(options({}));
  const plain = await none.inject({ method: "GET", url: "/healthz", headers: { origin: "https://app.example.com" } });
  assert.equal(plain.headers["access-control-allow-origin"], undefined);
  await none.close();

  const some = await buildGateway(options({ corsOrigins: ["https://app.example.com"] }));
  const allowed = await some.inject({
    method: "OPTIONS",
    url: "/v1/users",
    headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
  });
  assert.equal(allowed.headers["access-control-allow-origin"], "https://app.example.com");
  const plainOptions = await some.inject({ method: "OPTIONS", url: "/v1/users" });
  assert.equal(plainOptions.statusCode, 204, "an OPTIONS that is no preflight is not a text/plain 400");
  assert.match(String(plainOptions.headers["access-control-allow-methods"]), /PATCH/);
  const get = await some.inject({ method: "GET", url: "/healthz", headers: { origin: "https://app.example.com" } });
  assert.match(String(get.headers["access-control-expose-headers"]), /ETag/);
  const other = await some.inject({ method: "GET", url: "/healthz", headers: { origin: "https://evil.example" } });
  assert.equal(other.headers["access-control-allow-origin"], undefined);
  await some.close();
});

test("docs off: no Swagger UI, the contract is still served", async () => {
  const app = await buildGateway(options({ docs: false }));
  const docs = await app.inject({ method: "GET", url: "/docs" });
  assert.equal(docs.statusCode, 404);
  assert.match(String(docs.headers["content-type"]), /^application\/problem\+json/);
  assert.equal((await app.inject({ method: "GET", url: "/openapi.json" })).statusCode, 200);
  await app.close();
});

test("extra plugins get the app and the users client", async () => {
  let seen: UsersBackend | undefined;
  const app = await buildGateway(
    options({
      plugins: [
        (instance, deps) => {
          seen = deps.users;
          instance.get("/extra", async () => ({ ok: true }));
        },
      ],
    }),
  );
  assert.equal(seen, users);
  assert.equal((await app.inject({ method: "GET", url: "/extra" })).statusCode, 200);
  await app.close();
});

test("security headers: API answers allow nothing, the docs pages get their own policy", async () => {
  const app = await buildGateway(options({ plugins: [(i) => registerGraphql(i, { users, audit, graphiql: true })] }));
  try {
    for (const url of ["/healthz", "/openapi.json", "/v1/nothing-here"]) {
      const res = await app.inject({ method: "GET", url });
      assert.equal(
        res.headers["content-security-policy"],
        "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
        url,
      );
      assert.equal(res.headers["x-content-type-options"], "nosniff", url);
      assert.equal(res.headers["x-frame-options"], "SAMEORIGIN", url);
    }
    for (const url of ["/docs/", "/docs/static/swagger-ui.css", "/graphiql"]) {
      const res = await app.inject({ method: "GET", url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers["content-security-policy"]), /^default-src 'self';script-src 'self';/, url);
    }
  } finally {
    await app.close();
  }
});

test("the served contract's tokenUrl: <issuer>/token when the issuer's discovery cannot be read; /docs/json the same", async () => {
  const app = await buildGateway(options({}));
  try {
    type Served = {
      components: { securitySchemes: { oauth2: { flows: { clientCredentials: { tokenUrl: string } } } } };
    };
    const tokenUrl = (body: string) =>
      (JSON.parse(body) as Served).components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl;
    const served = await app.inject({ method: "GET", url: "/openapi.json" });
    assert.equal(tokenUrl(served.body), "http://127.0.0.1:9/issuer/token", "the in-process issuer answers nothing");
    assert.equal(
      tokenUrl((await app.inject({ method: "GET", url: "/docs/json" })).body),
      "http://127.0.0.1:9/issuer/token",
    );
    // Everything else is the contract as loaded.
    const loaded = inProcessGatewayOptions().document as unknown as Served;
    assert.notEqual(loaded.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl, tokenUrl(served.body));
    const { components: _, ...rest } = JSON.parse(served.body) as Served & Record<string, unknown>;
    const { components: __, ...loadedRest } = loaded as Served & Record<string, unknown>;
    assert.deepEqual(rest, loadedRest);
  } finally {
    await app.close();
  }
});

test("with another service's document: served at /openapi/<name>.json, listed in Swagger UI, 405 on its paths", async () => {
  const users = inProcessGatewayOptions().document;
  const books = {
    openapi: "3.1.0",
    info: { title: "Books", version: "1.0.0" },
    paths: {
      "/v1/books/{id}": {
        get: {
          operationId: "getBook",
          "x-charter-rpc": "charter.books.v1.BooksService/GetBook",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "The book." } },
        },
      },
    },
    // The users document's scheme, so that the served copy's tokenUrl is rewritten the same way.
    components: { securitySchemes: (users.components as Record<string, unknown>).securitySchemes },
  };
  const backend: ContractBackend = {
    service: "charter.books.v1.BooksService",
    methods: ["GetBook"],
    call: () => Promise.reject(new Error("not called")),
    close: () => {},
  };
  const alone = await buildGateway(options({}));
  const app = await buildGateway(options({ transcoded: [{ name: "books", document: books, backend }] }));
  try {
    const served = await app.inject({ method: "GET", url: "/openapi/books.json" });
    assert.equal(served.statusCode, 200);
    const document = JSON.parse(served.body) as typeof books;
    assert.deepEqual(Object.keys(document.paths), ["/v1/books/{id}"]);
    assert.match(served.body, /"tokenUrl":"http:\/\/127\.0\.0\.1:9\/issuer\/token"/);
    assert.equal((await app.inject({ method: "GET", url: "/openapi/users.json" })).statusCode, 404);

    const initializer = (gateway: typeof app) =>
      gateway.inject({ method: "GET", url: "/docs/static/swagger-initializer.js" }).then((r) => r.body);
    assert.match(
      await initializer(app),
      /"urls":\[\{"name":"users","url":"\/openapi\.json"\},\{"name":"books","url":"\/openapi\/books\.json"\}\]/,
    );
    assert.doesNotMatch(await initializer(alone), /"urls"/, "with users alone, Swagger UI loads its own copy");

    for (const method of ["PUT", "DELETE", "POST"] as const) {
      const refused = await app.inject({
        method,
        url: "/v1/books/1",
        payload: "{}",
        headers: { "content-type": "application/json" },
      });
      assert.equal(refused.statusCode, 405, method);
      assert.equal(refused.headers.allow, "GET, HEAD", method);
      assert.match(String(refused.headers["content-type"]), /^application\/problem\+json/);
    }
    assert.equal((await alone.inject({ method: "PUT", url: "/v1/books/1" })).statusCode, 404);
    assert.equal((await app.inject({ method: "PUT", url: "/v1/users/1" })).statusCode, 405, "users' paths stay 405");
  } finally {
    await app.close();
    await alone.close();
  }
});
