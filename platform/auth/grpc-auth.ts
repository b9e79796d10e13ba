/**
 * The service side of the token check, for every charter RPC of the users and audit services: the caller's own
 * bearer token from the `authorization` metadata (the gateway forwards its caller's; a direct caller sends its
 * own), verified by the TokenVerifier, and the scopes the contract's (charter.contract.v1.method) option names for
 * the method (generated/proto/method-rules.ts). Nothing a peer asserts about the caller is believed: no subject
 * header, no client certificate, only a token signed by the issuer. grpc.health.v1 and reflection are separate
 * services of the server and never pass here.
 */
import type { Metadata } from "@grpc/grpc-js";
import { AppError } from "../errors.js";
import { scopesOfMethod } from "./scopes.js";
import { AuthError, type AuthFailure, missingScope, type Principal, type TokenVerifier } from "./token-verifier.js";

/** google.rpc.ErrorInfo reasons of the refusals (RFC 6750's error codes). */
export const INVALID_TOKEN = "INVALID_TOKEN";
export const INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE";

/** A refusal, with why the token was refused for the log (never the token). */
export class GrpcAuthError extends AppError {
  constructor(
    code: "UNAUTHENTICATED" | "PERMISSION_DENIED",
    message: string,
    /** For the log only: the verifier's reason, or the scope lacking. */
    readonly logReason: AuthFailure | "insufficient-scope" | "no-rule",
    /** The caller, when the token was valid but not enough. */
    readonly subject?: string,
  ) {
    super(code, message, { reason: code === "UNAUTHENTICATED" ? INVALID_TOKEN : INSUFFICIENT_SCOPE });
  }
}

/** Who may call `method` ("charter.users.v1.UsersService/GetUser") with this metadata: the caller, or a GrpcAuthError. */
export type GrpcAuthorizer = (method: string, metadata: Metadata) => Promise<Principal>;

/** The one `authorization` value of the call; several, or a binary one, is no bearer token. */
function authorizationOf(metadata: Metadata): string | undefined {
  const values = metadata.get("authorization");
  if (values.length !== 1) return values.length === 0 ? undefined : "";
  const [value] = values;
  return typeof value === "string" ? value : "";
}

export function createGrpcAuthorizer(verifier: TokenVerifier): GrpcAuthorizer {
  return async (method, metadata) => {
    let principal: Principal;
    try {
      principal = await verifier.verify(authorizationOf(metadata));
    } catch (error) {
      const reason = error instanceof AuthError ? error.reason : "keys-unavailable";
      throw new GrpcAuthError("UNAUTHENTICATED", new AuthError(reason).message, reason);
    }
    const needed = scopesOfMethod(method);
    // An RPC the contracts do not state a rule for is refused: nothing is open by omission.
    if (needed === undefined) {
      throw new GrpcAuthError(
        "PERMISSION_DENIED",
        "this operation is not open to any scope",
        "no-rule",
        principal.subject,
      );
    }
    const lacking = missingScope(principal, needed);
    if (lacking !== undefined) {
      throw new GrpcAuthError(
        "PERMISSION_DENIED",
        `this operation needs the scope ${lacking}`,
        "insufficient-scope",
        principal.subject,
      );
    }
    return principal;
  };
}
