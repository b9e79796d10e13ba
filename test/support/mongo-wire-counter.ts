/**
 * A TCP proxy in front of a MongoDB-compatible server that records the commands clients send through it, read from
 * the wire (OP_MSG: the first key of the command document is the command's name, its value the collection): every
 * round trip a store makes, whatever driver call made it. Connection upkeep (hello, ping, endSessions…) is left
 * out, so what remains is the data commands.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface WireCommand {
  /** The command, as the server reads it: find, update, findAndModify, insert, delete, aggregate… */
  readonly name: string;
  /** The collection it names (the first key's value), or "" when that is not a string. */
  readonly collection: string;
}

export interface MongoWireCounter {
  /** A URL like `target`'s, through the proxy. */
  readonly url: string;
  /** The data commands sent since the last reset, in order. */
  commands(): readonly WireCommand[];
  reset(): void;
  close(): Promise<void>;
}

const OP_MSG = 2013;
const UPKEEP = new Set([
  "hello",
  "ismaster",
  "ping",
  "endsessions",
  "buildinfo",
  "getparameter",
  "saslstart",
  "saslcontinue",
]);

/** The command of one OP_MSG message (header included), or undefined for another kind of message. */
function commandOf(message: Buffer): WireCommand | undefined {
  if (message.readInt32LE(12) !== OP_MSG) return undefined;
  // header (16) + flagBits (4); section kind 0 is the command document.
  let at = 20;
  if (message[at] !== 0) return undefined;
  at += 1 + 4; // kind, document length
  const type = message[at];
  const nameEnd = message.indexOf(0, at + 1);
  const name = message.toString("utf8", at + 1, nameEnd);
  let collection = "";
  if (type === 0x02) {
    const length = message.readInt32LE(nameEnd + 1);
    collection = message.toString("utf8", nameEnd + 5, nameEnd + 5 + length - 1);
  }
  return { name, collection };
}

export async function startMongoWireCounter(target: string): Promise<MongoWireCounter> {
  const { hostname, port } = new URL(target);
  const seen: WireCommand[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const command = commandOf(pending.subarray(0, length));
        if (command && !UPKEEP.has(command.name.toLowerCase())) seen.push(command);
        pending = pending.subarray(length);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", () => {
        sockets.delete(socket);
        end();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the wire counter has no port");
  const url = new URL(target);
  url.host = `127.0.0.1:${address.port}`;
  return {
    url: url.toString(),
    commands: () => [...seen],
    reset() {
      seen.length = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
