/**
 * A gRPC backend known only by its contract: the service of `charter.<name>.v1` (e.g. a service made by
 * `npm run new:service`), called through its generated ts-proto definition (generated/proto/charter/<name>/v1),
 * loaded at start by its name from generated/proto/service-modules.ts. A method is called with the proto3 JSON of its request (`<Method>Request.fromJSON`)
 * and answers the proto3 JSON of its response; its failures are the one error model, with the field violations
 * named as the REST body names them (`book.name` → `name`). Round robin over what the target resolves to
 * (`etcd:///<name>` with discovery).
 */
import { Client, type Metadata as GrpcMetadata, Metadata, type ServiceError } from "@grpc/grpc-js";
import { serviceModules } from "../../../generated/proto/service-modules.js";
import { AppError, isAppError } from "../../../platform/errors.js";
import { grpcClientCredentials } from "../../../platform/grpc-credentials.js";
import { capitalized, singularOf } from "../../../platform/service-names.js";
import type { MutualTls } from "../../../platform/tls-config.js";
import type { ContractBackend } from "../app/backends.js";
import { fromServiceError, grpcChannelOptions } from "./grpc-client.js";

/** A message type of ts-proto's output: its proto3 JSON mapping. */
interface MessageType {
  fromJSON(object: unknown): unknown;
  toJSON(message: unknown): unknown;
}

interface MethodDefinition {
  readonly path: string;
  requestSerialize(value: unknown): Buffer;
  responseDeserialize(value: Buffer): unknown;
}

export interface ContractBackendOptions {
  /** The service's name: its proto package is charter.<name>.v1. */
  readonly name: string;
  /** Where to dial: `etcd:///<name>` with discovery, or host:port. */
  readonly target: string;
  readonly deadlineMs: number;
  readonly tls?: MutualTls | undefined;
}

export async function createContractBackend(opts: ContractBackendOptions): Promise<ContractBackend> {
  if (!/^[a-z][a-z0-9]*$/.test(opts.name)) throw new Error(`"${opts.name}" is not a service name`);
  const load = Object.hasOwn(serviceModules, opts.name) ? serviceModules[opts.name] : undefined;
  if (!load)
    throw new Error(`generated/proto/charter/${opts.name}/v1/${opts.name}.ts does not exist: run npm run generate`);
  const module = await load();
  const serviceName = `${capitalized(opts.name)}Service`;
  const definition = module[`${serviceName}Service`] as Record<string, MethodDefinition> | undefined;
  if (!definition) throw new Error(`generated/proto/charter/${opts.name}/v1 has no ${serviceName}`);
  const service = `charter.${opts.name}.v1.${serviceName}`;
  const channelOptions = grpcChannelOptions({ loadBalancingConfig: [{ round_robin: {} }] });
  const client = new Client(opts.target, grpcClientCredentials(opts.tls), channelOptions);
  const methods = new Map(Object.values(definition).map((m) => [m.path.slice(m.path.lastIndexOf("/") + 1), m]));
  /** What the entity's fields are prefixed with in BadRequest paths (`book.name`): REST names them bare (`name`). */
  const entityPrefix = `${singularOf(opts.name)}.`;

  const toAppError = (error: ServiceError): AppError => {
    const appError = fromServiceError(error, opts.name);
    const violations = appError.details.fieldViolations;
    if (!violations) return appError;
    const fields = violations.map((v) => ({
      ...v,
      field: v.field.startsWith(entityPrefix) ? v.field.slice(entityPrefix.length) : v.field,
    }));
    return new AppError(appError.code, appError.message, { ...appError.details, fieldViolations: fields });
  };

  return {
    service,
    methods: [...methods.keys()],
    call(method, request, context) {
      const definitionOf = methods.get(method);
      const requestType = module[`${method}Request`] as MessageType | undefined;
      const responseType = module[`${method}Response`] as MessageType | undefined;
      if (!definitionOf || !requestType || !responseType) {
        return Promise.reject(new Error(`${service} has no method ${method}`));
      }
      const metadata: GrpcMetadata = new Metadata();
      if (context.requestId !== undefined) metadata.set("x-request-id", context.requestId);
      if (context.authorization !== undefined) metadata.set("authorization", context.authorization);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          definitionOf.path,
          (value: unknown) => definitionOf.requestSerialize(value),
          (value: Buffer) => definitionOf.responseDeserialize(value),
          requestType.fromJSON(request),
          metadata,
          { deadline: Date.now() + opts.deadlineMs },
          (error, response) => {
            if (error) reject(isAppError(error) ? error : toAppError(error));
            else resolve(responseType.toJSON(response));
          },
        );
      });
    },
    close: () => client.close(),
  };
}
