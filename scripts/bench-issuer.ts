/**
 * The benchmark's own development issuer: the services (and the gateway) check every call's token, so the
 * benchmark starts an issuer on a free port, points the processes it starts at it, and sends a token of its
 * all-scopes client on every request — what any client of the platform does.
 */
import { type DevClient, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";

export interface BenchIssuer {
  /** AUTH_ISSUER and AUTH_AUDIENCE for the processes the benchmark starts. */
  readonly env: Readonly<Record<string, string>>;
  /** `Bearer <token>` with every scope, valid longer than any run. */
  readonly authorization: string;
  stop(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES, tokenTtlS: 12 * 3600 });
  try {
    const token = await issuer.token(issuer.clients[0] as DevClient);
    return {
      env: { AUTH_ISSUER: issuer.issuer, AUTH_AUDIENCE: issuer.audience },
      authorization: `Bearer ${token}`,
      stop: () => issuer.close(),
    };
  } catch (error) {
    await issuer.close();
    throw error;
  }
}
