/**
 * `npm run mock -- --record <gateway-url> --record-grpc <host:port>`: the gRPC mock's port as a proxy to a real
 * service, for every RPC of the mocked services' generated definitions. Each call goes on with the caller's metadata
 * (its token), and its answer comes back as the service gave it, its status details included; each is written into
 * the recording (recording.ts) as `<service>.<RPC>.json`: the request message and the response message or the error's
 * google.rpc.Status, in protobuf JSON, addresses masked by the same masker as the REST and GraphQL calls, metadata
 * never written. A call the service did not answer (no status of its own) is the mock's UNAVAILABLE, not recorded.
 */
import {
  credentials,
  makeGenericClientConstructor,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { AppError, codeOfGrpcStatus } from "../platform/errors.js";
import { errorDomainOf, toServiceError } from "../platform/grpc-handlers.js";
import { startGrpcServer } from "../platform/grpc-server.js";
import type { Logger } from "../platform/logging.js";
import { type GrpcMock, type MockedService, messageCodecOf } from "./grpc-mock.js";
import { statusJsonOf } from "./grpc-status.js";
import { createProtoChecker } from "./proto-checker.js";
import type { RecordedRpcAnswer, Recording, RpcRecordingFile } from "./recording.js";

export interface GrpcRecordProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** The services to pass on, all served by the one target. */
  readonly services: readonly MockedService[];
  /** The real service's address, `host:port` (plaintext). */
  readonly target: string;
  readonly recording: Recording;
}

type UnaryMethod = (
  request: unknown,
  metadata: ServerUnaryCall<unknown, unknown>["metadata"],
  options: { deadline?: ReturnType<ServerUnaryCall<unknown, unknown>["getDeadline"]> },
  callback: (error: ServiceError | null, response?: unknown) => void,
) => void;

export async function startGrpcRecordProxy(opts: GrpcRecordProxyOptions): Promise<GrpcMock> {
  const files = new Map<string, RpcRecordingFile>();
  const clients: { close(): void }[] = [];
  const record = (service: string, rpc: string, request: unknown, answer: RecordedRpcAnswer) => {
    const { masker } = opts.recording;
    // Masked in the order they were sent and answered, as over REST: the request first.
    const interaction = { seq: opts.recording.nextSeq(), request: masker.mask(request), answer: masker.mask(answer) };
    const key = `${service}/${rpc}`;
    const file = files.get(key) ?? { service, rpc, interactions: [] };
    file.interactions.push(interaction as RpcRecordingFile["interactions"][number]);
    files.set(key, file);
    opts.recording.write(file);
  };

  const bindings = opts.services.map((service) => {
    const Client = makeGenericClientConstructor(service.definition, service.name);
    const client = new Client(opts.target, credentials.createInsecure()) as unknown as Record<string, UnaryMethod>;
    clients.push(client as unknown as { close(): void });
    const domain = errorDomainOf(service.name);
    const implementation: UntypedServiceImplementation = {};
    // Every method of the generated definition; its message types (for protobuf JSON) from the proto.
    const methods = new Map(createProtoChecker(service.proto, service.name).methods.map((m) => [m.handlerName, m]));
    for (const [handlerName, definition] of Object.entries(service.definition)) {
      const method = methods.get(handlerName);
      if (!method || definition.requestStream || definition.responseStream) {
        throw new Error(`${service.name}.${handlerName}: only the proto's unary RPCs can be recorded`);
      }
      const request = messageCodecOf(service, method.requestType);
      const response = messageCodecOf(service, method.responseType);
      const forward = client[method.handlerName];
      if (!forward) throw new Error(`${service.name} has no generated client method ${method.handlerName}`);
      implementation[method.handlerName] = (call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
        const metadata = call.metadata.clone();
        metadata.remove("user-agent"); // the proxy's client sends its own
        forward.call(client, call.request, metadata, { deadline: call.getDeadline() }, (error, answer) => {
          if (!error) {
            done(null, answer);
            record(service.name, method.name, request.toJSON(call.request), { message: response.toJSON(answer) });
            return;
          }
          const status = statusJsonOf(error.metadata);
          if (!status) {
            const detail = `the service at ${opts.target} did not answer: ${error.details}`;
            opts.logger.warn({ rpc: method.name, target: opts.target, code: error.code }, "not recorded");
            return done(toServiceError(new AppError(codeOfGrpcStatus(error.code), detail), { domain }));
          }
          done(error);
          record(service.name, method.name, request.toJSON(call.request), { status });
        });
      };
    }
    return { definition: service.definition, implementation };
  });

  const server = await startGrpcServer({
    host: opts.host,
    port: opts.port,
    services: bindings,
    reflect: opts.services.map((service) => service.proto),
    logger: opts.logger,
  });
  server.setStatus("", "SERVING");
  for (const service of opts.services) server.setStatus(service.name, "SERVING");
  return {
    port: server.port,
    async stop() {
      await server.stop(2000);
      for (const client of clients) client.close();
    },
  };
}
