/**
 * Whether a start-up script (`npm start`, `npm run start:cluster`, `npm run stack`) runs the development OpenID
 * provider, and on which port: it does unless AUTH_ISSUER names another issuer, on AUTH_DEV_ISSUER_PORT (default
 * DEV_ISSUER_PORT, 9400) — which is also where the services look for it when AUTH_ISSUER is unset.
 */
import { DEV_ISSUER_PORT } from "../../platform/auth/auth-config.js";
import { envReader } from "../../platform/config.js";

export interface DevIssuerConfig {
  /** The issuer the platform trusts when it is not the development one (AUTH_ISSUER); undefined: run ours. */
  readonly externalIssuer: string | undefined;
  /** The development issuer's port (0 picks a free one). */
  readonly port: number;
}

export function loadDevIssuerConfig(env: Readonly<Record<string, string | undefined>> = process.env): DevIssuerConfig {
  const e = envReader(env);
  return {
    externalIssuer: e.optionalUrl("AUTH_ISSUER", ["http:", "https:"]),
    port: e.port("AUTH_DEV_ISSUER_PORT", DEV_ISSUER_PORT),
  };
}
