/** Reads a few configuration keys from etcd once, at start, within a bound: what a service needs before it can run. */
import type { ClientTls } from "../tls-config.js";
import { createEtcdClient } from "./etcd-client.js";

export const CONFIG_PREFIX = "/charter/config/";

/**
 * The values of `keys` (undefined for an absent key). Rejects with one line naming ETCD_ENDPOINTS when etcd
 * does not answer within timeoutMs.
 */
export async function readEtcdConfig(
  endpoints: readonly string[],
  keys: readonly string[],
  timeoutMs: number,
  tls?: ClientTls,
): Promise<Map<string, string | undefined>> {
  const etcd = createEtcdClient({ endpoints, tls, callTimeoutMs: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
  });
  try {
    const values = await Promise.race([Promise.all(keys.map((key) => etcd.get(key).string())), timeout]);
    return new Map(keys.map((key, i) => [key, values[i] ?? undefined]));
  } catch (error) {
    const where = `etcd at ${endpoints.join(",")} (ETCD_ENDPOINTS)`;
    if (error instanceof Error && error.message !== "timeout") {
      throw new Error(`${where} could not be read: ${error.message.split("\n")[0]}`);
    }
    throw new Error(`${where} did not answer within ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
    etcd.close();
  }
}
