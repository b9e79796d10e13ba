/**
 * The REST mocks of every other service (contracts/openapi/<name>.v1.yaml besides users, e.g. a service made by
 * `npm run new:service`): one Prism a document, answering with its examples (`Prefer: code=` / `example=`), on a
 * port of its own. They are not behind the users mock's REST front: no faults, delays or stateful mode for them yet.
 */
import { dirname, join } from "node:path";
import { onFreePort } from "../platform/net.js";
import { otherServiceNames } from "../platform/service-names.js";
import { OPENAPI_FILE } from "./contract-examples.js";
import { type RestMock, startRestMock } from "./rest-mock.js";

export interface ServiceRestMock extends RestMock {
  /** The service's name: its document is contracts/openapi/<name>.v1.yaml. */
  readonly name: string;
}

/** Starts one Prism for each other service's document; stops those it started when one fails. */
export async function startServiceRestMocks(opts: { host: string; dynamic: boolean }): Promise<ServiceRestMock[]> {
  const dir = dirname(OPENAPI_FILE);
  const names = otherServiceNames(dir, OPENAPI_FILE);
  const started: ServiceRestMock[] = [];
  try {
    for (const name of names) {
      // Prism takes a port number: one that was free a moment ago, tried again if taken meanwhile.
      const mock = await onFreePort(
        (port) =>
          startRestMock({
            host: opts.host,
            port,
            dynamic: opts.dynamic,
            // Any answer (401 without a token) says Prism is listening.
            probePath: `/v1/${name}`,
            file: join(dir, `${name}.v1.yaml`),
          }),
        { host: opts.host },
      );
      started.push({ ...mock, name });
    }
  } catch (error) {
    for (const mock of started) await mock.stop().catch(() => {});
    throw error;
  }
  return started;
}
