/**
 * The GraphiQL IDE served entirely from this process: the page, a small start script, and
 * the UMD builds of React, ReactDOM and GraphiQL read from node_modules. Nothing is fetched
 * from another origin, and nothing on the page is inline (its own styles are a file too): the
 * documentation pages' Content-Security-Policy (../security-headers.ts) says so to the browser.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const GRAPHIQL_PATH = "/graphiql";
export const GRAPHIQL_ASSETS = `${GRAPHIQL_PATH}/assets`;

const require = createRequire(import.meta.url);
// Each package's folder from its package.json, named literally so that an image's bundler sees what is read here.
const react = dirname(require.resolve("react/package.json"));
const reactDom = dirname(require.resolve("react-dom/package.json"));
const graphiql = dirname(require.resolve("graphiql/package.json"));

const JS = "application/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** The page's own layout, served as a file: the page has no inline style for its policy to allow. */
const PAGE_CSS = `html, body { height: 100%; margin: 0; }
#graphiql { height: 100vh; }
`;

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const asset = (body: Buffer | string, type: string): Asset => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { body: bytes, type, etag: `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"` };
};

/** Mounts GraphiQL (in the order the UMD builds need: React, ReactDOM, GraphiQL) against graphqlPath. */
function startScript(graphqlPath: string): string {
  return `"use strict";
(function () {
  var fetcher = GraphiQL.createFetcher({ url: ${JSON.stringify(graphqlPath)} });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
`;
}

function page(): string {
  const script = (name: string) => `    <script src="${GRAPHIQL_ASSETS}/${name}"></script>`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Charter GraphQL — GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS}/graphiql.min.css" />
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS}/graphiql-page.css" />
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
${script("react.production.min.js")}
${script("react-dom.production.min.js")}
${script("graphiql.min.js")}
${script("graphiql-start.js")}
  </body>
</html>
`;
}

async function loadAssets(graphqlPath: string): Promise<Map<string, Asset>> {
  const files: Record<string, [string, string]> = {
    "react.production.min.js": [join(react, "umd/react.production.min.js"), JS],
    "react-dom.production.min.js": [join(reactDom, "umd/react-dom.production.min.js"), JS],
    "graphiql.min.js": [join(graphiql, "graphiql.min.js"), JS],
    "graphiql.min.css": [join(graphiql, "graphiql.min.css"), CSS],
  };
  const assets = new Map<string, Asset>();
  for (const [name, [path, type]] of Object.entries(files)) {
    // The builds point at source maps that are not served; drop the pointer so browsers do not ask.
    const text = (await readFile(path, "utf8")).replace(/\n\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, "\n");
    assets.set(name, asset(text, type));
  }
  assets.set("graphiql-start.js", asset(startScript(graphqlPath), JS));
  assets.set("graphiql-page.css", asset(PAGE_CSS, CSS));
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, item: Asset, cacheControl: string): FastifyReply {
  reply.header("content-type", item.type).header("etag", item.etag).header("cache-control", cacheControl);
  if (request.headers["if-none-match"] === item.etag) return reply.code(304).send();
  return reply.send(item.body);
}

/** GET /graphiql and GET /graphiql/assets/<file>; any other asset name is 404. */
export async function registerGraphiql(app: FastifyInstance, graphqlPath: string): Promise<void> {
  const assets = await loadAssets(graphqlPath);
  const html = asset(page(), "text/html; charset=utf-8");

  // The IDE is documentation: it never draws on the request budget (its queries to /graphql do), and has the
  // documentation pages' policy.
  const options = { config: { budget: "exempt" as const }, helmet: app.docsHelmet };
  app.get(GRAPHIQL_PATH, options, (request, reply) => send(request, reply, html, "no-cache"));
  app.get<{ Params: { file: string } }>(`${GRAPHIQL_ASSETS}/:file`, options, (request, reply) => {
    const item = assets.get(request.params.file);
    if (!item) return reply.callNotFound();
    return send(request, reply, item, "public, max-age=3600");
  });
}
