/**
 * The REST side of `npm run mock -- --stateful`: the users API over the shared store (or another service's API over
 * its own store, entityRoutes), on a loopback port of its
 * own, meant to sit behind Prism's validation proxy (`prism proxy`, see rest-mock.ts), which checks the token's
 * scheme and every request against the contract before it gets here, and every answer after. This server keeps the
 * state: creates (with Idempotency-Key), reads (If-None-Match → 304), merge-patch updates and deletes (If-Match →
 * 412 when stale), pages, and `Prefer: code=<code or status>` as `prism mock` answers it (delays and faults are the
 * REST front's, rest-front.ts).
 * Errors are the operation's documented problem of that code, with the detail of this request, and the response's
 * documented headers carry their examples (ETag and Location their real values).
 */
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { AppError, type Code, invalidArgument } from "../platform/errors.js";
import { rulesOf } from "../platform/rules/field-rules.js";
import { verbOf } from "../platform/service-names.js";
import type { ContractExamples, Problem } from "./contract-examples.js";
import { defaultPageSize, inputOf } from "./entity-service.js";
import { actorOf, type Entity, type EntityStore, etagOf, type MockStore } from "./mock-store.js";
import { PreferError, parsePrefer } from "./prefer.js";
import { documentedHeaders } from "./rest-front.js";

export interface StatefulRestOptions {
  readonly host: string;
  readonly examples: ContractExamples;
  /** What it answers: users' routes (userRoutes) or an entity service's (entityRoutes). */
  readonly routes: readonly Route[];
}

export interface StatefulRest {
  /** The origin Prism's proxy forwards to. */
  readonly url: string;
  stop(): Promise<void>;
}

type Json = { [key: string]: unknown };

export interface Route {
  readonly operationId: string;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** The contract's path (`/v1/users/{id}`). */
  readonly path: string;
  readonly handle: (request: FastifyRequest, actor: string | undefined) => Answer;
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const quoted = (etag: string) => `"${etag}"`;
const entityAnswer = (entity: Entity, status = 200, headers: Record<string, string> = {}): Answer => ({
  status,
  body: entity,
  headers: { ETag: quoted(entity.etag), ...headers },
});
const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};
const pageSizeRule = rulesOf("charter.users.v1.ListUsersRequest").pageSize;
const pageSizeOf = (request: FastifyRequest, byDefault = Number(pageSizeRule.defaultValue)): number => {
  const value = (request.query as Json).pageSize;
  return value === undefined ? byDefault : Number(value);
};
const pageTokenOf = (request: FastifyRequest) => ((request.query as Json).pageToken as string | undefined) || undefined;
const pageBody = (page: { items: readonly unknown[]; nextPageToken?: string }, key: string) => ({
  [key]: page.items,
  ...(page.nextPageToken !== undefined ? { nextPageToken: page.nextPageToken } : {}),
});
const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
/** A read: 304 when If-None-Match names its etag (or is `*`). */
const readAnswer = (request: FastifyRequest, entity: Entity): Answer => {
  const ifNoneMatch = header(request, "if-none-match");
  if (ifNoneMatch?.split(",").some((tag) => etagOf(tag) === entity.etag || etagOf(tag) === "*")) {
    return { status: 304, headers: { ETag: quoted(entity.etag) } };
  }
  return entityAnswer(entity);
};

/** The users API's routes over the users' store. */
export function userRoutes(store: MockStore, examples: ContractExamples): Route[] {
  return [
    {
      operationId: "createUser",
      method: "POST",
      path: "/v1/users",
      handle: (request, actor) => {
        const body = request.body as { name: string; email: string };
        const user = store.create({ name: body.name, email: body.email }, actor, header(request, "idempotency-key"));
        return entityAnswer(user, 201, { Location: `/v1/users/${user.id}` });
      },
    },
    {
      operationId: "listUsers",
      method: "GET",
      path: "/v1/users",
      handle: (request) => ({
        status: 200,
        body: pageBody(store.list(pageSizeOf(request), pageTokenOf(request)), "users"),
      }),
    },
    {
      operationId: "lookupUser",
      method: "POST",
      path: "/v1/users:lookup",
      handle: (request) => entityAnswer(store.lookup((request.body as { email: string }).email)),
    },
    {
      operationId: "getUser",
      method: "GET",
      path: "/v1/users/{id}",
      handle: (request) => readAnswer(request, store.get(idOf(request))),
    },
    {
      operationId: "updateUser",
      method: "PATCH",
      path: "/v1/users/{id}",
      handle: (request, actor) => {
        const patch = request.body as { name?: string; email?: string };
        return entityAnswer(store.update(idOf(request), patch, header(request, "if-match"), actor));
      },
    },
    {
      operationId: "deleteUser",
      method: "DELETE",
      path: "/v1/users/{id}",
      handle: (request, actor) => {
        store.delete(idOf(request), header(request, "if-match"), actor);
        return { status: 204 };
      },
    },
    {
      operationId: "listUserHistory",
      method: "GET",
      path: "/v1/users/{id}/history",
      handle: (request) => ({
        status: 200,
        body: pageBody(store.history(idOf(request), pageSizeOf(request), pageTokenOf(request)), "events"),
      }),
    },
    {
      operationId: "getUserStats",
      method: "GET",
      path: "/v1/stats/users",
      handle: () => ({ status: 200, body: examples.operation("getUserStats").examples.values().next().value }),
    },
  ];
}

/**
 * An entity service's routes over its store, one per operation of its contract by the verb of the RPC its
 * `x-charter-rpc` names: Create (the body's fields; Idempotency-Key), Get, Update (a merge patch of its fields;
 * If-Match), Delete (If-Match), List (`collection` is the page's array), BatchGet (`ids`). An operation of another
 * verb answers its first example.
 */
export function entityRoutes(store: EntityStore<Entity>, examples: ContractExamples, collection: string): Route[] {
  return examples.routes.map(({ operationId, method, path, rpc }) => {
    const route = { operationId, method: method as Route["method"], path };
    switch (rpc === undefined ? undefined : verbOf(rpc)) {
      case "Create":
        return {
          ...route,
          handle: (request, actor) => {
            const entity = store.create(inputOf(request.body ?? {}), actor, header(request, "idempotency-key"));
            return entityAnswer(entity, 201, { Location: `${path}/${entity.id}` });
          },
        };
      case "Get":
        return { ...route, handle: (request) => readAnswer(request, store.get(idOf(request))) };
      case "Update":
        return {
          ...route,
          handle: (request, actor) =>
            entityAnswer(store.update(idOf(request), inputOf(request.body ?? {}), header(request, "if-match"), actor)),
        };
      case "Delete":
        return {
          ...route,
          handle: (request, actor) => {
            store.delete(idOf(request), header(request, "if-match"), actor);
            return { status: 204 };
          },
        };
      case "List": {
        const byDefault = defaultPageSize(rpc as string);
        return {
          ...route,
          handle: (request) => ({
            status: 200,
            body: pageBody(store.list(pageSizeOf(request, byDefault), pageTokenOf(request)), collection),
          }),
        };
      }
      case "BatchGet":
        return {
          ...route,
          handle: (request) => {
            const ids = (request.body as { ids?: string[] } | undefined)?.ids ?? [(request.query as Json).ids].flat();
            return { status: 200, body: { [collection]: store.batchGet(ids.filter((id) => typeof id === "string")) } };
          },
        };
      default:
        return {
          ...route,
          handle: () => ({ status: 200, body: examples.operation(operationId).examples.values().next().value }),
        };
    }
  });
}

export async function startStatefulRest(opts: StatefulRestOptions): Promise<StatefulRest> {
  const app = Fastify({ logger: false });
  // PATCH bodies are JSON merge patches (RFC 7396): JSON, as Prism has already checked.
  app.addContentTypeParser("application/merge-patch+json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(String(body)));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  const problemOf = (route: Route, error: AppError, instance: string): Problem => {
    const documented = opts.examples.operation(route.operationId).problems.get(error.code);
    const fieldErrors = (error.details.fieldViolations ?? []).map((v) => ({
      field: `/${v.field}`,
      message: v.description,
    }));
    const base = documented ?? {
      type: "about:blank",
      title: "Internal error",
      status: 500,
      code: "INTERNAL" as Code,
    };
    const { errors: _, ...rest } = base;
    return { ...rest, detail: error.message, instance, ...(fieldErrors.length > 0 ? { errors: fieldErrors } : {}) };
  };

  for (const route of opts.routes) {
    // Fastify reads `:` as a parameter: the literal one of a custom method is doubled.
    const url = route.path.replace(/\{(\w+)\}/g, ":$1").replace(/:lookup$/, "::lookup");
    app.route({
      method: route.method,
      url,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const send = (answer: Answer, contentType: string) => {
          reply.code(answer.status);
          reply.headers({ ...documentedHeaders(opts.examples, route, answer.status), ...answer.headers });
          if (answer.body === undefined) return reply.send();
          return reply.type(contentType).send(JSON.stringify(answer.body));
        };
        const path = request.url.split("?")[0] ?? request.url;
        try {
          let prefer: ReturnType<typeof parsePrefer>;
          try {
            prefer = parsePrefer([header(request, "prefer") ?? ""]);
          } catch (error) {
            if (error instanceof PreferError) throw invalidArgument([{ field: "Prefer", description: error.message }]);
            throw error;
          }
          if (prefer.code !== undefined && prefer.code !== "OK" && prefer.code !== "200") {
            const problems = opts.examples.operation(route.operationId).problems;
            const problem =
              problems.get(prefer.code as Code) ?? [...problems.values()].find((p) => String(p.status) === prefer.code);
            if (!problem) {
              throw invalidArgument([
                {
                  field: "Prefer",
                  description: `${route.operationId} documents no ${prefer.code}; it documents ${[...problems.values()].map((p) => p.status).join(", ")}`,
                },
              ]);
            }
            return send({ status: problem.status, body: { ...problem, instance: path } }, "application/problem+json");
          }
          return send(route.handle(request, actorOf(header(request, "authorization"))), "application/json");
        } catch (error) {
          const appError = error instanceof AppError ? error : new AppError("INTERNAL", "internal error");
          const problem = problemOf(route, appError, path);
          return send({ status: problem.status, body: problem }, "application/problem+json");
        }
      },
    });
  }
  const address = await app.listen({ host: opts.host, port: 0 });
  return { url: address, stop: () => app.close() };
}
