/**
 * The gateway built in-process for unit tests (Fastify inject): backends that are never reached, and the gateway's
 * options around them. A test that needs one backend call to answer overrides just that method.
 */
import { createLogger } from "../../platform/logging.js";
import { createAuditBackend } from "../../services/gateway/adapters/audit-backend.js";
import type { AuditBackend, UsersBackend } from "../../services/gateway/app/backends.js";
import type { GatewayOptions } from "../../services/gateway/app.js";
import { loadOpenApiDocument } from "../../services/gateway/transport/rest/openapi-document.js";

const unreachable = async (): Promise<never> => {
  throw new Error("not called in these tests");
};

/** A users backend whose calls all fail as not expected; healthy, its breaker closed. */
export function offlineUsers(overrides: Partial<UsersBackend> = {}): UsersBackend {
  return {
    getUser: unreachable,
    listUsers: unreachable,
    createUser: unreachable,
    updateUser: unreachable,
    deleteUser: unreachable,
    batchGetUsers: unreachable,
    lookupUser: unreachable,
    health: async () => "SERVING",
    breakerState: () => "closed",
    isolate: () => () => {},
    close: () => {},
    ...overrides,
  };
}

/** A real audit client of an address where nothing listens: these tests never ask for a history. */
export const offlineAudit = (): AuditBackend => createAuditBackend({ target: "127.0.0.1:9", deadlineMs: 100 });

/** The gateway's options with offline backends, the contract, a silent logger, a 64 KiB body limit, docs on. */
export function inProcessGatewayOptions(overrides: Partial<GatewayOptions> = {}): GatewayOptions {
  return {
    users: overrides.users ?? offlineUsers(),
    audit: overrides.audit ?? offlineAudit(),
    document: loadOpenApiDocument(),
    logger: createLogger("gateway", "silent"),
    bodyLimit: 65536,
    corsOrigins: [],
    docs: true,
    ...overrides,
  };
}
