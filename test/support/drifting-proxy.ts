/**
 * An HTTP proxy in front of a real gateway that changes some of its answers: the gateway as it would be after
 * someone changed a route, for the checks that a pact verification fails when the provider drifts from what a
 * consumer relies on.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What the proxy sees of an answer; `drift` returns the JSON body to send instead, or undefined to pass it on. */
export interface Answer {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: string;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A proxy to `target` on a free port of 127.0.0.1 that sends `drift(answer)` in place of the answers it changes. */
export async function startDriftingProxy(
  target: string,
  drift: (answer: Answer) => unknown,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, reply) => {
    void (async () => {
      const body = await readBody(request);
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (value === undefined || ["host", "connection", "content-length"].includes(name)) continue;
        headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const method = request.method ?? "GET";
      const answer = await fetch(`${target}${request.url ?? "/"}`, {
        method,
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      let text = await answer.text();
      const path = new URL(request.url ?? "/", target).pathname;
      const drifted = drift({ method, path, status: answer.status, body: text });
      if (drifted !== undefined) text = JSON.stringify(drifted);
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!["content-length", "connection", "keep-alive", "transfer-encoding"].includes(name)) out[name] = value;
      });
      reply.writeHead(answer.status, out).end(text);
    })().catch((error: unknown) => reply.writeHead(502).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * A `drift` that removes `field` from the JSON body of the 200 answers to GET on a path `route` matches (e.g.
 * `/^\/v1\/users\/[^/]+$/`): a field dropped from that route.
 */
export function dropField(route: RegExp, field: string): (answer: Answer) => unknown {
  return ({ method, path, status, body }) => {
    if (method !== "GET" || status !== 200 || !route.test(path)) return undefined;
    const entity = JSON.parse(body) as Record<string, unknown>;
    delete entity[field];
    return entity;
  };
}
