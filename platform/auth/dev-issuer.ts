/**
 * The development OpenID provider that `npm start` runs on embedded defaults, and the tests too: oidc-provider
 * (a certified OpenID Connect implementation) with the client-credentials grant and resource indicators, issuing
 * JWT access tokens (RFC 9068) for the API's audience with the scopes the contracts declare. Its signing key is
 * made at start and lives in memory; `rotate()` makes a new one, keeping the old one published until `retire()`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider, { type Adapter, type AdapterPayload, errors } from "oidc-provider";
import { DEFAULT_AUDIENCE, DEV_ISSUER_PORT } from "./auth-config.js";

/** A client of the development issuer: what it is called, its secret, and the scopes it may ask for. */
export interface DevClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

export interface DevIssuerOptions {
  readonly host?: string;
  /** 0 picks a free port. Default: DEV_ISSUER_PORT. */
  readonly port?: number;
  readonly audience?: string;
  /** Every scope the API knows (the contracts' security scheme's). */
  readonly scopes: readonly string[];
  /**
   * Default: charter-dev with every scope, charter-reader with the scopes ending in :read, charter-functions with
   * users:erase and users:history.
   */
  readonly clients?: readonly DevClient[];
  /** Access token lifetime, seconds. Default 3600. */
  readonly tokenTtlS?: number;
}

export interface DevIssuer {
  /** The issuer URL (`iss`), e.g. http://127.0.0.1:9400. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  readonly clients: readonly DevClient[];
  /** A token from the token endpoint (client credentials), as any client would get one. */
  token(client: DevClient, scopes?: readonly string[]): Promise<string>;
  /** Signs with a new key from now on; the old one stays in the JWKS until retire(). */
  rotate(): Promise<void>;
  /** Drops every key but the newest from the JWKS: tokens signed with them stop verifying once caches refresh. */
  retire(): Promise<void>;
  close(): Promise<void>;
}

interface SigningKey {
  readonly jwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { jwk: { ...jwk, alg: "RS256", use: "sig", kid: randomBytes(8).toString("hex") } };
}

/**
 * The provider's storage, in memory (what it stores for the client-credentials grant is short-lived). Passing one
 * explicitly is also what keeps oidc-provider from printing its "quick start adapter" warning at start.
 */
function inMemoryAdapter(): (model: string) => Adapter {
  const entries = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) entries.delete(key);
    return entries.get(key)?.payload;
  };
  return (model) => ({
    async upsert(id, payload, expiresIn) {
      entries.set(`${model}:${id}`, {
        payload,
        expiresAt: expiresIn === undefined ? Number.POSITIVE_INFINITY : Date.now() + expiresIn * 1000,
      });
    },
    find: async (id) => live(`${model}:${id}`),
    findByUid: async (uid) => [...entries.keys()].map(live).find((payload) => payload?.uid === uid),
    findByUserCode: async (userCode) => [...entries.keys()].map(live).find((payload) => payload?.userCode === userCode),
    async consume(id) {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      entries.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const key of [...entries.keys()]) if (live(key)?.grantId === grantId) entries.delete(key);
    },
  });
}

export const devClientsFor = (scopes: readonly string[]): DevClient[] => [
  { clientId: "charter-dev", clientSecret: "charter-dev-secret", scopes },
  {
    clientId: "charter-reader",
    clientSecret: "charter-reader-secret",
    scopes: scopes.filter((s) => s.endsWith(":read")),
  },
  // The platform's event-triggered functions: the erasure function erases a deleted user's history and reads it.
  {
    clientId: "charter-functions",
    clientSecret: "charter-functions-secret",
    scopes: scopes.filter((s) => s === "users:erase" || s === "users:history"),
  },
];

export async function startDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const host = options.host ?? "127.0.0.1";
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const clients = options.clients ?? devClientsFor(options.scopes);
  const tokenTtlS = options.tokenTtlS ?? 3600;
  let keys: SigningKey[] = [await newKey()];

  // The port is known only once the server listens, and the provider needs its issuer URL: listen first,
  // route requests to whichever provider is current (a rotation builds a new one with the new key set).
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEV_ISSUER_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host}:${port}`;
  const cookieKey = randomBytes(32).toString("hex");
  const adapter = inMemoryAdapter();

  const build = (): Provider => {
    const p = new Provider(issuer, {
      adapter,
      clients: clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: c.scopes.join(" "),
        token_endpoint_auth_method: "client_secret_basic",
      })),
      clientAuthMethods: ["client_secret_basic", "client_secret_post"],
      scopes: [...options.scopes],
      jwks: { keys: keys.map((k) => k.jwk) as never },
      cookies: { keys: [cookieKey] },
      ttl: { ClientCredentials: tokenTtlS },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: false },
        revocation: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resourceIndicator) => {
            if (resourceIndicator !== audience) throw new errors.InvalidTarget();
            return {
              scope: options.scopes.join(" "),
              audience,
              accessTokenTTL: tokenTtlS,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "RS256", kid: keys.at(-1)?.jwk.kid } },
            };
          },
        },
      },
      // Swagger UI asks for tokens from the browser, at another origin.
      clientBasedCORS: () => true,
    });
    p.proxy = false;
    return p;
  };
  provider = build();
  const rebuild = () => {
    provider = build();
  };

  const tokenEndpoint = `${issuer}/token`;
  return {
    issuer,
    tokenEndpoint,
    audience,
    clients,
    async token(client, scopes = client.scopes) {
      const response = await fetch(tokenEndpoint, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: scopes.join(" ") }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (!response.ok || !body.access_token) {
        throw new Error(`the issuer refused a token for ${client.clientId}: ${response.status} ${body.error ?? ""}`);
      }
      return body.access_token;
    },
    async rotate() {
      keys = [...keys, await newKey()];
      rebuild();
    },
    async retire() {
      keys = keys.slice(-1);
      rebuild();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
