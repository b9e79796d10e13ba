/**
 * A gRPC client built only from the proto contracts (and the standard health and
 * reflection protos): no project code, as any other team's client would be.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);
const protoRoot = fileURLToPath(new URL("../../contracts/proto/", import.meta.url));
const healthProto = require.resolve("grpc-health-check/proto/health/v1/health.proto");
const reflectionProto = fileURLToPath(
  new URL("../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto", import.meta.url),
);
const options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

// biome-ignore lint/suspicious/noExplicitAny: dynamically loaded from the contract
type Dynamic = any;
const loaded: Dynamic = grpc.loadPackageDefinition(
  loadSync("charter/users/v1/users.proto", { ...options, includeDirs: [protoRoot] }),
);
const health: Dynamic = grpc.loadPackageDefinition(loadSync(healthProto, options));
const reflection: Dynamic = grpc.loadPackageDefinition(loadSync(reflectionProto, options));

const rpcTypes = new protobuf.Root().loadSync(
  [`${protoRoot}google/rpc/status.proto`, `${protoRoot}google/rpc/error_details.proto`],
  { keepCase: true },
);
const Status = rpcTypes.lookupType("google.rpc.Status");

export interface ContractUser {
  id: string;
  name: string;
  email: string;
  etag: string;
  createTime: { seconds: string; nanos: number } | null;
  updateTime: { seconds: string; nanos: number } | null;
}

export interface UsersClient {
  call<T = Dynamic>(method: string, request: object, deadlineMs?: number): Promise<T>;
  health(service?: string): Promise<string>;
  listServices(): Promise<string[]>;
  close(): void;
}

/** `authorization`, when given, goes with every call as the `authorization` metadata (e.g. `Bearer <token>`). */
export function usersClient(address: string, authorization?: string): UsersClient {
  const client = new loaded.charter.users.v1.UsersService(address, grpc.credentials.createInsecure());
  const healthClient = new health.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  const reflectionClient = new reflection.grpc.reflection.v1.ServerReflection(
    address,
    grpc.credentials.createInsecure(),
  );
  const deadline = (ms: number) => ({ deadline: Date.now() + ms });
  const method = (name: string) => name[0]?.toLowerCase() + name.slice(1);
  const metadata = () => {
    const values = new grpc.Metadata();
    if (authorization !== undefined) values.set("authorization", authorization);
    return values;
  };
  return {
    call: (name, request, deadlineMs = 5000) =>
      new Promise((resolve, reject) =>
        client[method(name)](
          request,
          metadata(),
          deadline(deadlineMs),
          (error: grpc.ServiceError | null, response: Dynamic) => (error ? reject(error) : resolve(response)),
        ),
      ),
    health: (service = "") =>
      new Promise((resolve, reject) =>
        healthClient.check({ service }, deadline(5000), (error: grpc.ServiceError | null, response: Dynamic) =>
          error ? reject(error) : resolve(response.status),
        ),
      ),
    listServices: () =>
      new Promise((resolve, reject) => {
        const stream = reflectionClient.serverReflectionInfo(deadline(5000));
        stream.on("data", (response: Dynamic) => {
          resolve(response.listServicesResponse.service.map((s: { name: string }) => s.name));
          stream.end();
        });
        stream.on("error", reject);
        stream.write({ listServices: "" });
      }),
    close() {
      client.close();
      healthClient.close();
      reflectionClient.close();
    },
  };
}

/** A client of any service of contracts/proto, loaded from its proto file alone (e.g. charter/audit/v1/audit.proto). */
export interface ContractServiceClient {
  call<T = Dynamic>(method: string, request: object, metadata?: grpc.Metadata, deadlineMs?: number): Promise<T>;
  close(): void;
}

export function contractServiceClient(protoFile: string, service: string, address: string): ContractServiceClient {
  const pkg: Dynamic = grpc.loadPackageDefinition(loadSync(protoFile, { ...options, includeDirs: [protoRoot] }));
  const Service = service.split(".").reduce((node: Dynamic, part) => node?.[part], pkg);
  if (typeof Service !== "function") throw new Error(`${protoFile} has no service ${service}`);
  const client = new Service(address, grpc.credentials.createInsecure());
  return {
    call: (name, request, metadata = new grpc.Metadata(), deadlineMs = 5000) =>
      new Promise((resolve, reject) =>
        client[name[0]?.toLowerCase() + name.slice(1)](
          request,
          metadata,
          { deadline: Date.now() + deadlineMs },
          (error: grpc.ServiceError | null, response: Dynamic) => (error ? reject(error) : resolve(response)),
        ),
      ),
    close: () => client.close(),
  };
}

export interface DecodedStatus {
  code: number;
  message: string;
  fieldViolations: { field: string; description: string }[];
  reason?: string;
}

/** Decodes the google.rpc.Status in grpc-status-details-bin. */
export function statusDetails(error: grpc.ServiceError): DecodedStatus {
  const bin = error.metadata?.get("grpc-status-details-bin")[0];
  if (!(bin instanceof Buffer)) throw new Error(`no grpc-status-details-bin on ${error.code} ${error.details}`);
  const status = Status.toObject(Status.decode(bin)) as {
    code: number;
    message: string;
    details?: { type_url: string; value: Uint8Array }[];
  };
  const out: DecodedStatus = { code: status.code, message: status.message, fieldViolations: [] };
  for (const any of status.details ?? []) {
    const type = rpcTypes.lookupType(any.type_url.split("/").pop() ?? "");
    const detail = type.toObject(type.decode(any.value)) as Dynamic;
    if (type.name === "BadRequest") out.fieldViolations.push(...detail.field_violations);
    if (type.name === "ErrorInfo") out.reason = detail.reason;
  }
  return out;
}

export { grpc };
