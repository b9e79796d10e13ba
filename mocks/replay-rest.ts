/**
 * The REST side of `npm run mock -- --replay <dir>`: the recorded interactions (recording.ts) served on a loopback
 * port of its own, behind Prism's validation proxy as in the stateful mode, so every request and every answer is
 * still checked against the contract. A request finds its answer by method, path, query, If-Match/If-None-Match and
 * body, its addresses masked first as the recording's were; identical requests get the recorded answers in
 * recorded order (a get before and after an update: the old user, then the new), the last one again once they are
 * used up. Ids, etags and page tokens come back as recorded, so a client that uses what it was given matches. The
 * answer's masks become the addresses this client sent. A request that matches nothing is the operation's
 * documented 400 problem (503 where it documents no 400) saying so.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenHttp } from "../platform/net.js";
import type { ContractExamples, OperationRoute } from "./contract-examples.js";
import { EmailMasker, type Interaction, matchKey, readRecording, recordedRequest } from "./recording.js";
import { documentedHeaders, routeMatcher } from "./rest-front.js";

export interface ReplayRestOptions {
  readonly host: string;
  readonly examples: ContractExamples;
  /** The recording's directory. */
  readonly dir: string;
}

export interface ReplayRest {
  /** The origin Prism's proxy forwards to. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startReplayRest(opts: ReplayRestOptions): Promise<ReplayRest> {
  const recorded = readRecording(opts.dir)
    .flatMap((file) => file.interactions.map((interaction) => ({ operationId: file.operationId, interaction })))
    .sort((a, b) => a.interaction.seq - b.interaction.seq);
  const queues = new Map<string, { answers: Interaction[]; next: number }>();
  for (const { interaction } of recorded) {
    const key = matchKey(interaction.request);
    const queue = queues.get(key) ?? { answers: [], next: 0 };
    queue.answers.push(interaction);
    queues.set(key, queue);
  }
  const matchRoute = routeMatcher(opts.examples.routes);
  const masker = new EmailMasker();

  const unmatched = (res: ServerResponse, route: OperationRoute, method: string, path: string) => {
    const problems = opts.examples.operation(route.operationId).problems;
    const documented = problems.get("INVALID_ARGUMENT") ?? problems.get("UNAVAILABLE") ?? [...problems.values()][0];
    if (!documented) throw new Error(`${route.operationId} documents no problem`);
    const { errors: _, ...problem } = documented;
    const detail = `no recorded interaction matches ${method} ${path} (${route.operationId}) in ${opts.dir}: a replay answers only the requests it recorded, in their order`;
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
    const request = recordedRequest(masker, method, req.url ?? "/", req.headers, Buffer.concat(chunks).toString());
    const queue = queues.get(matchKey(request));
    const answer = queue?.answers[Math.min(queue.next++, queue.answers.length - 1)];
    if (!answer) return unmatched(res, route, method, path);
    const { status, headers, body } = answer.response;
    const unmasked: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) unmasked[name] = masker.unmaskText(value);
    res.writeHead(status, unmasked);
    if (body === undefined) return res.end();
    const value = masker.unmask(body);
    res.end(typeof value === "string" ? value : JSON.stringify(value));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const listening = await listenHttp(server, 0, opts.host);
  return { url: `http://${opts.host}:${listening.port}`, stop: listening.stop };
}
