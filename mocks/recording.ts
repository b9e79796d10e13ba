/**
 * The recordings of `npm run mock -- --record` and `--replay`: REST interactions with a real gateway, kept as
 * examples in files of their own (one `<operationId>.json` per operation of the contract, never in `contracts/`),
 * and gRPC calls to a real service (one `<service>.<RPC>.json` per RPC, messages in protobuf JSON), with every e-mail
 * address masked, and the key by which a replayed request finds its recorded answer.
 *
 * Masking: an address becomes `user-<n>@example.invalid`, n counting the distinct addresses (compared
 * case-insensitively) in the order they first appear in the recording, requests and answers alike; an address
 * written in capitals gets the mask in capitals. The mask says nothing about the address, so a recording can be
 * shared. A replay numbers the addresses its client sends the same way, so a client that names its addresses in the
 * same order as when it was recorded sends the same masked requests, even if the addresses themselves differ (the
 * scenario runner's random ones); the answer's masks are turned back into the addresses this client sent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export interface RecordedRequest {
  readonly method: string;
  /** The URL path, addresses masked. */
  readonly path: string;
  /** The query string without `?`, addresses masked; "" when there is none. */
  readonly query: string;
  /** Only the headers that shape the answer (content type, conditions, Idempotency-Key, Prefer); never a token. */
  readonly headers: Record<string, string>;
  /** The body: JSON as JSON, other text as a string; absent when there is none. */
  readonly body?: unknown;
}

export interface RecordedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

export interface Interaction {
  /** The interaction's place in the whole recording, from 1. */
  readonly seq: number;
  readonly request: RecordedRequest;
  readonly response: RecordedResponse;
}

/** One file of a recording: the interactions of one operation, in recorded order. */
export interface RecordingFile {
  readonly operationId: string;
  readonly method: string;
  /** The contract's path template (`/v1/users/{id}`). */
  readonly path: string;
  readonly interactions: Interaction[];
}

/** One gRPC call's answer: the response message, or the status (google.rpc.Status), both in protobuf JSON. */
export type RecordedRpcAnswer = { readonly message: unknown } | { readonly status: unknown };

export interface RpcInteraction {
  /** The call's place in the whole recording (REST, GraphQL and gRPC alike), from 1. */
  readonly seq: number;
  /** The request message in protobuf JSON, addresses masked; never its metadata. */
  readonly request: unknown;
  readonly answer: RecordedRpcAnswer;
}

/** One file of a recording: the calls of one RPC, in recorded order. */
export interface RpcRecordingFile {
  /** The full service name, e.g. charter.users.v1.UsersService. */
  readonly service: string;
  /** As the proto spells it: GetUser. */
  readonly rpc: string;
  readonly interactions: RpcInteraction[];
}

/** The request headers a recording keeps; the others (Authorization above all) are never written. */
const RECORDED_REQUEST_HEADERS = ["content-type", "if-match", "if-none-match", "idempotency-key", "prefer"];
/** Of these, the ones a replayed request must repeat to match: the entity tags the server gave. */
const MATCHED_HEADERS = ["if-match", "if-none-match"];
// What looks like an address anywhere in a text (not a validator: the contract's format is judged by Prism).
const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+/g;
const MASK = /user-(\d+)@example\.invalid/gi;
const MASKED = /^user-\d+@example\.invalid$/i;
const maskOf = (n: number, capitals: boolean) => {
  const mask = `user-${n}@example.invalid`;
  return capitals ? mask.toUpperCase() : mask;
};
const inCapitals = (text: string) => text === text.toUpperCase() && text !== text.toLowerCase();

/** Masks every string in a JSON value (keys are left as they are). */
const mapStrings = (value: unknown, map: (text: string) => string): unknown => {
  if (typeof value === "string") return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]));
  }
  return value;
};

/**
 * The masks of one recording or one replay: numbers given in order of first appearance. `identity` masks nothing (the
 * replay of a pact a consumer wrote, whose addresses are its own examples).
 */
export class EmailMasker {
  readonly #numbers = new Map<string, number>();
  /** Replay: each mask as this client spelled the address behind it. */
  readonly #spelled = new Map<string, string>();
  readonly #identity: boolean;
  #last = 0;

  constructor(opts: { readonly identity?: boolean } = {}) {
    this.#identity = opts.identity ?? false;
  }

  /** The text with each address replaced by its mask. */
  maskText(text: string): string {
    if (this.#identity) return text;
    return text.replace(ADDRESS, (address) => {
      if (MASKED.test(address)) return address; // a mask this client was given, sent back
      const key = address.toLowerCase();
      let n = this.#numbers.get(key);
      if (n === undefined) {
        n = ++this.#last;
        this.#numbers.set(key, n);
      }
      const mask = maskOf(n, inCapitals(address));
      if (!this.#spelled.has(mask)) this.#spelled.set(mask, address);
      return mask;
    });
  }

  mask(value: unknown): unknown {
    return mapStrings(value, (text) => this.maskText(text));
  }

  /**
   * Replay: the text with each mask of an address this client sent turned back into that address (as the client
   * spelled it, in the mask's case); other masks stay, and count as given so that the numbering goes on as it did.
   */
  unmaskText(text: string): string {
    if (this.#identity) return text;
    return text.replace(MASK, (mask, digits: string) => {
      const n = Number(digits);
      if (n > this.#last) this.#last = n;
      const spelled = this.#spelled.get(mask);
      if (spelled !== undefined) return spelled;
      const other = this.#spelled.get(mask.toLowerCase()) ?? this.#spelled.get(mask.toUpperCase());
      if (other === undefined) return mask;
      return inCapitals(mask) ? other.toUpperCase() : other.toLowerCase();
    });
  }

  unmask(value: unknown): unknown {
    return mapStrings(value, (text) => this.unmaskText(text));
  }
}

/** A JSON value with its object keys sorted, as one string: equal values, equal strings. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "";
};

/** What a replayed request must share with a recorded one: method, path, query (in any order), conditions, body. */
export function matchKey(request: RecordedRequest): string {
  const query = [...new URLSearchParams(request.query)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const conditions = MATCHED_HEADERS.map((name) => request.headers[name] ?? "");
  return canonical([request.method, request.path, query, conditions, request.body ?? null]);
}

/** A body as a recording keeps it: JSON parsed when the type says JSON, else the text; undefined when empty. */
export function bodyOf(text: string, contentType: string | undefined): unknown {
  if (text === "") return undefined;
  if (contentType && /[/+]json\b/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {}
  }
  return text;
}

/**
 * A request as a recording keeps it, its addresses masked (path, query, headers, body: in that order, the same in
 * recording and replay, so that the numbers agree).
 */
export function recordedRequest(
  masker: EmailMasker,
  method: string,
  url: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
): RecordedRequest {
  const parsed = new URL(url, "http://recorded");
  let path = parsed.pathname;
  try {
    path = decodeURIComponent(path);
  } catch {} // not percent-encoded UTF-8: kept as sent
  path = masker.maskText(path);
  const query = masker.maskText(parsed.search.slice(1));
  const kept: Record<string, string> = {};
  for (const name of RECORDED_REQUEST_HEADERS) {
    const value = headers[name];
    if (value !== undefined) kept[name] = masker.maskText(Array.isArray(value) ? value.join(", ") : value);
  }
  const masked = masker.mask(bodyOf(body, kept["content-type"]));
  return { method, path, query, headers: kept, ...(masked === undefined ? {} : { body: masked }) };
}

/** A recording being written: one numbering of addresses and one sequence of interactions for every protocol. */
export interface Recording {
  readonly dir: string;
  readonly masker: EmailMasker;
  /** The next interaction's place in the whole recording. */
  nextSeq(): number;
  write(file: RecordingFile | RpcRecordingFile): void;
}

/** Starts a recording in `dir`, created if needed; a directory that already holds a recording is refused. */
export function createRecording(dir: string): Recording {
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).some((name) => name.endsWith(".json"))) {
    throw new Error(`${dir} already holds a recording: remove it or record into another directory (--out)`);
  }
  let seq = 0;
  return {
    dir,
    masker: new EmailMasker(),
    nextSeq: () => ++seq,
    write(file) {
      const name = "operationId" in file ? file.operationId : `${file.service}.${file.rpc}`;
      writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(file, null, 2)}\n`);
    },
  };
}

const isRestFile = (file: Partial<RecordingFile>): file is RecordingFile =>
  typeof file.operationId === "string" && Array.isArray(file.interactions);
const isRpcFile = (file: Partial<RpcRecordingFile>): file is RpcRecordingFile =>
  typeof file.service === "string" && typeof file.rpc === "string" && Array.isArray(file.interactions);

/** The parts of a Pact (V3 or V4) file a replay reads: its HTTP interactions' examples. */
interface PactFile {
  readonly metadata?: { readonly recordedBy?: unknown };
  readonly interactions: readonly {
    readonly type?: string;
    readonly description?: string;
    readonly request: PactMessage & { readonly method: string; readonly path: string; readonly query?: unknown };
    readonly response: PactMessage & { readonly status: number };
  }[];
}
interface PactMessage {
  readonly headers?: Record<string, string | readonly string[]>;
  readonly body?: unknown;
}

/** A pact's headers in lower case, each one value (V4 keeps arrays). */
const pactHeaders = (headers: PactMessage["headers"] = {}): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name.toLowerCase(),
      typeof value === "string" ? value : value.join(", "),
    ]),
  );

/** A pact body as a recording keeps it: V4's `{ content, contentType, encoded }` unwrapped, V3's as it is. */
const pactBody = (body: unknown): unknown =>
  body !== null && typeof body === "object" && "content" in body ? (body as { content: unknown }).content : body;

/** A pact query (V4 and V3: values by name, each an array or a string; or a string) as a query string. */
function pactQuery(query: unknown): string {
  if (typeof query === "string") return query;
  const params = new URLSearchParams();
  for (const [name, values] of Object.entries((query ?? {}) as Record<string, string | string[]>)) {
    for (const value of typeof values === "string" ? [values] : values) params.append(name, value);
  }
  return params.toString();
}

/** A pact `npm run mock -- --record --pact` wrote: its addresses are masks, as a recording's are. */
const isRecordedPact = (pact: { metadata?: { recordedBy?: unknown } }): boolean =>
  pact.metadata?.recordedBy === RECORDED_BY;
export const RECORDED_BY = "npm run mock -- --record";

/**
 * A pact (one `--record --pact` wrote, or any consumer's, e.g. pacts/charter-sdk-charter-gateway.json) as one
 * recording file: its HTTP interactions in the pact's order, each the example request and answer. A recorded pact's
 * addresses are masks already; a consumer's are its own examples, matched and answered as they are (`masked`
 * false). Provider states are not read: requests that are the same under two states are answered in the pact's
 * order.
 */
export function recordingOfPact(pact: PactFile, name: string): RecordingFile & { readonly masked: boolean } {
  const masked = isRecordedPact(pact);
  const masker = new EmailMasker({ identity: !masked });
  const http = pact.interactions.filter((i) => i.type === undefined || i.type === "Synchronous/HTTP");
  if (http.length === 0) throw new Error(`${name}: the pact has no HTTP interaction to replay`);
  const interactions = http.map(({ request, response }, index): Interaction => {
    const headers = pactHeaders(request.headers);
    const text = (value: unknown) =>
      value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    const query = pactQuery(request.query);
    const url = `${request.path}${query === "" ? "" : `?${query}`}`;
    const answered = masker.mask(pactBody(response.body));
    const answerHeaders = Object.fromEntries(
      Object.entries(pactHeaders(response.headers)).map(([k, v]) => [k, masker.maskText(v)]),
    );
    return {
      seq: index + 1,
      request: recordedRequest(masker, request.method, url, headers, text(pactBody(request.body))),
      response: {
        status: response.status,
        headers: answerHeaders,
        ...(answered === undefined ? {} : { body: answered }),
      },
    };
  });
  return { operationId: `pact:${name}`, method: "*", path: "*", interactions, masked };
}

/**
 * Every recording file in `dir`, REST and gRPC; other JSON files are left alone, a directory without any is refused.
 * `dir` may also be a pact file, replayed as a recording of its HTTP interactions (recordingOfPact).
 */
export function readRecording(dir: string): {
  rest: RecordingFile[];
  rpc: RpcRecordingFile[];
  /** Whether its addresses are masks (a recording, a recorded pact), to be matched and answered as such. */
  masked: boolean;
} {
  if (existsSync(dir) && statSync(dir).isFile()) {
    let pact: Partial<PactFile>;
    try {
      pact = JSON.parse(readFileSync(dir, "utf8")) as Partial<PactFile>;
    } catch (error) {
      throw new Error(`${dir}: not a pact file (${(error as Error).message})`);
    }
    if (!Array.isArray(pact.interactions)) throw new Error(`${dir}: not a pact file (no interactions)`);
    const recording = recordingOfPact(pact as PactFile, basename(dir));
    return { rest: [recording], rpc: [], masked: recording.masked };
  }
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith(".json"));
  } catch (error) {
    throw new Error(`${dir}: cannot read the recording (${(error as { code?: string }).code ?? error})`);
  }
  const files = names.map((name) => {
    try {
      return JSON.parse(readFileSync(join(dir, name), "utf8")) as object;
    } catch (error) {
      throw new Error(`${join(dir, name)}: not a recording file (${(error as Error).message})`);
    }
  });
  const rest = files.filter(isRestFile);
  const rpc = files.filter(isRpcFile);
  if (rest.length + rpc.length === 0) {
    throw new Error(`${dir} holds no recording (npm run mock -- --record <url> --out ${dir})`);
  }
  return { rest, rpc, masked: true };
}

/** What a replayed gRPC call must share with a recorded one: the method and the request message as a value. */
const rpcKey = (method: string, request: unknown) => canonical([method, request ?? null]);

/** Answers by key, each key's in recorded order, then its last one again. */
function answerQueues<T>(entries: readonly (readonly [key: string, answer: T])[]): (key: string) => T | undefined {
  const queues = new Map<string, { answers: T[]; next: number }>();
  for (const [key, answer] of entries) {
    const queue = queues.get(key) ?? { answers: [], next: 0 };
    queue.answers.push(answer);
    queues.set(key, queue);
  }
  return (key) => {
    const queue = queues.get(key);
    return queue?.answers[Math.min(queue.next++, queue.answers.length - 1)];
  };
}

/** A recording being replayed: one numbering of addresses for every protocol that answers from it. */
export interface Replay {
  readonly dir: string;
  /**
   * The recorded answer to this request, its masks turned into the addresses this client sent; undefined when no
   * recorded request matches. Identical requests get the recorded answers in order, then the last one again.
   */
  answer(
    method: string,
    url: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
    body: string,
  ): RecordedResponse | undefined;
  /**
   * The recorded answer to a gRPC call (`method` as `<service>/<RPC>`, the request in protobuf JSON), its masks
   * turned into the addresses this client sent; undefined when none matches. Identical calls as above.
   */
  answerRpc(method: string, request: unknown): RecordedRpcAnswer | undefined;
}

export function loadReplay(dir: string): Replay {
  const files = readRecording(dir);
  const bySeq = <T extends { seq: number }>(items: T[]) => items.sort((a, b) => a.seq - b.seq);
  const takeRest = answerQueues(
    bySeq(files.rest.flatMap((file) => file.interactions)).map((i) => [matchKey(i.request), i.response] as const),
  );
  const takeRpc = answerQueues(
    bySeq(
      files.rpc.flatMap((file) => file.interactions.map((i) => ({ ...i, method: `${file.service}/${file.rpc}` }))),
    ).map((i) => [rpcKey(i.method, i.request), i.answer] as const),
  );
  const masker = new EmailMasker({ identity: !files.masked });
  return {
    dir,
    answer(method, url, headers, body) {
      const recorded = takeRest(matchKey(recordedRequest(masker, method, url, headers, body)));
      if (!recorded) return undefined;
      const unmasked: Record<string, string> = {};
      for (const [name, value] of Object.entries(recorded.headers)) unmasked[name] = masker.unmaskText(value);
      return {
        status: recorded.status,
        headers: unmasked,
        ...(recorded.body === undefined ? {} : { body: masker.unmask(recorded.body) }),
      };
    },
    answerRpc(method, request) {
      const recorded = takeRpc(rpcKey(method, masker.mask(request)));
      return recorded && (masker.unmask(recorded) as RecordedRpcAnswer);
    },
  };
}
