/**
 * The in-memory stores of `npm run mock -- --stateful`, each shared by a service's REST, gRPC and GraphQL mocks:
 * entities in creation order (EntityStore: every service made by `npm run new:service`, see entity-service.ts), and
 * users (MockStore), seeded from the OpenAPI document's examples, each with a numeric etag that grows on every write,
 * and the history of every user derived from the store's own changes (a seeded user has its CREATED event). Values
 * are in the REST (proto3 JSON) form; each mock maps them to its protocol. Errors are AppErrors with the codes the
 * services answer: NOT_FOUND, ABORTED (a stale etag), ALREADY_EXISTS (an e-mail taken), INVALID_ARGUMENT (a page
 * token the store did not give).
 */
import type { components } from "../generated/openapi/users.v1.js";
import { AppError, invalidArgument } from "../platform/errors.js";

export type User = components["schemas"]["User"];
export type UserEvent = components["schemas"]["UserEvent"];

export interface Page<T> {
  readonly items: readonly T[];
  /** The position of the first item among all of them. */
  readonly start: number;
  readonly nextPageToken?: string;
}

export interface UserChange {
  readonly name?: string;
  readonly email?: string;
}

/** Who made a change (the token's subject), when the caller knows it. */
export type Actor = string | undefined;

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const tokenOf = (position: number) => Buffer.from(`v1:${position}`).toString("base64url");

/** The etag a client sent (`"2"`, `W/"2"`, `2` or `*`), as the store spells it. */
export const etagOf = (header: string): string =>
  header
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");

/** An entity of an entity service's store: the fields every one has (the scaffold's convention), then its own. */
export interface Entity {
  readonly id: string;
  readonly etag: string;
  readonly createTime: string;
  readonly updateTime: string;
}

/** The fields a create or an update sets: the entity's own, none of its output-only ones. */
export type EntityInput<T extends Entity> = Omit<T, keyof Entity>;

/** One page: a token is the position after the previous page's last item (`v1:<n>`, base64url). */
function pageOf<T>(all: readonly T[], pageSize: number, pageToken: string | undefined, field: string): Page<T> {
  let start = 0;
  if (pageToken !== undefined && pageToken !== "") {
    const match = /^v1:(\d{1,9})$/.exec(Buffer.from(pageToken, "base64url").toString());
    if (!match?.[1] || tokenOf(Number(match[1])) !== pageToken) {
      throw invalidArgument([{ field, description: "is not a page token this server gave" }]);
    }
    start = Number(match[1]);
  }
  const items = all.slice(start, start + pageSize).map((item) => structuredClone(item));
  const end = start + items.length;
  return end < all.length ? { items, start, nextPageToken: tokenOf(end) } : { items, start };
}

/** The input's fields in a fixed order, to tell whether two creates asked for the same. */
const sameInput = (a: object, b: object): boolean => {
  const sorted = (value: object) => JSON.stringify(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)));
  return sorted(a) === sorted(b);
};

/**
 * The store of one entity service (every service made by `npm run new:service`, and users): entities in creation
 * order, seeded from the contract's examples, each with a snowflake-like id (after the largest seeded one), a
 * numeric etag that grows on every write and its create and update times; the other fields are the request's.
 * A create with a request key answers the entity the key's first create made.
 */
export class EntityStore<T extends Entity> {
  protected readonly entities = new Map<string, T>();
  /** Each request key's create: what was asked and the entity it made (as made). */
  readonly #created = new Map<string, { readonly input: EntityInput<T>; readonly entity: T }>();
  #nextId: bigint;

  /** `singular` names the entity in error messages (`no book with id 1`). */
  constructor(
    readonly singular: string,
    seed: readonly T[],
  ) {
    let maxId = 0n;
    for (const entity of seed) {
      if (this.entities.has(entity.id)) continue;
      this.entities.set(entity.id, { ...entity });
      if (BigInt(entity.id) > maxId) maxId = BigInt(entity.id);
    }
    this.#nextId = maxId + 1n;
  }

  get(id: string): T {
    const entity = this.entities.get(id);
    if (!entity) throw new AppError("NOT_FOUND", `no ${this.singular} with id ${id}`);
    return { ...entity };
  }

  /** Entities that exist, by id; ids with none are left out. */
  batchGet(ids: readonly string[]): T[] {
    return ids.flatMap((id) => {
      const entity = this.entities.get(id);
      return entity ? [{ ...entity }] : [];
    });
  }

  list(pageSize: number, pageToken: string | undefined): Page<T> {
    return pageOf([...this.entities.values()], pageSize, pageToken, "pageToken");
  }

  /**
   * A create with a request key (REST's Idempotency-Key, gRPC's request_id: one key space, as the gateway passes the
   * one as the other) answers the entity the key's first create made, as made; the key with another entity is
   * FAILED_PRECONDITION (IDEMPOTENCY_KEY_REUSED).
   */
  create(input: EntityInput<T>, actor: Actor, requestKey?: string): T {
    const previous = requestKey ? this.#created.get(requestKey) : undefined;
    if (previous) {
      if (!sameInput(previous.input, input)) {
        throw new AppError(
          "FAILED_PRECONDITION",
          `this request key was already used to create a different ${this.singular}`,
          { reason: "IDEMPOTENCY_KEY_REUSED" },
        );
      }
      return { ...previous.entity };
    }
    this.checkWrite(input, undefined);
    const time = now();
    const entity = { id: String(this.#nextId++), ...input, etag: "1", createTime: time, updateTime: time } as T;
    this.entities.set(entity.id, entity);
    this.written("CREATED", entity, time, actor);
    if (requestKey) this.#created.set(requestKey, { input: { ...input }, entity: { ...entity } });
    return { ...entity };
  }

  /** Applies the change (its fields that are not undefined) to the entity, only at `ifMatch` when it is given. */
  update(id: string, change: Partial<EntityInput<T>>, ifMatch: string | undefined, actor: Actor): T {
    const entity = this.#current(id, ifMatch);
    const set = Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined));
    this.checkWrite(set as Partial<EntityInput<T>>, id);
    const time = now();
    const updated = { ...entity, ...set, etag: String(Number(entity.etag) + 1), updateTime: time } as T;
    this.entities.set(id, updated);
    this.written("UPDATED", updated, time, actor);
    return { ...updated };
  }

  /** Deletes the entity, only at `ifMatch` when it is given (ABORTED otherwise). */
  delete(id: string, ifMatch: string | undefined, actor: Actor): void {
    const entity = this.#current(id, ifMatch);
    this.entities.delete(id);
    this.deleted(entity, actor);
  }

  /** Refuses a create (`ownId` undefined) or an update of these fields, as the service would. None by default. */
  protected checkWrite(_fields: Partial<EntityInput<T>>, _ownId: string | undefined): void {}

  /** After a create or an update. */
  protected written(_type: "CREATED" | "UPDATED", _entity: T, _time: string, _actor: Actor): void {}

  /** After a delete, with the entity as it was. */
  protected deleted(_entity: T, _actor: Actor): void {}

  #current(id: string, ifMatch: string | undefined): T {
    const entity = this.get(id);
    if (ifMatch !== undefined && ifMatch !== "" && etagOf(ifMatch) !== "*" && etagOf(ifMatch) !== entity.etag) {
      throw new AppError("ABORTED", `the ${this.singular}'s etag is ${entity.etag}, not ${etagOf(ifMatch)}`, {
        reason: "ETAG_MISMATCH",
      });
    }
    return entity;
  }
}

/** The users' store: an entity store whose e-mails are unique, looked up, and whose changes make each user's history. */
export class MockStore extends EntityStore<User> {
  readonly #events = new Map<string, UserEvent[]>();
  #nextEvent = 1;

  /** Seeds the store with the given users (the contract's examples), each with its CREATED event. */
  constructor(seed: readonly User[]) {
    super("user", seed);
    for (const user of this.entities.values()) this.#record("CREATED", user, user.createTime, undefined);
  }

  lookup(email: string): User {
    const wanted = email.toLowerCase();
    for (const user of this.entities.values()) if (user.email.toLowerCase() === wanted) return { ...user };
    throw new AppError("NOT_FOUND", "no user has this email");
  }

  history(userId: string, pageSize: number, pageToken: string | undefined): Page<UserEvent> {
    return pageOf(this.#events.get(userId) ?? [], pageSize, pageToken, "pageToken");
  }

  protected override checkWrite(fields: Partial<UserChange>, ownId: string | undefined): void {
    if (fields.email === undefined) return;
    const wanted = fields.email.toLowerCase();
    for (const user of this.entities.values()) {
      if (user.id !== ownId && user.email.toLowerCase() === wanted) {
        throw new AppError("ALREADY_EXISTS", "a user with this email already exists", { reason: "EMAIL_TAKEN" });
      }
    }
  }

  protected override written(type: "CREATED" | "UPDATED", user: User, time: string, actor: Actor): void {
    this.#record(type, user, time, actor);
  }

  protected override deleted(user: User, actor: Actor): void {
    const event: UserEvent = {
      eventId: this.#eventId(),
      type: "DELETED",
      userId: user.id,
      version: String(Number(user.etag) + 1),
      occurredAt: now(),
      ...(actor ? { actor } : {}),
    };
    this.#events.get(user.id)?.push(event);
  }

  #eventId(): string {
    return `mock-${String(this.#nextEvent++).padStart(8, "0")}`;
  }

  #record(type: "CREATED" | "UPDATED", user: User, time: string, actor: Actor): void {
    const events = this.#events.get(user.id) ?? [];
    events.push({
      eventId: this.#eventId(),
      type,
      userId: user.id,
      user: { ...user },
      version: user.etag,
      occurredAt: time,
      ...(actor ? { actor } : {}),
    });
    this.#events.set(user.id, events);
  }
}

/** The page token (and GraphQL cursor) of the position after an item. */
export const pageTokenAt = (position: number): string => tokenOf(position);

/** The subject (`sub`) of a bearer token, unverified, as the actor of a change; undefined when it has none. */
export function actorOf(authorization: string | undefined): Actor {
  const payload = authorization?.replace(/^Bearer\s+/i, "").split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { sub?: unknown };
    return typeof claims.sub === "string" && claims.sub.length <= 255 ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
