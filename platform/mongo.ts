/**
 * Connecting a service to MongoDB: the database named by the URL's path, a ping and the service's own start-up
 * steps (indexes) within the connect timeout, and errors that name where MongoDB was expected without leaking a
 * password from the URL.
 */
import { type Db, MongoClient, MongoServerSelectionError } from "mongodb";

/** The driver's duplicate key error code. */
export const DUPLICATE_KEY = 11000;
const DEFAULT_DATABASE = "charter";

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The database named by the URL's path (the driver itself would default to "test"). */
export function databaseOf(url: string): string {
  // Valid URLs escape "@" and "/" in credentials, so the path starts at the first "/" after the hosts.
  const path = /^[^:]+:\/\/(?:[^@/]*@)?[^/?]*\/([^?]*)/.exec(url)?.[1] ?? "";
  return decode(path) || DEFAULT_DATABASE;
}

/** The first line of a driver message, with any password from the URL blanked out. */
export function safeMessage(error: unknown, url: string): string {
  const line = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  const password = /^[^:]+:\/\/[^:@/]*:([^@/]+)@/.exec(url)?.[1];
  if (!password) return line;
  return line.replaceAll(password, "***").replaceAll(decode(password), "***");
}

export interface MongoConnectOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  /** The driver's appName, e.g. charter-users. */
  readonly appName: string;
  /** Start-up steps after the ping (indexes); a failure fails the connection. */
  readonly prepare?: (db: Db) => Promise<void>;
}

/** A connected client and its database, or an Error saying in one line why not (the client is then closed). */
export async function connectMongo(opts: MongoConnectOptions): Promise<{ client: MongoClient; db: Db }> {
  let client: MongoClient;
  try {
    client = new MongoClient(opts.url, {
      serverSelectionTimeoutMS: opts.connectTimeoutMs,
      connectTimeoutMS: opts.connectTimeoutMs,
      appName: opts.appName,
    });
  } catch (error) {
    throw new Error(`MONGO_URL is not a valid MongoDB URL: ${safeMessage(error, opts.url)}`);
  }
  const where = client.options.hosts.map(String).join(",");
  const db = client.db(databaseOf(opts.url));
  try {
    await client.connect();
    await db.command({ ping: 1 });
    await opts.prepare?.(db);
  } catch (error) {
    await client.close().catch(() => {});
    throw new Error(
      error instanceof MongoServerSelectionError
        ? `MongoDB at ${where} did not answer within ${opts.connectTimeoutMs} ms`
        : `MongoDB at ${where} failed the start-up check: ${safeMessage(error, opts.url)}`,
    );
  }
  return { client, db };
}
