/**
 * The services check the caller themselves: a users process (hosting the audit service beside it, as `npm start`
 * does) reached directly over gRPC, with no gateway in front. Every charter RPC wants the caller's own token with
 * the scopes its contract names (generated/proto/method-rules.ts); nothing a peer asserts — a subject header, a
 * token signed with another key, a client certificate — stands in for one. Health and reflection stay open. Each
 * change's event names the token's subject as its actor, and ListUserHistory serves it.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { decodeProtectedHeader, SignJWT } from "jose";
import { UsersServiceClient } from "../generated/proto/charter/users/v1/users.js";
import { methodScopes } from "../generated/proto/method-rules.js";
import { type DevClient, type DevIssuer, devClientsFor, startDevIssuer } from "../platform/auth/dev-issuer.js";
import { API_SCOPES } from "../platform/auth/scopes.js";
import { ensureDevCerts } from "../scripts/infra/index.js";
import { type ServiceProcess, startService } from "../scripts/lib/processes.js";
import {
  type ContractServiceClient,
  contractServiceClient,
  grpc,
  statusDetails,
  type UsersClient,
  usersClient,
} from "./support/contract-client.js";

const users = "services/users/main.ts";
const env = { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1" };
/** A second client of the issuer, allowed to write only. */
const writer: DevClient = {
  clientId: "charter-writer",
  clientSecret: "charter-writer-secret",
  scopes: ["users:write"],
};

let issuer: DevIssuer;
let issuerEnv: Record<string, string>;
const tokenOf = (client: DevClient, scopes?: readonly string[]) => issuer.token(client, scopes);
const dev = () => issuer.clients[0] as DevClient;
const bearer = (token: string) => `Bearer ${token}`;
const withAuthorization = (value: string, extra: Record<string, string> = {}) =>
  grpc.Metadata.fromHttp2Headers({ authorization: value, ...extra });

before(async () => {
  issuer = await startDevIssuer({ port: 0, scopes: API_SCOPES, clients: [...devClientsFor(API_SCOPES), writer] });
  issuerEnv = {
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_CACHE_MS: "1000",
    AUTH_JWKS_COOLDOWN_MS: "0",
  };
});
after(async () => {
  await issuer?.close();
});

/** Expects a gRPC error with `code`; returns its google.rpc details. */
async function refused(promise: Promise<unknown>, code: grpc.status) {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    return statusDetails(e);
  }
  assert.fail(`expected ${grpc.status[code]}, but the call succeeded`);
}

/** The proto file of a charter service's full name: charter.users.v1.UsersService → charter/users/v1/users.proto. */
const protoOf = (service: string): string => {
  const [, name, version] = service.split(".");
  return `charter/${name}/${version}/${name}.proto`;
};

describe("users and audit over gRPC, reached directly (no gateway)", () => {
  let service: ServiceProcess;
  let address = "";
  const clients = new Map<string, ContractServiceClient>();
  const client = (method: string): [ContractServiceClient, string] => {
    const [service, rpc] = method.split("/") as [string, string];
    let found = clients.get(service);
    if (!found) {
      found = contractServiceClient(protoOf(service), service, address);
      clients.set(service, found);
    }
    return [found, rpc];
  };
  let devUsers: UsersClient;
  let writerUsers: UsersClient;

  before(async () => {
    service = await startService(users, { ...env, ...issuerEnv }, "users service ready");
    address = `127.0.0.1:${service.ready.grpcPort}`;
    devUsers = usersClient(address, bearer(await tokenOf(dev())));
    writerUsers = usersClient(address, bearer(await tokenOf(writer)));
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    devUsers?.close();
    writerUsers?.close();
    await service?.stop();
  });

  test("every charter RPC without a token, or with a bad one, is UNAUTHENTICATED in the error model", async () => {
    const methods = Object.keys(methodScopes);
    assert.ok(
      methods.some((m) => m.startsWith("charter.audit.")) && methods.some((m) => m.startsWith("charter.users.")),
    );
    for (const method of methods) {
      const [c, rpc] = client(method);
      for (const metadata of [
        new grpc.Metadata(),
        withAuthorization("Bearer not-a-token"),
        withAuthorization("Basic Y2hhcnRlci1kZXY6Y2hhcnRlci1kZXYtc2VjcmV0"),
        grpc.Metadata.fromHttp2Headers({ "x-subject": "charter-dev", "x-user": "charter-dev" }),
      ]) {
        const status = await refused(c.call(rpc, {}, metadata), grpc.status.UNAUTHENTICATED);
        assert.equal(status.code, grpc.status.UNAUTHENTICATED, method);
        assert.equal(status.message, "a valid bearer token is required", method);
        assert.equal(status.reason, "INVALID_TOKEN", method);
      }
    }
  });

  test("a token without the method's scope is PERMISSION_DENIED naming the scope", async () => {
    for (const [method, needed] of Object.entries(methodScopes)) {
      const others = API_SCOPES.filter((scope) => !needed.includes(scope));
      const token = await tokenOf(dev(), others);
      const [c, rpc] = client(method);
      const status = await refused(c.call(rpc, {}, withAuthorization(bearer(token))), grpc.status.PERMISSION_DENIED);
      assert.equal(status.reason, "INSUFFICIENT_SCOPE", method);
      assert.equal(status.message, `this operation needs the scope ${needed[0]}`, method);
    }
    // With the scope, the call gets past the check (and to the use case: the id names no user).
    const [c, rpc] = client("charter.users.v1.UsersService/GetUser");
    const reader = await tokenOf(issuer.clients[1] as DevClient);
    await refused(c.call(rpc, { id: "1" }, withAuthorization(bearer(reader))), grpc.status.NOT_FOUND);
  });

  test("a token signed with another key that claims another subject is refused, even under the issuer's key id", async () => {
    const real = await tokenOf(dev());
    const { kid } = decodeProtectedHeader(real);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forged = await new SignJWT({ scope: API_SCOPES.join(" "), client_id: "charter-dev" })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", ...(kid ? { kid } : {}) })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject("someone-else")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const [c, rpc] = client("charter.users.v1.UsersService/CreateUser");
    const request = { user: { name: "Forged", email: `forged-${randomUUID()}@example.com` } };
    const status = await refused(c.call(rpc, request, withAuthorization(bearer(forged))), grpc.status.UNAUTHENTICATED);
    assert.equal(status.reason, "INVALID_TOKEN");
    // Nothing was created under the forged token.
    await refused(devUsers.call("LookupUser", { email: request.user.email }), grpc.status.NOT_FOUND);
  });

  test("health and reflection stay open without a token", async () => {
    const open = usersClient(address);
    try {
      assert.equal(await open.health(), "SERVING");
      assert.equal(await open.health("charter.users.v1.UsersService"), "SERVING");
      const services = await open.listServices();
      assert.ok(
        services.includes("charter.users.v1.UsersService") && services.includes("charter.audit.v1.AuditService"),
      );
    } finally {
      open.close();
    }
  });

  test("the history names the subject of each change's token; a subject header asserted beside it is ignored", async () => {
    const created = (
      await devUsers.call("CreateUser", { user: { name: "Ada", email: `ada-${randomUUID()}@example.com` } })
    ).user;
    // charter-writer claims to be someone else in headers: its token's subject is what is recorded.
    const writerToken = await tokenOf(writer);
    const renamed = (
      await writerUsers.callWith(
        "UpdateUser",
        { user: { id: created.id, name: "Ada King" }, updateMask: { paths: ["name"] } },
        withAuthorization(bearer(writerToken), { "x-subject": "charter-dev", "x-user": "admin" }),
      )
    ).user;
    await devUsers.call("DeleteUser", { id: created.id, etag: renamed.etag });
    const [audit, rpc] = client("charter.audit.v1.AuditService/ListUserHistory");
    const historian = withAuthorization(bearer(await tokenOf(dev(), ["users:history"])));
    let events: { type: string; actor: string }[] = [];
    for (let i = 0; i < 200 && events.length < 3; i++) {
      events = (await audit.call(rpc, { userId: created.id }, historian)).events;
      if (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.deepEqual(
      events.map((e) => [e.type, e.actor]),
      [
        ["USER_EVENT_TYPE_CREATED", "charter-dev"],
        ["USER_EVENT_TYPE_UPDATED", "charter-writer"],
        ["USER_EVENT_TYPE_DELETED", "charter-dev"],
      ],
    );
    // The call's log line names the caller; no token is ever logged.
    const lines = service.output.join("\n");
    assert.match(
      lines,
      /"rpc":"UpdateUser".*"subject":"charter-writer"|"subject":"charter-writer".*"rpc":"UpdateUser"/,
    );
    assert.ok(!lines.includes(writerToken), "the token is not in the log");
    assert.ok(!lines.includes(writerToken.split(".")[2] as string), "nor its signature");
  });
});

describe("with mutual TLS between the services", () => {
  test("a client certificate alone is UNAUTHENTICATED; with a token the call goes through", async () => {
    const certs = await ensureDevCerts();
    const service = await startService(
      users,
      {
        ...env,
        ...issuerEnv,
        GRPC_TLS_CA_FILE: certs.ca,
        GRPC_TLS_CERT_FILE: certs.server.users.cert,
        GRPC_TLS_KEY_FILE: certs.server.users.key,
      },
      "users service ready",
    );
    const pem = (file: string) => readFileSync(file);
    const client = new UsersServiceClient(
      `127.0.0.1:${service.ready.grpcPort}`,
      grpc.credentials.createSsl(pem(certs.ca), pem(certs.client.gateway.key), pem(certs.client.gateway.cert)),
    );
    const getUser = (metadata: grpc.Metadata) =>
      new Promise<unknown>((resolve, reject) =>
        client.getUser({ id: "1" }, metadata, { deadline: Date.now() + 5_000 }, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
    try {
      const status = await refused(getUser(new grpc.Metadata()), grpc.status.UNAUTHENTICATED);
      assert.equal(status.reason, "INVALID_TOKEN");
      await refused(getUser(withAuthorization(bearer(await tokenOf(dev())))), grpc.status.NOT_FOUND);
    } finally {
      client.close();
      await service.stop();
    }
  });
});
