/**
 * The front of the REST mock, on its public port: what Prism cannot do, before Prism (`prism mock`, or in the
 * stateful and replay modes `prism proxy` in front of the store or the recording) sees the request, so latency and
 * faults behave over REST as they do over gRPC and GraphQL. For a request to an operation of the contract that
 * carries a bearer token it waits `Prefer: delay=<ms>` (0 to MAX_DELAY_MS; another value is the operation's 400
 * problem) and answers a configured fault with the operation's documented problem of that status and the response's
 * documented headers; everything else (and the rest of the Prefer header) goes on to Prism unchanged. In the
 * stateful and replay modes a request without a token is refused here with the contract's 401 problem, as
 * `prism mock` refuses it (`prism proxy` would answer its own, which is not the contract's).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { escapePointerSegment } from "../platform/json-pointer.js";
import { listenHttp } from "../platform/net.js";
import type { ContractExamples, OperationRoute, Problem } from "./contract-examples.js";
import { delay, type FaultInjector } from "./faults.js";
import { PreferError, parsePrefer } from "./prefer.js";

export interface RestFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly examples: ContractExamples;
  /** Prism's origin on loopback. */
  readonly target: URL;
  readonly faults: FaultInjector;
  /**
   * The stateful and replay modes (Prism's proxy behind): refuse requests without a bearer token here, with the contract's 401
   * problem, and turn the proxy's own 422 for a request that breaks the contract into the operation's 400 problem.
   */
  readonly proxied: boolean;
}

export interface RestFront {
  readonly port: number;
  stop(): Promise<void>;
}

type Json = { [key: string]: unknown };

/** The header definitions the contract gives an operation's response of this status, by name (none when undocumented). */
export function responseHeaderDefinitions(examples: ContractExamples, route: OperationRoute, status: number) {
  const path = encodeURIComponent(escapePointerSegment(route.path));
  try {
    const response = examples.at(`#/paths/${path}/${route.method.toLowerCase()}/responses/${status}`) as Json;
    return (response.headers ?? {}) as Record<string, Json>;
  } catch {
    return {};
  }
}

/** The documented headers of an operation's response, each with its example value. */
export function documentedHeaders(examples: ContractExamples, route: OperationRoute, status: number) {
  const out: Record<string, string> = {};
  for (const [name, definition] of Object.entries(responseHeaderDefinitions(examples, route, status))) {
    const example = definition.example ?? (definition.schema as Json | undefined)?.example;
    if (example !== undefined) out[name] = String(example);
  }
  return out;
}

/** The operation a request goes to, by method and path, from the contract's path templates. */
export function routeMatcher(routes: readonly OperationRoute[]) {
  const compiled = routes.map((route) => ({
    route,
    pattern: new RegExp(
      `^${route.path
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
        .join("[^/]+")}$`,
    ),
  }));
  return (method: string, path: string) =>
    compiled.find((entry) => entry.route.method === method && entry.pattern.test(path))?.route;
}

interface PrismViolation {
  readonly location: readonly string[];
  readonly code?: string | number;
  readonly message: string;
}

/** A violation Prism found in a request as the contract's FieldError: `/email`, `/pageSize`, `/id`. */
const fieldErrorOf = (violation: PrismViolation) => {
  const path = violation.location.slice(1);
  const missing = violation.code === "required" ? /property '([^']+)'/.exec(violation.message)?.[1] : undefined;
  return { field: `/${[...path, ...(missing ? [missing] : [])].join("/")}`, message: violation.message };
};

const hasBearer = (header: string | string[] | undefined) =>
  typeof header === "string" && /^Bearer [A-Za-z0-9\-._~+/]+=*$/.test(header);

export async function startRestFront(opts: RestFrontOptions): Promise<RestFront> {
  const matchRoute = routeMatcher(opts.examples.routes);
  const unauthenticated = opts.examples.problem("Unauthenticated");

  const sendProblem = (res: ServerResponse, route: OperationRoute, problem: Problem, instance: string) => {
    res.writeHead(problem.status, {
      ...documentedHeaders(opts.examples, route, problem.status),
      "content-type": "application/problem+json",
    });
    res.end(JSON.stringify({ ...problem, instance }));
  };

  /** Prism's proxy refusing a request that breaks the contract, answered as the operation's 400 problem instead. */
  const asInvalidArgument = async (
    route: OperationRoute,
    answer: IncomingMessage,
    res: ServerResponse,
    path: string,
  ) => {
    const chunks: Buffer[] = [];
    for await (const chunk of answer) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const documented = opts.examples.operation(route.operationId).problems.get("INVALID_ARGUMENT");
    let refusal: { type?: string; validation?: PrismViolation[] } = {};
    try {
      refusal = JSON.parse(text) as typeof refusal;
    } catch {}
    if (!documented || !refusal.type?.endsWith("#UNPROCESSABLE_ENTITY") || !refusal.validation) {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      return res.end(text);
    }
    const errors = refusal.validation.map(fieldErrorOf);
    const problem = { ...documented, detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "), errors };
    sendProblem(res, route, problem, path);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, prefer: string | undefined, route?: OperationRoute) => {
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: opts.target.host };
    if (prefer === undefined) delete headers.prefer;
    else headers.prefer = prefer;
    const upstream = httpRequest(
      { host: opts.target.hostname, port: opts.target.port, method: req.method, path: req.url, headers },
      (answer) => {
        if (opts.proxied && route && answer.statusCode === 422) {
          asInvalidArgument(route, answer, res, (req.url ?? "/").split("?")[0] ?? "/").catch(() => res.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("the REST mock's Prism did not answer");
    });
    req.pipe(upstream);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = matchRoute(req.method ?? "GET", path);
    const header = req.headers.prefer;
    const prefer = Array.isArray(header) ? header.join(", ") : header;
    if (!route) return forward(req, res, prefer);
    if (!hasBearer(req.headers.authorization)) {
      if (!opts.proxied) return forward(req, res, prefer);
      req.resume();
      return sendProblem(res, route, unauthenticated, path);
    }
    // Only delay= is read here; what is left of the header is Prism's (code=, example=, dynamic=).
    const parts = (prefer ?? "").split(/[,;]/).map((p) => p.trim());
    const delays = parts.filter((p) => /^delay\s*=/i.test(p));
    const rest = parts.filter((p) => p !== "" && !/^delay\s*=/i.test(p)).join(", ");
    let wait: number | undefined;
    try {
      wait = parsePrefer(delays).delay;
    } catch (error) {
      if (!(error instanceof PreferError)) throw error;
      const documented = opts.examples.operation(route.operationId).problems.get("INVALID_ARGUMENT");
      req.resume();
      if (!documented) return forward(req, res, rest || undefined, route);
      const problem = { ...documented, detail: error.message, errors: [{ field: "/Prefer", message: error.message }] };
      return sendProblem(res, route, problem, path);
    }
    await delay(wait);
    const fault = opts.faults.draw(route.operationId);
    if (fault) {
      req.resume();
      return sendProblem(res, route, fault, path);
    }
    return forward(req, res, rest || undefined, route);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("the REST mock failed");
    });
  });
  return listenHttp(server, opts.port, opts.host);
}
