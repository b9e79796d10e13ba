/**
 * The gRPC anchor of `npm run bench`: a bare grpc-js server answering UsersService/GetUser from a map (the generated
 * service definition, so the same protobuf encoding as the users service), nothing else — no validation, cache,
 * store, telemetry or logs. Its one user is the JSON in BENCH_USER; any other id is NOT_FOUND and every other
 * method UNIMPLEMENTED. Plaintext on 127.0.0.1, port 0; logs one JSON line "bare grpc ready" with its `grpcPort`.
 * Started by scripts/bench.ts in its own process.
 */
import {
  type handleUnaryCall,
  Server,
  ServerCredentials,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  type GetUserRequest,
  type GetUserResponse,
  type User,
  UsersServiceService,
} from "../generated/proto/charter/users/v1/users.js";

const json = process.env.BENCH_USER;
if (!json) {
  console.error("BENCH_USER must hold the user's JSON");
  process.exit(2);
}
const user = JSON.parse(json) as User;
const users = new Map<string, GetUserResponse>([[user.id, { user }]]);

const getUser: handleUnaryCall<GetUserRequest, GetUserResponse> = (call, callback) => {
  const found = users.get(call.request.id);
  if (found) callback(null, found);
  else callback({ code: status.NOT_FOUND, details: `user ${call.request.id} not found` });
};
const unimplemented: handleUnaryCall<unknown, never> = (_call, callback) =>
  callback({ code: status.UNIMPLEMENTED, details: "the bare server answers GetUser only" });
const implementation: UntypedServiceImplementation = Object.fromEntries(
  Object.keys(UsersServiceService).map((method) => [method, method === "getUser" ? getUser : unimplemented]),
);

const server = new Server();
server.addService(UsersServiceService, implementation);
const grpcPort = await new Promise<number>((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
    error ? reject(error) : resolve(port),
  ),
);
console.log(JSON.stringify({ level: "info", msg: "bare grpc ready", grpcPort }));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => server.tryShutdown(() => process.exit(0)));
}
