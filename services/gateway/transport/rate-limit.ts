/**
 * The gateway's request budget (@fastify/rate-limit): every request a route does not exempt draws one unit, a
 * GraphQL operation more by its size (transport/graphql/query-cost.ts), from the budget of its client — its token's
 * subject, or its address without a valid token (see budgetKey). The counters live in the plugin's store: in this process, or
 * in Redis when one is given, so that several gateways share one budget. Past the budget the answer is 429 with
 * Retry-After, as the contract's problem document (REST) or a GraphQL error (GraphQL).
 *
 * Every charged response carries the IETF RateLimit fields as draft-ietf-httpapi-ratelimit-headers-08 and later
 * write them (structured fields, one named policy): `RateLimit-Policy: "gateway";q=600;w=60` and
 * `RateLimit: "gateway";r=599;t=60`. The plugin's own headers (its `enableDraftSpec` writes the older
 * RateLimit-Limit/-Remaining/-Reset trio of drafts up to -06) are not used: the counters come from its
 * createRateLimit() and the fields are written here.
 */
import rateLimit, { normalizeIP } from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../../platform/logging.js";
import { principalOf } from "./auth.js";
import { problemOf, sendProblem } from "./rest/problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * How a route draws on the budget: `exempt` never (health, metrics, the contract, the docs), `graphql` one unit
     * at once and the rest of the operation's cost once its query is read (its refusal is a GraphQL error); unset,
     * one unit (every other route, and requests no route takes).
     */
    budget?: "exempt" | "graphql";
  }
}

/** The policy's name in the RateLimit fields. */
const POLICY = '"gateway"';

export interface RateLimitOptions {
  /** Units a client may draw per window. */
  readonly max: number;
  readonly windowMs: number;
  /** An ioredis client: the budget is shared by every gateway using the same Redis. Absent: this process only. */
  readonly redis?: unknown;
  readonly logger: Logger;
  /** Called for each request let through because the store failed (the budget fails open). */
  readonly onStoreError?: () => void;
}

export interface Charge {
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (at least 1 once exhausted: it is also Retry-After). */
  readonly resetSeconds: number;
  readonly exceeded: boolean;
}

export interface Budget {
  /**
   * Draws `units` from the request's budget and writes the RateLimit fields on the reply. Undefined when the store
   * failed: the request is let through (a Redis outage must not take the API down).
   */
  charge(request: FastifyRequest, reply: FastifyReply, units: number): Promise<Charge | undefined>;
}

/**
 * The budget a request draws on: `sub:<subject>` for a request with a valid token (one budget per caller whatever
 * its address, none shared by callers behind one NAT); for an anonymous one, or one whose token was refused, the
 * client's address (request.ip: the socket's peer, or the first untrusted hop of X-Forwarded-For behind
 * GATEWAY_TRUSTED_PROXIES), IPv6 taken by its /64 as the plugin does.
 */
export function budgetKey(ip: string, subject?: string): string {
  return subject === undefined ? `ip:${normalizeIP(ip)}` : `sub:${subject}`;
}

/** Retry-After and the answer to a request past its budget; RateLimit fields were written by charge(). */
export function refuse(request: FastifyRequest, reply: FastifyReply, charge: Charge): FastifyReply {
  reply.header("retry-after", String(charge.resetSeconds));
  const detail = `the client's request budget (${charge.limit} per window) is spent; retry after ${charge.resetSeconds} s`;
  if (request.routeOptions.config?.budget === "graphql") {
    return reply
      .code(429)
      .type("application/json; charset=utf-8")
      .send({ errors: [{ message: detail, extensions: { code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED" } }] });
  }
  const instance = request.url.split("?", 1)[0] ?? "/";
  return sendProblem(reply, problemOf("RESOURCE_EXHAUSTED", detail, { instance, requestId: request.id }));
}

/**
 * Registers the plugin (no hook of its own: global off) and the gateway's onRequest hook that charges one unit to
 * every request whose route is not exempt. Call it before the routes and plugins it should cover.
 */
export async function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<Budget> {
  await app.register(rateLimit, {
    global: false,
    max: options.max,
    timeWindow: options.windowMs,
    // The caller's subject when its token is valid (transport/auth.ts verified it before this hook), else the address.
    keyGenerator: (request) => budgetKey(request.ip, principalOf(request)?.subject),
    ...(options.redis === undefined ? {} : { redis: options.redis, nameSpace: "charter:gateway:budget:" }),
    // Errors reach charge() below, which counts and logs them and lets the request through.
    skipOnError: false,
  });
  const limiter = app.createRateLimit();
  let lastStoreWarning = 0;

  const budget: Budget = {
    async charge(request, reply, units) {
      let results: Awaited<ReturnType<typeof limiter>>[];
      try {
        // The store counts one unit per call; a cost of n is n increments, sent together (one round trip to Redis).
        results = await Promise.all(Array.from({ length: Math.max(1, units) }, () => limiter(request)));
      } catch (error) {
        options.onStoreError?.();
        if (Date.now() - lastStoreWarning > 10_000) {
          lastStoreWarning = Date.now();
          options.logger.warn({ err: error }, "request budget store failed: requests are let through unlimited");
        }
        return undefined;
      }
      let worst: Charge | undefined;
      for (const result of results) {
        if (result.isAllowed) continue;
        const charge: Charge = {
          limit: result.max,
          remaining: result.remaining,
          resetSeconds: Math.max(result.isExceeded ? 1 : 0, result.ttlInSeconds),
          exceeded: result.isExceeded,
        };
        if (!worst || charge.remaining < worst.remaining || charge.exceeded) worst = charge;
      }
      if (!worst) return undefined;
      reply.header("ratelimit-policy", `${POLICY};q=${worst.limit};w=${Math.ceil(options.windowMs / 1000)}`);
      reply.header("ratelimit", `${POLICY};r=${worst.remaining};t=${worst.resetSeconds}`);
      return worst;
    },
  };

  app.addHook("onRequest", async (request, reply) => {
    if (request.routeOptions.config?.budget === "exempt") return undefined;
    const charge = await budget.charge(request, reply, 1);
    return charge?.exceeded ? refuse(request, reply, charge) : undefined;
  });
  return budget;
}
