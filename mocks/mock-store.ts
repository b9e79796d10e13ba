/**
 * The one in-memory store of `npm run mock -- --stateful`, shared by the REST, gRPC and GraphQL mocks: users in
 * creation order, seeded from the OpenAPI document's examples, each with a numeric etag that grows on every write,
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

export class MockStore {
  readonly #users = new Map<string, User>();
  readonly #events = new Map<string, UserEvent[]>();
  /** Each request key's create: what was asked and the user it made (as made). */
  readonly #created = new Map<string, { readonly name: string; readonly email: string; readonly user: User }>();
  #nextId: bigint;
  #nextEvent = 1;

  /** Seeds the store with the given users (the contract's examples), each with its CREATED event. */
  constructor(seed: readonly User[]) {
    let maxId = 0n;
    for (const user of seed) {
      if (this.#users.has(user.id)) continue;
      this.#users.set(user.id, { ...user });
      this.#record("CREATED", user, user.createTime, undefined);
      if (BigInt(user.id) > maxId) maxId = BigInt(user.id);
    }
    this.#nextId = maxId + 1n;
  }

  get(id: string): User {
    const user = this.#users.get(id);
    if (!user) throw new AppError("NOT_FOUND", `no user with id ${id}`);
    return { ...user };
  }

  lookup(email: string): User {
    const wanted = email.toLowerCase();
    for (const user of this.#users.values()) if (user.email.toLowerCase() === wanted) return { ...user };
    throw new AppError("NOT_FOUND", "no user has this email");
  }

  /** Users that exist, by id; ids with none are left out. */
  batchGet(ids: readonly string[]): User[] {
    return ids.flatMap((id) => {
      const user = this.#users.get(id);
      return user ? [{ ...user }] : [];
    });
  }

  list(pageSize: number, pageToken: string | undefined): Page<User> {
    return this.#page([...this.#users.values()], pageSize, pageToken, "pageToken");
  }

  history(userId: string, pageSize: number, pageToken: string | undefined): Page<UserEvent> {
    return this.#page(this.#events.get(userId) ?? [], pageSize, pageToken, "pageToken");
  }

  /**
   * A create with a request key (REST's Idempotency-Key, gRPC's request_id: one key space, as the gateway passes the
   * one as the other) answers the user the key's first create made, as made; the key with another user is
   * FAILED_PRECONDITION (IDEMPOTENCY_KEY_REUSED).
   */
  create(input: { name: string; email: string }, actor: Actor, requestKey?: string): User {
    const previous = requestKey ? this.#created.get(requestKey) : undefined;
    if (previous) {
      if (previous.name !== input.name || previous.email !== input.email) {
        throw new AppError("FAILED_PRECONDITION", "this request key was already used to create a different user", {
          reason: "IDEMPOTENCY_KEY_REUSED",
        });
      }
      return { ...previous.user };
    }
    const user = this.#insert(input, actor);
    if (requestKey) this.#created.set(requestKey, { name: input.name, email: input.email, user });
    return user;
  }

  #insert(input: { name: string; email: string }, actor: Actor): User {
    this.#emailFree(input.email, undefined);
    const time = now();
    const user: User = {
      id: String(this.#nextId++),
      name: input.name,
      email: input.email,
      etag: "1",
      createTime: time,
      updateTime: time,
    };
    this.#users.set(user.id, user);
    this.#record("CREATED", user, time, actor);
    return { ...user };
  }

  /** Applies the change to the user, only at `ifMatch` when it is given (ABORTED otherwise). */
  update(id: string, change: UserChange, ifMatch: string | undefined, actor: Actor): User {
    const user = this.#current(id, ifMatch);
    if (change.email !== undefined) this.#emailFree(change.email, id);
    const time = now();
    const updated: User = {
      ...user,
      ...(change.name !== undefined ? { name: change.name } : {}),
      ...(change.email !== undefined ? { email: change.email } : {}),
      etag: String(Number(user.etag) + 1),
      updateTime: time,
    };
    this.#users.set(id, updated);
    this.#record("UPDATED", updated, time, actor);
    return { ...updated };
  }

  /** Deletes the user, only at `ifMatch` when it is given (ABORTED otherwise). */
  delete(id: string, ifMatch: string | undefined, actor: Actor): void {
    const user = this.#current(id, ifMatch);
    this.#users.delete(id);
    const event: UserEvent = {
      eventId: this.#eventId(),
      type: "DELETED",
      userId: id,
      version: String(Number(user.etag) + 1),
      occurredAt: now(),
      ...(actor ? { actor } : {}),
    };
    this.#events.get(id)?.push(event);
  }

  #current(id: string, ifMatch: string | undefined): User {
    const user = this.get(id);
    if (ifMatch !== undefined && ifMatch !== "" && etagOf(ifMatch) !== "*" && etagOf(ifMatch) !== user.etag) {
      throw new AppError("ABORTED", `the user's etag is ${user.etag}, not ${etagOf(ifMatch)}`, {
        reason: "ETAG_MISMATCH",
      });
    }
    return user;
  }

  #emailFree(email: string, ownId: string | undefined): void {
    const wanted = email.toLowerCase();
    for (const user of this.#users.values()) {
      if (user.id !== ownId && user.email.toLowerCase() === wanted) {
        throw new AppError("ALREADY_EXISTS", "a user with this email already exists", { reason: "EMAIL_TAKEN" });
      }
    }
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

  /** One page: a token is the position after the previous page's last item (`v1:<n>`, base64url). */
  #page<T>(all: readonly T[], pageSize: number, pageToken: string | undefined, field: string): Page<T> {
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
