/**
 * `npm run mock -- --record <gateway-url>`: a proxy to a real gateway that answers each client with the gateway's
 * own answer and writes each call to an operation of the REST contract, and each GraphQL request to its /graphql,
 * into the recording (recording.ts): one `<operationId>.json` per operation (`graphql.json` for GraphQL) in the
 * recording's directory, addresses masked, tokens never written; with `--pact <file>` also a Pact V4 consumer pact
 * of the same interactions. Files are rewritten after every call, so a recording stopped at any moment holds every
 * call answered before.
 */
import { existsSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { listenHttp } from "../platform/net.js";
import type { ContractExamples } from "./contract-examples.js";
import { GRAPHQL_PATH } from "./graphql-mock.js";
import {
  bodyOf,
  type Interaction,
  RECORDED_BY,
  type Recording,
  type RecordingFile,
  recordedRequest,
} from "./recording.js";
import { documentedHeaders, responseHeaderDefinitions, routeMatcher } from "./rest-front.js";

/** GraphQL over HTTP, recorded as one more operation (`graphql.json`), its request body matched as a whole. */
const GRAPHQL_ROUTE = { operationId: "graphql", method: "POST", path: GRAPHQL_PATH };

export interface RecordProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly examples: ContractExamples;
  /** The gateway's origin. */
  readonly target: URL;
  /** The recording the calls go into (shared with the gRPC recorder: one numbering of addresses). */
  readonly recording: Recording;
  /** A Pact V4 file to write the interactions to as well. */
  readonly pact?: string;
}

export interface RecordProxy {
  readonly port: number;
  stop(): Promise<void>;
}

const readAll = async (stream: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** The interactions as a Pact V4 consumer pact (consumer `recorded-client`, provider `charter-gateway`). */
function pactOf(interactions: readonly (Interaction & { operationId: string })[]) {
  const body = (value: unknown, headers: Record<string, string>) =>
    value === undefined
      ? {}
      : {
          body: {
            content: value,
            contentType: headers["content-type"] ?? "application/json",
            encoded: false,
          },
        };
  const arrays = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));
  const query = (text: string) => {
    const out: Record<string, string[]> = {};
    for (const [name, value] of new URLSearchParams(text)) out[name] = [...(out[name] ?? []), value];
    return out;
  };
  return {
    consumer: { name: "recorded-client" },
    provider: { name: "charter-gateway" },
    interactions: interactions.map(({ operationId, seq, request, response }) => ({
      type: "Synchronous/HTTP",
      description: `${operationId} #${seq}: ${request.method} ${request.path} → ${response.status}`,
      pending: false,
      request: {
        method: request.method,
        path: request.path,
        ...(request.query ? { query: query(request.query) } : {}),
        headers: arrays(request.headers),
        ...body(request.body, request.headers),
      },
      response: {
        status: response.status,
        headers: arrays(response.headers),
        ...body(response.body, response.headers),
      },
    })),
    metadata: { pactSpecification: { version: "4.0" }, recordedBy: RECORDED_BY },
  };
}

export async function startRecordProxy(opts: RecordProxyOptions): Promise<RecordProxy> {
  if (opts.pact && existsSync(opts.pact)) throw new Error(`${opts.pact} exists: the pact is written anew`);
  const matchRoute = routeMatcher([...opts.examples.routes, GRAPHQL_ROUTE]);
  const { masker } = opts.recording;
  const files = new Map<string, RecordingFile>();
  const all: (Interaction & { operationId: string })[] = [];
  const send = opts.target.protocol === "https:" ? httpsRequest : httpRequest;

  const record = (
    req: IncomingMessage,
    requestBody: Buffer,
    status: number,
    headers: IncomingMessage["headers"],
    answer: Buffer,
  ) => {
    const route = matchRoute(req.method ?? "GET", new URL(req.url ?? "/", "http://recorded").pathname);
    if (!route) return; // health, the contract, the docs, GraphiQL: passed on, not recorded
    const request = recordedRequest(masker, req.method ?? "GET", req.url ?? "/", req.headers, requestBody.toString());
    // The content type and the headers the contract documents for this answer: not the per-request ones (request
    // id, trace context) nor the security headers every answer carries.
    const documented = new Set(
      Object.keys(responseHeaderDefinitions(opts.examples, route, status)).map((name) => name.toLowerCase()),
    );
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      const text = Array.isArray(value) ? value.join(", ") : value;
      if (text !== undefined && (name === "content-type" || documented.has(name))) {
        responseHeaders[name] = masker.maskText(text);
      }
    }
    const response = {
      status,
      headers: responseHeaders,
      ...withBody(masker.mask(bodyOf(answer.toString(), responseHeaders["content-type"]))),
    };
    const interaction = { seq: opts.recording.nextSeq(), request, response };
    const file = files.get(route.operationId) ?? {
      operationId: route.operationId,
      method: route.method,
      path: route.path,
      interactions: [],
    };
    file.interactions.push(interaction);
    files.set(route.operationId, file);
    all.push({ operationId: route.operationId, ...interaction });
    opts.recording.write(file);
    if (opts.pact) writeFileSync(opts.pact, `${JSON.stringify(pactOf(all), null, 2)}\n`);
  };

  const server = createServer((req, res) => {
    readAll(req)
      .then((requestBody) => {
        const headers = { ...req.headers, host: opts.target.host };
        const upstream = send(
          {
            protocol: opts.target.protocol,
            hostname: opts.target.hostname,
            port: opts.target.port,
            method: req.method,
            path: req.url,
            headers,
          },
          (answer) => {
            readAll(answer)
              .then((body) => {
                res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
                res.end(body);
                record(req, requestBody, answer.statusCode ?? 502, answer.headers, body);
              })
              .catch(() => res.destroy());
          },
        );
        upstream.on("error", (error) => {
          // Not recorded: the operation's documented 503 problem (UNAVAILABLE), as a gateway with no backend says.
          const detail = `the gateway at ${opts.target.origin} did not answer: ${error.message}`;
          const route = matchRoute(req.method ?? "GET", new URL(req.url ?? "/", "http://recorded").pathname);
          const problem = route && opts.examples.operation(route.operationId).problems.get("UNAVAILABLE");
          if (res.headersSent) return res.end();
          if (!problem) {
            res.writeHead(502, { "content-type": "text/plain" });
            return res.end(detail);
          }
          res.writeHead(problem.status, {
            ...documentedHeaders(opts.examples, route, problem.status),
            "content-type": "application/problem+json",
          });
          res.end(JSON.stringify({ ...problem, detail, instance: route.path }));
        });
        upstream.end(requestBody);
      })
      .catch(() => res.destroy());
  });
  return listenHttp(server, opts.port, opts.host);
}

const withBody = (body: unknown) => (body === undefined ? {} : { body });
