/** The scopes of the API, as the contracts state them: every scope an RPC's (charter.contract.v1.method) option names. */
import { methodScopes } from "../../generated/proto/method-rules.js";

export const API_SCOPES: readonly string[] = [...new Set(Object.values(methodScopes).flat())].sort();

/** The scopes the RPC `method` ("charter.users.v1.UsersService/GetUser") needs; undefined for an RPC the contracts do not have. */
export const scopesOfMethod = (method: string): readonly string[] | undefined => methodScopes[method];
