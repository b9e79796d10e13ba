/**
 * The REST side of `npm run mock -- --replay <dir>`: the recorded interactions (recording.ts) served on a loopback
 * port of its own, behind Prism's validation proxy as in the stateful mode, so every request and every answer is
 * still checked against the contract. A request finds its answer by method, path, query, If-Match/If-None-Match and
 * body, its addresses masked first as the recording's were (Replay.answer). A request that matches nothing is the
 * operation's documented 400 problem (503 where it documents no 400) saying so.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenHttp } from "../platform/net.js";
import type { ContractExamples, OperationRoute } from "./contract-examples.js";
import type { Replay } from "./recording.js";
import { documentedHeaders, routeMatcher } from "./rest-front.js";

export interface ReplayRestOptions {
  readonly host: string;
  readonly examples: ContractExamples;
  readonly replay: Replay;
}

export interface ReplayRest {
  /** The origin Prism's proxy forwards to. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startReplayRest(opts: ReplayRestOptions): Promise<ReplayRest> {
  const matchRoute = routeMatcher(opts.examples.routes);

  const unmatched = (res: ServerResponse, route: OperationRoute, method: string, path: string) => {
    const problems = opts.examples.operation(route.operationId).problems;
    const documented = problems.get("INVALID_ARGUMENT") ?? problems.get("UNAVAILABLE") ?? [...problems.values()][0];
    if (!documented) throw new Error(`${route.operationId} documents no problem`);
    const { errors: _, ...problem } = documented;
    const detail = `no recorded interaction matches ${method} ${path} (${route.operationId}) in ${opts.replay.dir}: a replay answers only the requests it recorded, in their order`;
    res.writeHead(problem.status, {
      ...documentedHeaders(opts.examples, route, problem.status),
      "content-type": "application/problem+json",
    });
    res.end(JSON.stringify({ ...problem, detail, instance: path }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = matchRoute(method, path);
    if (!route) {
      res.writeHead(404, { "content-type": "application/problem+json" });
      return res.end(JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: path }));
    }
    const answer = opts.replay.answer(method, req.url ?? "/", req.headers, Buffer.concat(chunks).toString());
    if (!answer) return unmatched(res, route, method, path);
    res.writeHead(answer.status, answer.headers);
    if (answer.body === undefined) return res.end();
    res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const listening = await listenHttp(server, 0, opts.host);
  return { url: `http://${opts.host}:${listening.port}`, stop: listening.stop };
}
