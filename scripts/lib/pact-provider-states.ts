/**
 * The provider states the pacts in pacts/ name, set up on a running gateway through its public
 * REST API with the project's SDK: no test hook inside the services. Each setup first deletes
 * every user, so an interaction sees only the data its state describes. Values the provider
 * chooses (ids, etags) are returned to the verifier, which injects them where the pact uses
 * `fromProviderState` (e.g. the path `/v1/users/${id}` or the header If-Match `"${etag}"`). The setup's own calls
 * carry `token` (every operation needs one). The one step no public operation makes, erasing a deleted user's
 * history (EraseUserHistory, an internal RPC of the audit service), is the `eraseHistory` the caller hands in.
 * A service made by `npm run new:service` has states of the same kind named by its entity (createEntityProviderStates).
 */
import { rulesOf } from "../../platform/rules/field-rules.js";
import { capitalized, singularOf } from "../../platform/service-names.js";
import { createUsersClient, type Result, type User, type UsersClient } from "../../sdk/index.js";

const LARGEST_PAGE = Number(rulesOf("charter.users.v1.ListUsersRequest").pageSize.maximum);

/** A state's parameters as the pact gives them. */
export type StateParams = Readonly<Record<string, unknown>>;
/** Values injected into the request of the interaction (`fromProviderState` expressions). */
export type InjectedValues = Record<string, string>;
export type ProviderStateSetup = (params: StateParams) => Promise<InjectedValues>;

export const STATE_NO_USERS = "no users exist";
export const STATE_USER_EXISTS = "a user exists";
export const STATE_USER_CHANGED = "a user exists that was changed after it was created";
export const STATE_USERS_EXIST = "users exist";
export const STATE_USER_HISTORY = "a user was created, renamed and deleted";
export const STATE_USER_HISTORY_ERASED = "a user was created, renamed and deleted, and its history erased";
export const STATE_NO_STATS = "no user stats have been received";

/** How long a state waits for the audit service to record a change (it arrives shortly after, not at once). */
const HISTORY_DEADLINE_MS = 15_000;

function text(params: StateParams, name: string, fallback: string): string {
  const value = params[name];
  if (value === undefined) return fallback;
  if (typeof value !== "string")
    throw new Error(`state parameter ${name} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function count(params: StateParams, name: string, fallback: number): number {
  const value = params[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new Error(`state parameter ${name} must be an integer from 0 to 100, got ${JSON.stringify(value)}`);
  }
  return value;
}

function settled<T>(what: string, result: Result<T>): T {
  if (!result.ok) throw new Error(`${what}: ${result.status} ${JSON.stringify(result.problem)}`);
  return result.data;
}

async function deleteAllUsers(users: UsersClient): Promise<void> {
  const all: User[] = [];
  for await (const user of users.listAll({ pageSize: LARGEST_PAGE })) all.push(user);
  for (const user of all) {
    const deleted = await users.delete(user.id);
    if (!deleted.ok && deleted.status !== 404) settled(`deleting user ${user.id}`, deleted);
  }
}

/** The state handlers for a gateway at `baseUrl`, keyed by the state names the pacts use. */
export function createProviderStates(
  baseUrl: string,
  token?: () => Promise<string>,
  options: {
    /** Erases the user's history now, as the erasure function does (the audit service's EraseUserHistory). */
    readonly eraseHistory?: (userId: string) => Promise<void>;
  } = {},
): Readonly<Record<string, ProviderStateSetup>> {
  const users = createUsersClient({ baseUrl, ...(token ? { token } : {}) });
  const createUser = async (name: string, email: string): Promise<User> =>
    settled(`creating ${email}`, await users.create({ name, email }));
  /** Creates, renames and deletes a user, and waits until its history holds the three events; its id. */
  const createdRenamedDeleted = async (params: StateParams): Promise<string> => {
    await deleteAllUsers(users);
    const created = await createUser(text(params, "name", "Ada Lovelace"), text(params, "email", "ada@example.com"));
    const renamed = settled(
      `renaming ${created.id}`,
      await users.update(created.id, { name: text(params, "newName", "Ada King") }, { ifMatch: created.etag }),
    );
    const deleted = await users.delete(created.id, { ifMatch: renamed.etag });
    if (!deleted.ok) settled(`deleting ${created.id}`, deleted);
    const deadline = Date.now() + HISTORY_DEADLINE_MS;
    for (;;) {
      const history = settled(`reading the history of ${created.id}`, await users.listUserHistory(created.id));
      if (history.events.length >= 3) break;
      if (Date.now() > deadline) {
        throw new Error(
          `the history of ${created.id} has ${history.events.length} of 3 events after ${HISTORY_DEADLINE_MS} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return created.id;
  };

  return {
    async [STATE_NO_USERS]() {
      await deleteAllUsers(users);
      return {};
    },
    /** Params: name, email (defaults Ada Lovelace, ada@example.com). Injects id and etag. */
    async [STATE_USER_EXISTS](params) {
      await deleteAllUsers(users);
      const user = await createUser(text(params, "name", "Ada Lovelace"), text(params, "email", "ada@example.com"));
      return { id: user.id, etag: user.etag };
    },
    /** Params: name, email. Injects id, the current etag and staleEtag, the etag it had when created. */
    async [STATE_USER_CHANGED](params) {
      await deleteAllUsers(users);
      const name = text(params, "name", "Ada Lovelace");
      const created = await createUser(name, text(params, "email", "ada@example.com"));
      const changed = settled(
        `changing ${created.id}`,
        await users.update(created.id, { name: `${name} (changed)` }, { ifMatch: created.etag }),
      );
      return { id: changed.id, etag: changed.etag, staleEtag: created.etag };
    },
    /** Params: count (default 2); users user-1@example.com … in creation order. */
    async [STATE_USERS_EXIST](params) {
      await deleteAllUsers(users);
      const n = count(params, "count", 2);
      for (let i = 1; i <= n; i++) await createUser(`User ${i}`, `user-${i}@example.com`);
      return {};
    },
    /**
     * Params: name, email, newName. Creates the user, renames it, deletes it, and waits until its history
     * holds the three events. Injects id.
     */
    async [STATE_USER_HISTORY](params) {
      return { id: await createdRenamedDeleted(params) };
    },
    /** Params as STATE_USER_HISTORY; then erases the history (options.eraseHistory). Injects id. */
    async [STATE_USER_HISTORY_ERASED](params) {
      const erase = options.eraseHistory;
      if (!erase) {
        throw new Error(
          `the state "${STATE_USER_HISTORY_ERASED}" needs the audit service's EraseUserHistory, which no public operation reaches`,
        );
      }
      const id = await createdRenamedDeleted(params);
      await erase(id);
      return { id };
    },
    /**
     * Nothing to set up: the provider is verified on embedded defaults, where no stats pipeline runs, so the audit
     * service never has stats to serve.
     */
    async [STATE_NO_STATS]() {
      return {};
    },
  };
}

/**
 * The provider states of an entity service made by `npm run new:service` (`books`: entity `book`), named by its
 * entity so that one set serves every such service: `no books exist`, `a book exists` and `books exist`.
 */
export function entityStateNames(plural: string): {
  readonly none: string;
  readonly one: string;
  readonly some: string;
} {
  return { none: `no ${plural} exist`, one: `a ${singularOf(plural)} exists`, some: `${plural} exist` };
}

/**
 * The state handlers of the entity service `plural` behind the gateway at `baseUrl`, set up through its public REST
 * API (`/v1/<plural>`, the scaffold's contract) with a token from `token` (both its scopes): each first deletes every
 * entity, so an interaction sees only the data its state describes.
 */
export function createEntityProviderStates(
  baseUrl: string,
  plural: string,
  token: () => Promise<string>,
): Readonly<Record<string, ProviderStateSetup>> {
  const collection = `${baseUrl}/v1/${plural}`;
  const call = async (method: string, url: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${await token()}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok && !(method === "DELETE" && response.status === 404)) {
      throw new Error(`${method} ${url}: ${response.status} ${text}`);
    }
    return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  const deleteAll = async (): Promise<void> => {
    for (;;) {
      const page = (await call("GET", collection))[plural] as { id: string }[] | undefined;
      if (!page || page.length === 0) return;
      for (const entity of page) await call("DELETE", `${collection}/${entity.id}`);
    }
  };
  const create = async (fields: StateParams) => {
    const created = await call("POST", collection, fields);
    return { id: String(created.id), etag: String(created.etag) };
  };
  const names = entityStateNames(plural);
  const Singular = capitalized(singularOf(plural));
  return {
    async [names.none]() {
      await deleteAll();
      return {};
    },
    /** Params: the entity's fields (the body of its create). Injects id and etag. */
    async [names.one](params) {
      await deleteAll();
      return create(params);
    },
    /** Params: count (default 2); named `<Singular> 1` … in creation order. */
    async [names.some](params) {
      await deleteAll();
      const n = count(params, "count", 2);
      for (let i = 1; i <= n; i++) await create({ name: `${Singular} ${i}` });
      return {};
    },
  };
}
