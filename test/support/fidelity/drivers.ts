/**
 * One driver per server of the fidelity test: each sends a value under test through its protocol's form of an
 * entity's Create, Update and List (users: CreateUser, UpdateUser, ListUsers; see ./entity.ts) and says what came
 * back, as one normalised outcome — accepted, refused naming fields (`name`, `email`, `pageSize`), not carried by
 * this protocol (with the reason), or an error that is neither. Clients are built from the contracts alone
 * (test/support/contract-client.ts), as a client team would.
 */
import { randomUUID } from "node:crypto";
import { type ContractServiceClient, contractServiceClient, grpc, statusDetails } from "../contract-client.js";
import type { FieldName } from "./corpus.js";
import type { Entity } from "./entity.js";

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

/** A write that was accepted by a real server: the entity it made, to read back and delete. */
export interface Written {
  readonly outcome: Outcome;
  readonly id?: string | undefined;
}

/** An entity's writable string fields, by name (users: name and email). */
export type StoredEntity = Readonly<Record<string, string>>;

export interface Driver {
  readonly name: string;
  /** A real server (its writes are stored, read back and deleted), or a mock. */
  readonly real: boolean;
  create(entity: StoredEntity): Promise<Written>;
  /** Sets one field of the entity `id` (a mock: its example entity). */
  update(id: string, field: string, value: string): Promise<Written>;
  list(pageSize: number | string): Promise<Outcome>;
  /** Reads an entity back (real servers). */
  get?(id: string): Promise<StoredEntity>;
  /** Deletes an entity (real gRPC servers: the clean-up after a write, so that a unique value is free again). */
  remove?(id: string): Promise<void>;
  close(): void;
}

/** A field of `entity` as any of the protocols names it, in one form: `email`, `name`, `pageSize`. */
export function normaliseField(entity: Entity, raw: string): string {
  const wrappers = new Set(["", entity.singular, "input", "request", "body", "query"]);
  const path = raw
    .replace(/^\//, "")
    .replace(/^\$/, "")
    .split(/[./]/)
    .filter((s) => !wrappers.has(s));
  const last = path.at(-1) ?? raw;
  const camel = last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  // Prism names a query parameter in lower case (`pagesize`); GraphQL's argument is `first`.
  const known: Record<string, string> = Object.fromEntries([
    ["first", "pageSize"],
    ["pagesize", "pageSize"],
    ...Object.keys(entity.fields).map((field) => [field.toLowerCase(), field]),
  ]);
  return known[camel.toLowerCase()] ?? camel;
}

const refusal =
  (entity: Entity) =>
  (fields: readonly string[], how?: string): Outcome => ({
    kind: "refused",
    fields: [...new Set(fields.map((field) => normaliseField(entity, field)))].sort(),
    ...(how === undefined ? {} : { how }),
  });

/** A proto field's name as an update mask path names it: pageSize → page_size. */
const maskPath = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The fields of `entity` a response carries, as sent (the entity's writable string fields). */
const fieldsOf = (entity: Entity, body: Record<string, unknown>): StoredEntity =>
  Object.fromEntries(Object.keys(entity.fields).map((field) => [field, String(body[field] ?? "")]));

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

const grpcOutcome = (entity: Entity, error: unknown): Outcome => {
  const e = error as grpc.ServiceError;
  if (e.code !== grpc.status.INVALID_ARGUMENT) return { kind: "error", detail: `${grpc.status[e.code]} ${e.details}` };
  try {
    return refusal(entity)(statusDetails(e).fieldViolations.map((v) => v.field));
  } catch {
    return { kind: "error", detail: `INVALID_ARGUMENT without BadRequest: ${e.details}` };
  }
};

type Answered = Record<string, unknown> & { id?: string };

/**
 * A driver of `entity`'s gRPC service at `address`. `authorization` ("Bearer <token>"), when given, is sent with
 * every call: as the gRPC metadata or the HTTP header.
 */
export function grpcDriver(
  entity: Entity,
  name: string,
  address: string,
  real: boolean,
  authorization?: string,
): Driver {
  const client: ContractServiceClient = contractServiceClient(entity.protoFile, entity.service, address);
  const { rpc, singular } = entity;
  const metadata = (): grpc.Metadata => {
    const values = new grpc.Metadata();
    if (authorization !== undefined) values.set("authorization", authorization);
    return values;
  };
  const call = async (method: string, request: object): Promise<{ outcome: Outcome; response?: unknown }> => {
    try {
      return { outcome: accepted, response: await client.call(method, request, metadata()) };
    } catch (error) {
      return { outcome: grpcOutcome(entity, error) };
    }
  };
  const carried = (fields: StoredEntity): Outcome | undefined =>
    holdsLoneSurrogate(fields) ? notCarried("a lone surrogate: a proto string is UTF-8") : undefined;
  const idOf = (response: unknown): string | undefined =>
    (response as Record<string, Answered | undefined> | undefined)?.[singular]?.id;
  return {
    name,
    real,
    async create(fields) {
      const notHere = carried(fields);
      if (notHere) return { outcome: notHere };
      const { outcome, response } = await call(rpc.create, { [singular]: fields });
      return { outcome, id: idOf(response) };
    },
    async update(id, field, value) {
      const notHere = carried({ [field]: value });
      if (notHere) return { outcome: notHere };
      const { outcome, response } = await call(rpc.update, {
        [singular]: { id, [field]: value },
        updateMask: { paths: [maskPath(field)] },
      });
      return { outcome, id: idOf(response) };
    },
    async list(pageSize) {
      const value = grpcPageSize(pageSize);
      if (typeof value !== "number") return value;
      return (await call(rpc.list, { pageSize: value })).outcome;
    },
    async get(id) {
      const response = await client.call<Record<string, Answered>>(rpc.get, { id }, metadata());
      return fieldsOf(entity, response[singular] ?? {});
    },
    async remove(id) {
      await client.call(rpc.delete, { id }, metadata());
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
async function restOutcome(
  entity: Entity,
  response: Response,
  prism: boolean,
): Promise<{ outcome: Outcome; body: unknown }> {
  const refused = refusal(entity);
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

/** A driver of `entity`'s REST API at `baseUrl` (the gateway, or a mock of the contract). */
export function restDriver(
  entity: Entity,
  name: string,
  baseUrl: string,
  real: boolean,
  authorization?: string,
): Driver {
  const path = entity.restPath;
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
    return restOutcome(entity, response, !real);
  };
  return {
    name,
    real,
    async create(fields) {
      const differs = prismTakesNonText(fields);
      if (differs) return { outcome: differs };
      const { outcome, body } = await send("POST", path, fields);
      return { outcome, id: (body as Answered | undefined)?.id };
    },
    async update(id, field, value) {
      const differs = prismTakesNonText({ [field]: value });
      if (differs) return { outcome: differs };
      const { outcome, body } = await send(
        "PATCH",
        `${path}/${id}`,
        { [field]: value },
        "application/merge-patch+json",
      );
      return { outcome, id: (body as Answered | undefined)?.id };
    },
    async list(pageSize) {
      if (typeof pageSize === "number" && !Number.isFinite(pageSize)) return notCarried("not a finite number");
      // A documented difference of the peer (docs/mocks.md): Prism takes `?pageSize=` as not sent, where the
      // contract (allowEmptyValue false) and the gateway refuse an empty integer.
      if (pageSize === "" && !real) return notCarried("Prism takes an empty value as not sent (documented)");
      return (await send("GET", `${path}?${queryOf(pageSize)}`)).outcome;
    },
    async get(id) {
      const response = await fetch(`${baseUrl}${path}/${id}`, { headers: auth });
      if (!response.ok) throw new Error(`GET ${path}/${id}: ${response.status} ${await response.text()}`);
      return fieldsOf(entity, (await response.json()) as Answered);
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
  data?: Record<string, Answered | null> | null;
  errors?: GraphqlError[];
}

/**
 * A GraphQL answer: data without errors is accepted; INVALID_ARGUMENT refused, naming the fields in
 * `extensions.fieldViolations`, or for GraphQL's own coercion of a variable the argument its message names
 * (`Variable "$input" got invalid value … at "input.name"`, `Variable "$first" …`).
 */
function graphqlOutcome(entity: Entity, body: GraphqlBody, status: number): Outcome {
  const refused = refusal(entity);
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

/** A driver of `entity`'s GraphQL fields at `url` (the gateway's /graphql, or a mock's). */
export function graphqlDriver(
  entity: Entity,
  name: string,
  url: string,
  real: boolean,
  authorization?: string,
): Driver {
  const { create, update, list, get, createInput, updateInput } = entity.graphql;
  const selection = `id ${Object.keys(entity.fields).join(" ")}`;
  const CREATE = `mutation ($input: ${createInput}!) { ${create}(input: $input) { ${selection} } }`;
  const UPDATE = `mutation ($input: ${updateInput}!) { ${update}(input: $input) { ${selection} } }`;
  const LIST = `query ($first: Int) { ${list}(first: $first) { nodes { id } } }`;
  const GET = `query ($id: ID!) { ${get}(id: $id) { ${selection} } }`;
  const post = async (query: string, variables: object): Promise<{ outcome: Outcome; body: GraphqlBody }> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphqlBody;
    return { outcome: graphqlOutcome(entity, body, response.status), body };
  };
  return {
    name,
    real,
    async create(fields) {
      const { outcome, body } = await post(CREATE, { input: fields });
      return { outcome, id: body.data?.[create]?.id };
    },
    async update(id, field, value) {
      const { outcome, body } = await post(UPDATE, { input: { id, [field]: value } });
      return { outcome, id: body.data?.[update]?.id };
    },
    async list(pageSize) {
      if (typeof pageSize === "string") return notCarried("a query-string spelling; GraphQL's Int is a JSON number");
      if (!Number.isFinite(pageSize)) return notCarried("not a finite number: JSON cannot carry it");
      return (await post(LIST, { first: pageSize })).outcome;
    },
    async get(id) {
      const { body } = await post(GET, { id });
      const found = body.data?.[get];
      if (!found) throw new Error(`${get}(id: ${id}): ${JSON.stringify(body)}`);
      return fieldsOf(entity, found);
    },
    close: () => undefined,
  };
}

/** An e-mail no other write of the run uses, for the writes whose value under test is the name. */
export const uniqueEmail = (): string => `fidelity.${randomUUID()}@example.com`;

const FILLER_TEXT = "Fidelity Filler";

/**
 * Valid values of `entity`'s required fields but `except` (the one under test), for a create: a unique e-mail for
 * an e-mail field (users' e-mails are unique), the same text for any other.
 */
export function fillerOf(entity: Entity, except?: string): Record<string, string> {
  return Object.fromEntries(
    entity.required
      .filter((field) => field !== except)
      .map((field) => [field, entity.fields[field]?.format === "email" ? uniqueEmail() : FILLER_TEXT]),
  );
}

export type { FieldName };
