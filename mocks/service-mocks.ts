/**
 * The mocks of every other service (contracts/openapi/<name>.v1.yaml besides users, e.g. a service made by
 * `npm run new:service`), found by directory. Its REST mock is one Prism a document, answering with its examples
 * (`Prefer: code=` / `example=`), on a port of its own; it is not behind the users mock's REST front: no faults,
 * delays or stateful mode for it yet. Its gRPC mock (grpc-mock.ts, contractMock) and its GraphQL fields
 * (graphql-mock.ts, merged into the users schema) join the users mocks' servers and answer from the same examples.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { onFreePort } from "../platform/net.js";
import { otherServiceNames } from "../platform/service-names.js";
import { type ContractExamples, loadContractExamples, OPENAPI_FILE } from "./contract-examples.js";
import { type RestMock, startRestMock } from "./rest-mock.js";

const GRAPHQL_DIR = fileURLToPath(new URL("../contracts/graphql/", import.meta.url));

/** Another service's contracts, as its mocks read them. */
export interface ServiceContracts {
  readonly name: string;
  /** contracts/openapi/<name>.v1.yaml */
  readonly openapi: string;
  readonly examples: ContractExamples;
  /** contracts/graphql/<name>.graphql, when the service has one. */
  readonly sdl?: string;
}

/** The contracts of every other service, found by directory, sorted by name. */
export function otherServiceContracts(): ServiceContracts[] {
  const dir = dirname(OPENAPI_FILE);
  return otherServiceNames(dir, OPENAPI_FILE).map((name) => {
    const openapi = join(dir, `${name}.v1.yaml`);
    const graphql = join(GRAPHQL_DIR, `${name}.graphql`);
    return {
      name,
      openapi,
      examples: loadContractExamples(openapi),
      ...(existsSync(graphql) ? { sdl: readFileSync(graphql, "utf8") } : {}),
    };
  });
}

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
