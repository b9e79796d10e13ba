/**
 * The issuer a platform started on one machine trusts: the development OpenID provider (platform/auth/dev-issuer.ts)
 * on AUTH_DEV_ISSUER_PORT, unless AUTH_ISSUER names another one, in which case nothing is started and the
 * services are pointed at that one. `env` is what every gateway and service process gets.
 */
import { DEFAULT_AUDIENCE } from "../../platform/auth/auth-config.js";
import { type DevIssuer, startDevIssuer } from "../../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../../platform/auth/scopes.js";
import { loadDevIssuerConfig } from "./dev-issuer-config.js";

export interface PlatformIssuer {
  /** The issuer URL the services trust. */
  readonly issuer: string;
  /** Its token endpoint when it is the development issuer (the banner's curl), undefined for another provider. */
  readonly dev: DevIssuer | undefined;
  /** AUTH_ISSUER (and AUTH_AUDIENCE when this runs the issuer) for the gateway and the services. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export async function startPlatformIssuer(
  environment: Readonly<Record<string, string | undefined>> = process.env,
  options: { readonly host?: string; readonly tokenTtlS?: number } = {},
): Promise<PlatformIssuer> {
  const config = loadDevIssuerConfig(environment);
  if (config.externalIssuer !== undefined) {
    return {
      issuer: config.externalIssuer,
      dev: undefined,
      env: { AUTH_ISSUER: config.externalIssuer },
      close: async () => {},
    };
  }
  const audience = environment.AUTH_AUDIENCE?.trim() || DEFAULT_AUDIENCE;
  const dev = await startDevIssuer({ port: config.port, scopes: API_SCOPES, audience, ...options }).catch(
    (error: Error) => {
      throw new Error(
        `the development issuer could not listen on port ${config.port} (${error.message}); set AUTH_DEV_ISSUER_PORT to a free port, or AUTH_ISSUER to another issuer`,
      );
    },
  );
  return {
    issuer: dev.issuer,
    dev,
    env: { AUTH_ISSUER: dev.issuer, AUTH_AUDIENCE: dev.audience },
    close: () => dev.close(),
  };
}

/** The banner's lines on tokens: where the issuer is, how to get a token and how to call the API with it. */
export function tokenBanner(trusted: PlatformIssuer, gateway: string): string {
  const dev = trusted.dev;
  const client = dev?.clients[0];
  if (!dev || !client) {
    return `  Tokens          from ${trusted.issuer} (AUTH_ISSUER): every call needs "Authorization: Bearer <token>"
                  with the scopes users:read, users:write, users:history (docs/security.md).`;
  }
  const scopes = client.scopes.join(" ");
  return `  Token issuer    ${dev.issuer}   (development OpenID provider, in memory; AUTH_DEV_ISSUER_PORT)
                  clients ${dev.clients.map((c) => `${c.clientId}/${c.clientSecret} (${c.scopes.join(" ")})`).join(", ")}

  Every call needs a token. Get one (client credentials), then call the API with it:
    TOKEN=$(curl -s -u ${client.clientId}:${client.clientSecret} -d grant_type=client_credentials -d 'scope=${scopes}' ${dev.tokenEndpoint} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
    curl -H "Authorization: Bearer $TOKEN" ${gateway}/v1/users
  SDK             createUsersClient({ baseUrl: "${gateway}", token: clientCredentials({ tokenUrl: "${dev.tokenEndpoint}",
                    clientId: "${client.clientId}", clientSecret: "${client.clientSecret}", scopes: [...] }) })
  Swagger UI      ${gateway}/docs → "Authorize" → client id ${client.clientId}, secret ${client.clientSecret}, tick the scopes`;
}
