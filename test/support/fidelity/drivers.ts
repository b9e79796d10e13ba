/**
 * One driver per server of the fidelity test: each sends a value under test through its protocol's form of
 * CreateUser, UpdateUser and ListUsers and says what came back, as one normalised outcome — accepted, refused
 * naming fields (`name`, `email`, `pageSize`), not carried by this protocol (with the reason), or an error that is
 * neither. Clients are built from the contracts alone (test/support/contract-client.ts), as a client team would.
 */
import { randomUUID } from "node:crypto";
import { type ContractServiceClient, contractServiceClient, grpc, statusDetails } from "../contract-client.js";
import type { FieldName } from "./corpus.js";

export type Outcome =
  | { readonly kind: "accepted" }
  | { readonly kind: "refused"; readonly fields: readonly string[]; readonly how?: string }
  | { readonly kind: "n/a"; readonly reason: string }
  | { readonly kind: "error"; readonly detail: string };

/** The outcome as the table compares it: "accepted", "refused: email", "n/a", "error: …". */
export const outcomeKey = (o: Outcome): string =>
  o.kind === "refused"
    ? `refused: ${o.fields.join(", ") || "(no field named)"}`
    : o.kind === "error"
      ? `error: ${o.detail}`
      : o.kind;

export const accepted: Outcome = { kind: "accepted" };
export const notCarried = (reason: string): Outcome => ({ kind: "n/a", reason });

/** A write that was accepted by a real server: the user it made, to read back and delete. */
export interface Written {
  readonly outcome: Outcome;
  readonly id?: string | undefined;
}

export interface StoredUser {
  readonly name: string;
  readonly email: string;
}

export interface Driver {
  readonly name: string;
  /** A real server (its writes are stored, read back and deleted), or a mock. */
  readonly real: boolean;
  create(user: StoredUser): Promise<Written>;
  /** Sets one field of the user `id` (a mock: its example user). */
  update(id: string, field: "name" | "email", value: string): Promise<Written>;
  list(pageSize: number | string): Promise<Outcome>;
  /** Reads a user back (real servers). */
  get?(id: string): Promise<StoredUser>;
  /** Deletes a user (real gRPC servers: the clean-up after a write, so that its e-mail is free again). */
  remove?(id: string): Promise<void>;
  close(): void;
}

/** A field as any of the protocols names it, in one form: `email`, `name`, `pageSize`. */
export function normaliseField(raw: string): string {
  const path = raw
    .replace(/^\//, "")
    .replace(/^\$/, "")
    .split(/[./]/)
    .filter((s) => s !== "" && s !== "user" && s !== "input" && s !== "request" && s !== "body" && s !== "query");
  const last = path.at(-1) ?? raw;
  const camel = last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  // Prism names a query parameter in lower case (`pagesize`); GraphQL's argument is `first`.
  const known: Record<string, string> = { first: "pageSize", pagesize: "pageSize", name: "name", email: "email" };
  return known[camel.toLowerCase()] ?? camel;
}

const refused = (fields: readonly string[], how?: string): Outcome => ({
  kind: "refused",
  fields: [...new Set(fields.map(normaliseField))].sort(),
  ...(how === undefined ? {} : { how }),
});

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** Whether a page size can be carried by proto3 int32 at all (no rounding, no wrapping). */
export function grpcPageSize(value: number | string): number | Outcome {
  if (typeof value === "string") return notCarried("a query-string spelling; int32 carries numbers");
  if (!Number.isInteger(value)) return notCarried("not an integer: int32 cannot carry it");
  if (value < INT32.min || value > INT32.max) return notCarried("beyond int32: the wire cannot carry it");
  return value;
}

/** A proto string is UTF-8: a lone surrogate is not a Unicode scalar value and cannot be carried as sent. */
export const isWellFormed = (value: string): boolean => !/\p{Cs}/u.test(value);

/** Whether any field's value is a string holding a lone surrogate (no Unicode text). */
const holdsLoneSurrogate = (fields: object): boolean =>
  Object.values(fields).some((v) => typeof v === "string" && !isWellFormed(v));

// --- gRPC --------------------------------------------------------------------------------------------------------

const grpcOutcome = (error: unknown): Outcome => {
  const e = error as grpc.ServiceError;
  if (e.code !== grpc.status.INVALID_ARGUMENT) return { kind: "error", detail: `${grpc.status[e.code]} ${e.details}` };
  try {
    return refused(statusDetails(e).fieldViolations.map((v) => v.field));
  } catch {
    return { kind: "error", detail: `INVALID_ARGUMENT without BadRequest: ${e.details}` };
  }
};

interface GrpcUser {
  id: string;
  name: string;
  email: string;
}

/** `authorization` ("Bearer <token>"), when given, is sent with every call: as the gRPC metadata or the HTTP header. */
export function grpcDriver(name: string, address: string, real: boolean, authorization?: string): Driver {
  const client: ContractServiceClient = contractServiceClient(
    "charter/users/v1/users.proto",
    "charter.users.v1.UsersService",
    address,
  );
  const metadata = (): grpc.Metadata => {
    const values = new grpc.Metadata();
    if (authorization !== undefined) values.set("authorization", authorization);
    return values;
  };
  const call = async (method: string, request: object): Promise<{ outcome: Outcome; response?: unknown }> => {
    try {
      return { outcome: accepted, response: await client.call(method, request, metadata()) };
    } catch (error) {
      return { outcome: grpcOutcome(error) };
    }
  };
  const carried = (user: Partial<StoredUser>): Outcome | undefined =>
    holdsLoneSurrogate(user) ? notCarried("a lone surrogate: a proto string is UTF-8") : undefined;
  return {
    name,
    real,
    async create(user) {
      const notHere = carried(user);
      if (notHere) return { outcome: notHere };
      const { outcome, response } = await call("CreateUser", { user });
      return { outcome, id: (response as { user?: GrpcUser } | undefined)?.user?.id };
    },
    async update(id, field, value) {
      const notHere = carried({ [field]: value });
      if (notHere) return { outcome: notHere };
      const { outcome, response } = await call("UpdateUser", {
        user: { id, [field]: value },
        updateMask: { paths: [field] },
      });
      return { outcome, id: (response as { user?: GrpcUser } | undefined)?.user?.id };
    },
    async list(pageSize) {
      const value = grpcPageSize(pageSize);
      if (typeof value !== "number") return value;
      return (await call("ListUsers", { pageSize: value })).outcome;
    },
    async get(id) {
      const { user } = await client.call<{ user: GrpcUser }>("GetUser", { id }, metadata());
      return { name: user.name, email: user.email };
    },
    async remove(id) {
      await client.call("DeleteUser", { id }, metadata());
    },
    close: () => client.close(),
  };
}

// --- REST --------------------------------------------------------------------------------------------------------

interface Problem {
  code?: string;
  errors?: { field: string }[];
}

/** A REST answer: 2xx accepted; a 4xx refused, naming the fields the server named. */
async function restOutcome(response: Response, prism: boolean): Promise<{ outcome: Outcome; body: unknown }> {
  const text = await response.text();
  const body: unknown = text === "" ? undefined : safeJson(text);
  if (response.ok) return { outcome: accepted, body };
  // Prism's refusal names the fields in sl-violations (its body is a documented example); the stateful mode's REST
  // front answers the contract's 400 problem instead, naming them in `errors` as the gateway does.
  const contractRefusal =
    !response.headers.has("sl-violations") &&
    response.status === 400 &&
    (body as Problem | undefined)?.code === "INVALID_ARGUMENT";
  if (prism && !contractRefusal) {
    if (response.status < 400 || response.status >= 500)
      return { outcome: { kind: "error", detail: `${response.status}` }, body };
    const header = response.headers.get("sl-violations");
    const violations = header === null ? [] : ((safeJson(header) as { location?: string[] }[] | undefined) ?? []);
    const fields = violations.map((v) => (v.location ?? []).slice(2).join("/") || (v.location ?? []).join("/"));
    return { outcome: refused(fields, String(response.status)), body };
  }
  const problem = body as Problem | undefined;
  if (response.status !== 400 || problem?.code !== "INVALID_ARGUMENT") {
    return { outcome: { kind: "error", detail: `${response.status} ${problem?.code ?? text.slice(0, 80)}` }, body };
  }
  return { outcome: refused((problem.errors ?? []).map((e) => e.field)), body };
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** The query-string form of a page size: a number as JavaScript spells it, a spelling as it is. */
const queryOf = (pageSize: number | string): string =>
  `pageSize=${encodeURIComponent(typeof pageSize === "number" ? String(pageSize) : pageSize)}`;

export function restDriver(name: string, baseUrl: string, real: boolean, authorization?: string): Driver {
  const auth: Record<string, string> = authorization === undefined ? {} : { authorization };
  // A documented difference of the peer (docs/mocks.md): no portable JSON Schema pattern names a lone surrogate,
  // so Prism accepts a name holding one, which the gateway refuses as no Unicode text.
  const prismTakesNonText = (fields: object): Outcome | undefined =>
    !real && holdsLoneSurrogate(fields) ? notCarried("Prism accepts text that is not Unicode (documented)") : undefined;
  const send = async (method: string, path: string, body?: object, type = "application/json") => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? auth : { "content-type": type, ...auth },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return restOutcome(response, !real);
  };
  return {
    name,
    real,
    async create(user) {
      const differs = prismTakesNonText(user);
      if (differs) return { outcome: differs };
      const { outcome, body } = await send("POST", "/v1/users", user);
      return { outcome, id: (body as GrpcUser | undefined)?.id };
    },
    async update(id, field, value) {
      const differs = prismTakesNonText({ [field]: value });
      if (differs) return { outcome: differs };
      const { outcome, body } = await send(
        "PATCH",
        `/v1/users/${id}`,
        { [field]: value },
        "application/merge-patch+json",
      );
      return { outcome, id: (body as GrpcUser | undefined)?.id };
    },
    async list(pageSize) {
      if (typeof pageSize === "number" && !Number.isFinite(pageSize)) return notCarried("not a finite number");
      // A documented difference of the peer (docs/mocks.md): Prism takes `?pageSize=` as not sent, where the
      // contract (allowEmptyValue false) and the gateway refuse an empty integer.
      if (pageSize === "" && !real) return notCarried("Prism takes an empty value as not sent (documented)");
      return (await send("GET", `/v1/users?${queryOf(pageSize)}`)).outcome;
    },
    async get(id) {
      const response = await fetch(`${baseUrl}/v1/users/${id}`, { headers: auth });
      if (!response.ok) throw new Error(`GET /v1/users/${id}: ${response.status} ${await response.text()}`);
      const user = (await response.json()) as GrpcUser;
      return { name: user.name, email: user.email };
    },
    close: () => undefined,
  };
}

// --- GraphQL -----------------------------------------------------------------------------------------------------

interface GraphqlError {
  message: string;
  extensions?: { code?: string; fieldViolations?: { field: string }[] };
}
interface GraphqlBody {
  data?: Record<string, { id?: string; name?: string; email?: string } | null> | null;
  errors?: GraphqlError[];
}

const CREATE = "mutation ($input: CreateUserInput!) { createUser(input: $input) { id name email } }";
const UPDATE = "mutation ($input: UpdateUserInput!) { updateUser(input: $input) { id name email } }";
const LIST = "query ($first: Int) { users(first: $first) { nodes { id } } }";
const GET = "query ($id: ID!) { user(id: $id) { id name email } }";

/**
 * A GraphQL answer: data without errors is accepted; INVALID_ARGUMENT refused, naming the fields in
 * `extensions.fieldViolations`, or for GraphQL's own coercion of a variable the argument its message names
 * (`Variable "$input" got invalid value … at "input.name"`, `Variable "$first" …`).
 */
function graphqlOutcome(body: GraphqlBody, status: number): Outcome {
  const errors = body.errors ?? [];
  if (errors.length === 0) return status === 200 ? accepted : { kind: "error", detail: `HTTP ${status}` };
  const fields: string[] = [];
  let how: string | undefined;
  for (const error of errors) {
    if (error.extensions?.code !== "INVALID_ARGUMENT") {
      return { kind: "error", detail: `${error.extensions?.code ?? "no code"} ${error.message.slice(0, 100)}` };
    }
    const violations = error.extensions.fieldViolations ?? [];
    if (violations.length > 0) fields.push(...violations.map((v) => v.field));
    else {
      const variable = /^Variable "\$(\w+)" got invalid value.*?(?: at "([\w.[\]]+)")?;/s.exec(error.message);
      if (variable?.[1]) {
        fields.push(variable[2] ?? variable[1]);
        how = "GraphQL coercion";
      }
    }
  }
  return refused(fields, how);
}

export function graphqlDriver(name: string, url: string, real: boolean, authorization?: string): Driver {
  const post = async (query: string, variables: object): Promise<{ outcome: Outcome; body: GraphqlBody }> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphqlBody;
    return { outcome: graphqlOutcome(body, response.status), body };
  };
  return {
    name,
    real,
    async create(user) {
      const { outcome, body } = await post(CREATE, { input: user });
      return { outcome, id: body.data?.createUser?.id };
    },
    async update(id, field, value) {
      const { outcome, body } = await post(UPDATE, { input: { id, [field]: value } });
      return { outcome, id: body.data?.updateUser?.id };
    },
    async list(pageSize) {
      if (typeof pageSize === "string") return notCarried("a query-string spelling; GraphQL's Int is a JSON number");
      if (!Number.isFinite(pageSize)) return notCarried("not a finite number: JSON cannot carry it");
      return (await post(LIST, { first: pageSize })).outcome;
    },
    async get(id) {
      const { body } = await post(GET, { id });
      const user = body.data?.user;
      if (!user) throw new Error(`user(id: ${id}): ${JSON.stringify(body)}`);
      return { name: user.name ?? "", email: user.email ?? "" };
    },
    close: () => undefined,
  };
}

/** An e-mail no other write of the run uses, for the writes whose value under test is the name. */
export const uniqueEmail = (): string => `fidelity.${randomUUID()}@example.com`;

export type { FieldName };
