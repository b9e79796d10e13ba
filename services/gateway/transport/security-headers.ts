/**
 * Security headers on every response (@fastify/helmet, helmet 8): nosniff, no framing, no referrer, same-origin
 * resources and opener, HSTS (ignored by browsers over plain HTTP, honoured behind TLS), and a Content-Security-
 * Policy. The API answers JSON only, so its policy allows nothing at all; the two pages a browser opens, Swagger UI
 * (/docs) and GraphiQL (/graphiql), get DOCS_CSP through their routes' `helmet` config: everything from this origin,
 * no inline script, no eval, nothing from another origin, and no inline style but the one element Swagger UI
 * renders, allowed by its hash. Both pages load their scripts and styles as files (GraphiQL's page keeps no inline
 * <style>), and React sets style attributes through the CSSOM, which style-src does not govern; the pages are
 * static, so a hash is enough where a nonce would need the page rewritten per request. helmet's default
 * `upgrade-insecure-requests` is left out: it would send a page opened over http://127.0.0.1 to https for its
 * assets. Swagger UI's "Authorize" asks the token issuer (the gateway's AUTH_ISSUER) for a token from the page: its
 * origin is the one other origin connect-src names.
 */
import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

type Directives = Record<string, string[]>;

/** A route's own helmet options: the documentation pages' policy. */
export interface DocsHelmet {
  readonly contentSecurityPolicy: { readonly useDefaults: false; readonly directives: Directives };
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** A route's own helmet options, as @fastify/helmet reads them on request (set on routes a plugin adds). */
    helmet?: DocsHelmet;
  }
  interface FastifyInstance {
    /** The option that gives a documentation page (Swagger UI, GraphiQL) its policy, set by registerSecurityHeaders. */
    docsHelmet: DocsHelmet;
  }
}

/** JSON answers: nothing may load, run or frame them. */
const API_CSP: Directives = {
  "default-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "frame-ancestors": ["'none'"],
};

/**
 * The one inline <style> element Swagger UI (swagger-ui-bundle.js of @fastify/swagger-ui 6.1.3) renders, by the hash
 * Chromium reports for it: allowed as exactly that text, not as 'unsafe-inline'. Another version that renders
 * other text is refused, and test/docs-browser.test.ts names the new hash.
 */
const SWAGGER_UI_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/** Swagger UI and GraphiQL: scripts, styles, fonts and requests from this origin only (and tokens from the issuer). */
const DOCS_CSP: Directives = {
  "default-src": ["'self'"],
  "script-src": ["'self'"],
  "script-src-attr": ["'none'"],
  "style-src": ["'self'", SWAGGER_UI_STYLE],
  // Their icons and fonts are data: URIs inside the CSS.
  "img-src": ["'self'", "data:"],
  "font-src": ["'self'", "data:"],
  "connect-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'self'"],
  "frame-ancestors": ["'none'"],
};

/**
 * The route option that gives a documentation page its policy (a route's `helmet`, read by the plugin), with the
 * token issuer's origin (the configured AUTH_ISSUER) as the one other origin its requests may go to.
 */
export function docsHelmetFor(issuer: string | undefined): DocsHelmet {
  const origin = issuer === undefined ? [] : [new URL(issuer).origin];
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...DOCS_CSP, "connect-src": [...(DOCS_CSP["connect-src"] ?? []), ...origin] },
    },
  };
}

/** Every response's headers, and `app.docsHelmet` for the documentation pages' routes. */
export async function registerSecurityHeaders(app: FastifyInstance, issuer: string | undefined): Promise<void> {
  app.decorate("docsHelmet", docsHelmetFor(issuer));
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
    // Answers are read by other origins through CORS (GATEWAY_CORS_ORIGINS), which CORP does not hinder.
    crossOriginResourcePolicy: { policy: "same-origin" },
  });
}
