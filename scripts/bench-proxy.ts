/**
 * The proxy anchor of `npm run bench` (issue 17): the simplest correct hand-written Fastify route in front of the
 * users service — GET /v1/users/:id calling UsersService/GetUser with grpc-js through the generated client, and the
 * JSON user back with its ETag. No validation, no telemetry, no logs, no retries, no breaker: what a team would
 * write by hand. A deadline on every call, NOT_FOUND as 404, INVALID_ARGUMENT as 400, an unreachable service as 503,
 * anything else as 502.
 *
 * This file is the anchor the gateway is measured against. It was committed before any optimisation of the gateway
 * and stays unchanged after it, so that "≥ 1.0× the hand-written proxy" keeps meaning the same thing. The one
 * change foreseen by the issue: once the gateway verifies bearer tokens, this route verifies the same token with
 * the same library, so the comparison stays like for like.
 *
 * That change is made: since issue 16 the route verifies the caller's bearer token with jose, as the gateway does
 * (the issuer's JWKS, found through its discovery document and cached by jose; the issuer, the audience, an
 * asymmetric algorithm), answers 401 without a valid one, and passes it on to the users service, which checks it
 * too. Nothing else changed.
 *
 * USERS_ADDR is the users service's host:port (plaintext gRPC); AUTH_ISSUER and AUTH_AUDIENCE name the issuer and
 * audience of the tokens. Listens on 127.0.0.1, port 0, and logs one JSON line "proxy ready" with its `port`.
 * Started by scripts/bench.ts in its own process.
 */
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import Fastify from "fastify";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { UsersServiceClient } from "../generated/proto/charter/users/v1/users.js";

const address = process.env.USERS_ADDR;
const issuer = process.env.AUTH_ISSUER;
const audience = process.env.AUTH_AUDIENCE;
if (!address || !issuer || !audience) {
  console.error("USERS_ADDR must name the users service's host:port, AUTH_ISSUER and AUTH_AUDIENCE the tokens'");
  process.exit(2);
}
const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
const ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"];
const DEADLINE_MS = 5_000;
const users = new UsersServiceClient(address, credentials.createInsecure());

const statusOf = (error: ServiceError): number =>
  error.code === status.NOT_FOUND
    ? 404
    : error.code === status.INVALID_ARGUMENT
      ? 400
      : error.code === status.UNAVAILABLE
        ? 503
        : 502;

const app = Fastify({ logger: false });
app.get<{ Params: { id: string } }>("/v1/users/:id", async (request, reply) => {
  const authorization = request.headers.authorization ?? "";
  try {
    await jwtVerify(authorization.replace(/^Bearer /i, ""), keys, { issuer, audience, algorithms: ALGORITHMS });
  } catch {
    return reply.code(401).send({ code: "UNAUTHENTICATED", message: "a valid bearer token is required" });
  }
  const metadata = new Metadata();
  metadata.set("authorization", authorization);
  users.getUser({ id: request.params.id }, metadata, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
    if (error) {
      void reply.code(statusOf(error)).send({ code: status[error.code], message: error.details });
      return;
    }
    const user = response.user;
    if (!user) {
      void reply.code(502).send({ code: "INTERNAL", message: "no user in the answer" });
      return;
    }
    void reply.header("etag", `"${user.etag}"`).send({
      id: user.id,
      name: user.name,
      email: user.email,
      etag: user.etag,
      createTime: user.createTime,
      updateTime: user.updateTime,
    });
  });
  return reply;
});
await app.listen({ host: "127.0.0.1", port: 0 });
const listening = app.server.address();
const port = typeof listening === "object" && listening ? listening.port : 0;
console.log(JSON.stringify({ level: "info", msg: "proxy ready", port }));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(
    signal,
    () =>
      void app.close().then(() => {
        users.close();
        process.exit(0);
      }),
  );
}
