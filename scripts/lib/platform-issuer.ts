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
