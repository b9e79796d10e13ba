/**
 * The typed client of Charter's users REST API, over the types generated from
 * contracts/openapi/users.v1.yaml and openapi-fetch.
 *
 * Every HTTP answer comes back as a result, never as a throw: `{ ok: true, data, etag }` for a
 * success, `{ ok: false, problem }` for an error, where `problem` is the contract's Problem
 * (RFC 9457). What is not an HTTP answer — the server cannot be reached, the request is aborted —
 * throws the fetch error unchanged: there is no status or problem to report, and mapping it to an
 * invented problem would hide it. The iterators (`listAll`, `users`, `userHistory`) cannot return a
 * result per page, so a problem there is thrown as a `ProblemError`.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "../generated/openapi/users.v1.js";
import { type RetryOptions, retryingFetch } from "./retrying-fetch.js";

export type { RetryOptions } from "./retrying-fetch.js";

export type User = components["schemas"]["User"];
export type CreateUserBody = components["schemas"]["CreateUserBody"];
export type UpdateUserBody = components["schemas"]["UpdateUserBody"];
export type LookupUserBody = components["schemas"]["LookupUserBody"];
export type ListUsersResponse = components["schemas"]["ListUsersResponse"];
export type UserEvent = components["schemas"]["UserEvent"];
export type UserEventType = components["schemas"]["UserEventType"];
export type UserHistory = components["schemas"]["UserHistory"];
export type UserStats = components["schemas"]["UserStats"];
export type Problem = components["schemas"]["Problem"];
export type ErrorCode = components["schemas"]["ErrorCode"];
export type FieldError = components["schemas"]["FieldError"];

export interface Success<T> {
  readonly ok: true;
  /** The HTTP status (200, 201, 204). */
  readonly status: number;
  readonly data: T;
  /** The ETag response header as sent (a quoted entity tag such as `"3"`), undefined when there is none. */
  readonly etag: string | undefined;
}

export interface Failure {
  readonly ok: false;
  readonly status: number;
  readonly problem: Problem;
}

export type Result<T> = Success<T> | Failure;

export interface UsersClientOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8080` (the API's paths start with /v1). */
  readonly baseUrl: string;
  /** A fetch to use instead of the global one (e.g. to add tracing or a test double). */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request (e.g. x-request-id). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The access token sent as `Authorization: Bearer <token>` with every request: a token, or a function that gives
   * the current one (asked before each request, e.g. `clientCredentials(...)`, which caches and refreshes). Every
   * operation needs a token with its scopes: without one the answer is a 401 problem (UNAUTHENTICATED), without
   * the scope a 403 problem (PERMISSION_DENIED).
   */
  readonly token?: string | (() => string | Promise<string>);
  /**
   * Retries of what is safe to send twice (GET, a write with If-Match, a create with an Idempotency-Key) after a
   * 502, 503, 504 or a network error: on by default (3 attempts, jittered backoff from 50 ms up to 1 s, Retry-After
   * honoured up to that); `false` sends every request once.
   */
  readonly retry?: RetryOptions | false;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Headers for this request only; they win over the client's. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface WriteOptions extends CallOptions {
  /**
   * Apply only to this version: the user's `etag` field (e.g. `3`) or an entity tag as the ETag
   * header gives it (e.g. `"3"`). A version that is no longer current gets a 412 problem.
   */
  readonly ifMatch?: string;
}

export interface CreateOptions extends CallOptions {
  /**
   * The Idempotency-Key header (up to 128 characters, e.g. a UUID): sending the same create again with the same
   * key and body returns the user the first one created (201) instead of a second user or a 409; the same key
   * with another body is a 422 problem (FAILED_PRECONDITION). Use one key per intended user, and reuse it only to
   * retry (after a 503, a 504 or a network error).
   */
  readonly idempotencyKey?: string;
}

export interface ListOptions extends CallOptions {
  /** Users per page, 1 to 1000 (the server's default is 50). */
  readonly pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  readonly pageToken?: string;
}

export interface IterateOptions extends CallOptions {
  /** Items (users, events) per request while walking the pages. */
  readonly pageSize?: number;
}

export interface HistoryOptions extends CallOptions {
  /** Events per page, 1 to 1000 (the server's default is 50). */
  readonly pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  readonly pageToken?: string;
}

export interface UsersClient {
  create(body: CreateUserBody, options?: CreateOptions): Promise<Result<User>>;
  get(id: string, options?: CallOptions): Promise<Result<User>>;
  /** One page; pass `nextPageToken` back as `pageToken` for the next. */
  list(options?: ListOptions): Promise<Result<ListUsersResponse>>;
  /** A JSON merge patch (RFC 7396) of the changeable fields; without `ifMatch` it applies to the latest version. */
  update(id: string, patch: UpdateUserBody, options?: WriteOptions): Promise<Result<User>>;
  delete(id: string, options?: WriteOptions): Promise<Result<undefined>>;
  /**
   * The user with this email, compared case-insensitively (`ADA@example.com` finds `ada@example.com`); a 404
   * problem when there is none. The email is sent in the body of `POST /v1/users:lookup`, never in the URL.
   */
  lookupUser(email: LookupUserBody["email"], options?: CallOptions): Promise<Result<User>>;
  /** Every user in creation order, walking the page tokens; a problem on any page is thrown as a ProblemError. */
  listAll(options?: IterateOptions): AsyncGenerator<User, void, undefined>;
  /** The same as listAll. */
  users(options?: IterateOptions): AsyncGenerator<User, void, undefined>;
  /**
   * One page of a user's history, oldest event first; pass `nextPageToken` back as `pageToken` for the next. An
   * id with no recorded change has an empty history (not a 404), and the history stays after the user is deleted.
   * A change shows here shortly after it is made, not at once.
   */
  listUserHistory(id: string, options?: HistoryOptions): Promise<Result<UserHistory>>;
  /** Every event of a user's history, oldest first, walking the page tokens; a problem is thrown as a ProblemError. */
  userHistory(id: string, options?: IterateOptions): AsyncGenerator<UserEvent, void, undefined>;
  /**
   * The latest user stats: the counts of the latest one-minute window the stats pipeline published. A 503 problem
   * (`UNAVAILABLE`, "the stats pipeline is not running") while none has been received, as on embedded defaults.
   */
  getUserStats(options?: CallOptions): Promise<Result<UserStats>>;
}

/** The method of UsersClient that calls each operation of the contract (a new operation fails to compile here). */
export const SDK_METHODS: { readonly [K in keyof operations]: keyof UsersClient } = {
  createUser: "create",
  getUser: "get",
  listUsers: "list",
  updateUser: "update",
  deleteUser: "delete",
  lookupUser: "lookupUser",
  listUserHistory: "listUserHistory",
  getUserStats: "getUserStats",
};

/** A problem thrown by the iterators, which cannot return a result. */
export interface ProblemError extends Error {
  readonly name: "ProblemError";
  readonly status: number;
  readonly problem: Problem;
}

export function problemError(failure: Failure): ProblemError {
  const { problem, status } = failure;
  const message = `${status} ${problem.code}: ${problem.detail ?? problem.title}`;
  return Object.assign(new Error(message), { name: "ProblemError" as const, status, problem });
}

export function isProblemError(error: unknown): error is ProblemError {
  return error instanceof Error && error.name === "ProblemError" && "problem" in error;
}

const codes: Readonly<Record<ErrorCode, true>> = {
  CANCELLED: true,
  UNKNOWN: true,
  INVALID_ARGUMENT: true,
  DEADLINE_EXCEEDED: true,
  NOT_FOUND: true,
  ALREADY_EXISTS: true,
  PERMISSION_DENIED: true,
  RESOURCE_EXHAUSTED: true,
  FAILED_PRECONDITION: true,
  ABORTED: true,
  OUT_OF_RANGE: true,
  UNIMPLEMENTED: true,
  INTERNAL: true,
  UNAVAILABLE: true,
  DATA_LOSS: true,
  UNAUTHENTICATED: true,
};

function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const { type, title, status, code } = body as Record<string, unknown>;
  return (
    typeof type === "string" &&
    typeof title === "string" &&
    typeof status === "number" &&
    typeof code === "string" &&
    Object.hasOwn(codes, code)
  );
}

/**
 * The problem of an error response. A body that is not a problem document (say, from a proxy in
 * between) becomes an `about:blank` problem (RFC 9457 §4.2.1) with the status, code UNKNOWN and
 * the start of the body as its detail.
 */
function toFailure(response: Response, body: unknown): Failure {
  if (isProblem(body)) return { ok: false, status: response.status, problem: body };
  const text = typeof body === "string" ? body : body === undefined ? "" : JSON.stringify(body);
  const problem: Problem = {
    type: "about:blank",
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    code: "UNKNOWN",
    ...(text ? { detail: text.slice(0, 2000) } : {}),
  };
  return { ok: false, status: response.status, problem };
}

function success<T>(response: Response, data: T): Success<T> {
  return { ok: true, status: response.status, data, etag: response.headers.get("etag") ?? undefined };
}

/** The result of an answer with a JSON body on success; a success without one breaks the contract and throws. */
function settle<T>(answer: { data?: T; error?: unknown; response: Response }): Result<T> {
  const { data, error, response } = answer;
  if (!response.ok) return toFailure(response, error);
  if (data === undefined) throw new Error(`${response.status} from ${response.url} has no body`);
  return success(response, data);
}

/** An entity tag for If-Match: `"3"` and `W/"3"` as they are, a bare etag field value quoted. */
export function entityTag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith("W/") ? etag : `"${etag}"`;
}

/** `send` with the token put in each request (each attempt of a retried one asks the provider again). */
function withToken(
  send: (request: Request) => Promise<Response>,
  token: UsersClientOptions["token"],
): (request: Request) => Promise<Response> {
  if (token === undefined) return send;
  const current = typeof token === "string" ? () => token : token;
  return async (request) => {
    request.headers.set("authorization", `Bearer ${await current()}`);
    return send(request);
  };
}

export function createUsersClient(options: UsersClientOptions): UsersClient {
  // The global fetch is looked up per request, as openapi-fetch does, so one installed later is used.
  const send = withToken(options.fetch ?? ((request: Request) => globalThis.fetch(request)), options.token);
  const client: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.retry === false ? send : retryingFetch(send, options.retry),
    ...(options.headers ? { headers: { ...options.headers } } : {}),
  });

  const init = (call: CallOptions | undefined, extra: Record<string, string> = {}) => ({
    headers: { ...call?.headers, ...extra },
    ...(call?.signal ? { signal: call.signal } : {}),
  });
  const ifMatch = (write: WriteOptions | undefined): Record<string, string> =>
    write?.ifMatch === undefined ? {} : { "If-Match": entityTag(write.ifMatch) };

  const pageQuery = (opts: ListOptions) => ({
    ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize }),
    ...(opts.pageToken === undefined ? {} : { pageToken: opts.pageToken }),
  });

  async function list(opts: ListOptions = {}): Promise<Result<ListUsersResponse>> {
    return settle(await client.GET("/v1/users", { params: { query: pageQuery(opts) }, ...init(opts) }));
  }

  async function listUserHistory(id: string, opts: HistoryOptions = {}): Promise<Result<UserHistory>> {
    return settle(
      await client.GET("/v1/users/{id}/history", { params: { path: { id }, query: pageQuery(opts) }, ...init(opts) }),
    );
  }

  const listAll = (opts: IterateOptions = {}) => walk((pageToken) => list({ ...opts, ...pageToken }), "users");

  return {
    async create(body, opts) {
      const key = opts?.idempotencyKey === undefined ? {} : { "Idempotency-Key": opts.idempotencyKey };
      return settle(await client.POST("/v1/users", { body, ...init(opts, key) }));
    },
    async get(id, opts) {
      return settle(await client.GET("/v1/users/{id}", { params: { path: { id } }, ...init(opts) }));
    },
    list,
    async update(id, patch, opts) {
      return settle(
        await client.PATCH("/v1/users/{id}", {
          params: { path: { id } },
          body: patch,
          ...init(opts, { "Content-Type": "application/merge-patch+json", ...ifMatch(opts) }),
        }),
      );
    },
    async delete(id, opts) {
      const { error, response } = await client.DELETE("/v1/users/{id}", {
        params: { path: { id } },
        ...init(opts, ifMatch(opts)),
      });
      return response.ok ? success(response, undefined) : toFailure(response, error);
    },
    async lookupUser(email, opts) {
      return settle(await client.POST("/v1/users:lookup", { body: { email }, ...init(opts) }));
    },
    listAll,
    users: listAll,
    listUserHistory,
    userHistory: (id, opts = {}) => walk((pageToken) => listUserHistory(id, { ...opts, ...pageToken }), "events"),
    async getUserStats(opts) {
      return settle(await client.GET("/v1/stats/users", init(opts)));
    },
  };
}

/**
 * Every item of a paged list, page after page: `fetchPage` gets the previous page's token ({} for the first
 * page), `key` names the page's list of items. A problem on any page is thrown as a ProblemError.
 */
async function* walk<K extends string, T>(
  fetchPage: (pageToken: { pageToken?: string }) => Promise<Result<{ [P in K]: T[] } & { nextPageToken?: string }>>,
  key: K,
): AsyncGenerator<T, void, undefined> {
  let pageToken: string | undefined;
  do {
    const page = await fetchPage(pageToken === undefined ? {} : { pageToken });
    if (!page.ok) throw problemError(page);
    yield* page.data[key];
    pageToken = page.data.nextPageToken || undefined;
  } while (pageToken !== undefined);
}
