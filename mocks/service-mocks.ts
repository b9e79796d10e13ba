/**
 * The mocks of every other service (contracts/openapi/<name>.v1.yaml besides users, e.g. a service made by
 * `npm run new:service`), found by directory. Its REST mock is one Prism a document, answering with its examples
 * (`Prefer: code=` / `example=`), behind a REST front of its own on a port of its own (`Prefer: delay=`, the
 * configured faults). Its gRPC mock (grpc-mock.ts, contractMock) and its GraphQL fields (graphql-mock.ts, merged
 * into the users schema) join the users mocks' servers and answer from the same examples. In the stateful mode each
 * service has one store (entity-service.ts), behind all three: its Prism is a validation proxy in front of a REST
 * server over the store (stateful-rest.ts entityRoutes), as users' is.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { onFreePort } from "../platform/net.js";
import { otherServiceNames } from "../platform/service-names.js";
import { type ContractExamples, loadContractExamples, OPENAPI_FILE } from "./contract-examples.js";
import type { FaultInjector } from "./faults.js";
import type { Entity, EntityStore } from "./mock-store.js";
import { startRestFront } from "./rest-front.js";
import { type RestMock, startRestMock } from "./rest-mock.js";
import { entityRoutes, startStatefulRest } from "./stateful-rest.js";

const GRAPHQL_DIR = fileURLToPath(new URL("../contracts/graphql/", import.meta.url));

/** Another service's contracts, as its mocks read them. */
export interface ServiceContracts {
  /** Also the name of its lists (`books`), by the entity CRUD convention. */
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

export interface ServiceRestMock {
  /** The service's name: its document is contracts/openapi/<name>.v1.yaml. */
  readonly name: string;
  /** The port of its REST front: the service's REST mock. */
  readonly port: number;
  /** The Prism behind the front, on loopback. */
  readonly prism: RestMock;
  stop(): Promise<void>;
}

/**
 * Starts one Prism for each other service's document, on loopback behind a REST front of its own (rest-front.ts, as
 * the users Prism is), so `Prefer: delay=` and the configured faults of its operations apply to it too; stops those
 * it started when one fails.
 */
export async function startServiceRestMocks(opts: {
  host: string;
  dynamic: boolean;
  contracts: readonly ServiceContracts[];
  faults: FaultInjector;
  /** The stateful mode: each service's store, by name; its Prism is then a validation proxy to a server over it. */
  stores?: ReadonlyMap<string, EntityStore<Entity>>;
}): Promise<ServiceRestMock[]> {
  const started: ServiceRestMock[] = [];
  try {
    for (const { name, openapi, examples } of opts.contracts) {
      const store = opts.stores?.get(name);
      const upstream = store
        ? await startStatefulRest({ host: "127.0.0.1", examples, routes: entityRoutes(store, examples, name) })
        : undefined;
      // Prism takes a port number: one that was free a moment ago, tried again if taken meanwhile.
      const prism = await onFreePort((port) =>
        startRestMock({
          host: "127.0.0.1",
          port,
          dynamic: opts.dynamic,
          // Any answer (401 without a token) says Prism is listening.
          probePath: `/v1/${name}`,
          file: openapi,
          ...(upstream ? { upstream: upstream.url } : {}),
        }),
      ).catch(async (error: unknown) => {
        await upstream?.stop();
        throw error;
      });
      const front = await startRestFront({
        host: opts.host,
        port: 0,
        examples,
        target: new URL(`http://127.0.0.1:${prism.port}`),
        faults: opts.faults,
        proxied: upstream !== undefined,
      }).catch(async (error: unknown) => {
        await prism.stop();
        await upstream?.stop();
        throw error;
      });
      started.push({
        name,
        port: front.port,
        prism,
        stop: async () => {
          await front.stop();
          await prism.stop();
          await upstream?.stop();
        },
      });
    }
  } catch (error) {
    for (const mock of started) await mock.stop().catch(() => {});
    throw error;
  }
  return started;
}
