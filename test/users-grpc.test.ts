/**
 * The users service as a real process on port 0, driven by a client built only from
 * contracts/proto: CRUD, pagination, etags, every documented error with its details,
 * health and reflection, concurrency, and graceful shutdown.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { metricValue, type ServiceProcess, startService } from "../scripts/lib/processes.js";
import { startTestIssuer, type TestIssuer } from "./support/auth.js";
import { type ContractUser, grpc, statusDetails, type UsersClient, usersClient } from "./support/contract-client.js";

const users = "services/users/main.ts";
const env = { USERS_GRPC_PORT: "0", USERS_METRICS_PORT: "0", USERS_HOST: "127.0.0.1" };
const email = (tag = "") => `${tag}${randomUUID().slice(0, 8)}@example.com`;
/** The issuer the users processes trust; every call brings one of its tokens (the service checks it). */
let issuer: TestIssuer;
before(async () => {
  issuer = await startTestIssuer();
});
after(async () => {
  await issuer.close();
});

/** Calls and expects a gRPC error; returns it with its decoded google.rpc details. */
async function rejects(promise: Promise<unknown>, code: grpc.status) {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    return statusDetails(e);
  }
  assert.fail(`expected ${grpc.status[code]}, but the call succeeded`);
}

describe("users gRPC service (memory backends, real process)", () => {
  let service: ServiceProcess;
  let client: UsersClient;
  const create = async (name: string, mail = email()): Promise<ContractUser> =>
    (await client.call("CreateUser", { user: { name, email: mail } })).user;

  before(async () => {
    service = await startService(users, { ...env, ...issuer.env }, "users service ready");
    client = usersClient(`127.0.0.1:${service.ready.grpcPort}`, await issuer.bearer());
  });
  after(async () => {
    client.close();
    await service.stop();
  });

  test("create, get, update with etag, stale etag, update without etag, delete", async () => {
    const created = await create("  Ada Lovelace  ", email("Ada."));
    assert.match(created.id, /^[0-9]{1,19}$/);
    assert.equal(created.name, "  Ada Lovelace  ", "the name is kept as sent: what is accepted is what is served");
    assert.equal(created.etag, "1");
    assert.ok(created.createTime && created.updateTime);

    const got = (await client.call("GetUser", { id: created.id })).user;
    assert.deepEqual(got, created);

    const renamed = (
      await client.call("UpdateUser", {
        user: { id: created.id, etag: created.etag, name: "Ada King" },
        updateMask: { paths: ["name"] },
      })
    ).user;
    assert.equal(renamed.name, "Ada King");
    assert.equal(renamed.email, created.email, "fields outside the mask are kept");
    assert.notEqual(renamed.etag, created.etag);

    const stale = await rejects(
      client.call("UpdateUser", {
        user: { id: created.id, etag: created.etag, name: "Lost" },
        updateMask: { paths: ["name"] },
      }),
      grpc.status.ABORTED,
    );
    assert.equal(stale.reason, "ETAG_MISMATCH");

    const latest = (await client.call("UpdateUser", { user: { id: created.id, name: "Countess" } })).user;
    assert.equal(latest.name, "Countess", "an update without etag applies to the latest version");

    await rejects(client.call("DeleteUser", { id: created.id, etag: renamed.etag }), grpc.status.ABORTED);
    await client.call("DeleteUser", { id: created.id, etag: latest.etag });
    await rejects(client.call("GetUser", { id: created.id }), grpc.status.NOT_FOUND);
    await rejects(client.call("DeleteUser", { id: created.id }), grpc.status.NOT_FOUND);
    await rejects(client.call("UpdateUser", { user: { id: created.id, name: "x" } }), grpc.status.NOT_FOUND);
  });

  test("list walks every page in creation order with an opaque token", async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await create(`Pager ${i}`)).id);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await client.call("ListUsers", { pageSize: 3, pageToken });
      assert.ok(page.users.length <= 3);
      seen.push(...page.users.map((u: ContractUser) => u.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 1000);
    assert.equal(new Set(seen).size, seen.length, "no user twice");
    assert.deepEqual(
      seen.filter((id) => made.includes(id)),
      made,
      "all created users, in order",
    );
    const sorted = [...seen].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    assert.deepEqual(seen, sorted);
  });

  test("BatchGetUsers returns existing users in the order asked", async () => {
    const a = await create("Batch A");
    const b = await create("Batch B");
    const { users: found } = await client.call("BatchGetUsers", { ids: [b.id, "1", a.id] });
    assert.deepEqual(
      found.map((u: ContractUser) => u.id),
      [b.id, a.id],
    );
    const tooMany = await rejects(
      client.call("BatchGetUsers", { ids: Array.from({ length: 101 }, (_, i) => String(i + 1)) }),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(
      tooMany.fieldViolations.map((v) => v.field),
      ["ids"],
    );
  });

  test("bad input is INVALID_ARGUMENT with every bad field in google.rpc.BadRequest", async () => {
    const both = await rejects(
      client.call("CreateUser", { user: { name: "   ", email: "not-an-email" } }),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(both.fieldViolations.map((v) => v.field).sort(), ["user.email", "user.name"]);
    assert.ok(both.fieldViolations.every((v) => v.description.length > 0));
    assert.equal(both.fieldViolations.find((v) => v.field === "user.name")?.description, "must not be blank");

    // Addresses REST always refused: gRPC refuses them too, so no door stores what a read cannot serve.
    for (const address of ["a@b_c.com", "a..b@example.com", "ü@exämple.com"]) {
      const refused = await rejects(
        client.call("CreateUser", { user: { name: "Ada", email: address } }),
        grpc.status.INVALID_ARGUMENT,
      );
      assert.deepEqual(
        refused.fieldViolations.map((v) => v.field),
        ["user.email"],
        address,
      );
    }

    const long = await rejects(
      client.call("CreateUser", { user: { name: "x".repeat(101), email: email() } }),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(
      long.fieldViolations.map((v) => v.field),
      ["user.name"],
    );
    await rejects(client.call("CreateUser", {}), grpc.status.INVALID_ARGUMENT);
    const badId = await rejects(client.call("GetUser", { id: "12ab" }), grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      badId.fieldViolations.map((v) => v.field),
      ["id"],
    );
    await rejects(client.call("GetUser", { id: "99999999999999999999" }), grpc.status.INVALID_ARGUMENT);
    const page = await rejects(
      client.call("ListUsers", { pageSize: 5000, pageToken: "garbage" }),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(page.fieldViolations.map((v) => v.field).sort(), ["page_size", "page_token"]);
    // A token made like ours but past the largest 64-bit id would wrap around to a negative id in the store.
    const pastLargestId = Buffer.from("v1:9999999999999999999").toString("base64url");
    const forged = await rejects(client.call("ListUsers", { pageToken: pastLargestId }), grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(
      forged.fieldViolations.map((v) => v.field),
      ["page_token"],
    );
    const user = await create("Masked");
    const mask = await rejects(
      client.call("UpdateUser", { user: { id: user.id, name: "n" }, updateMask: { paths: ["id"] } }),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(
      mask.fieldViolations.map((v) => v.field),
      ["update_mask"],
    );
    // A message over the server's 1 MiB limit is refused by the transport, before any handler runs.
    await assert.rejects(
      client.call("CreateUser", { user: { name: "x".repeat(2 * 1024 * 1024), email: email() } }),
      (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED,
    );
  });

  test("unicode names are kept exactly; emails are unique case-insensitively", async () => {
    const name = "Zoë 😀 中文 Ünïcödé";
    const mail = email("Case.");
    const user = await create(name, mail);
    assert.equal((await client.call("GetUser", { id: user.id })).user.name, name);
    const taken = await rejects(create("Twin", mail.toUpperCase()), grpc.status.ALREADY_EXISTS);
    assert.deepEqual(
      taken.fieldViolations.map((v) => v.field),
      ["user.email"],
    );
    const other = await create("Other");
    await rejects(
      client.call("UpdateUser", { user: { id: other.id, email: mail.toLowerCase() } }),
      grpc.status.ALREADY_EXISTS,
    );
    const own = (await client.call("UpdateUser", { user: { id: user.id, email: mail.toUpperCase() } })).user;
    assert.equal(own.email, mail.toUpperCase(), "changing the case of one's own email is allowed");
  });

  test("LookupUser finds the live user by email case-insensitively; NOT_FOUND and INVALID_ARGUMENT otherwise", async () => {
    const port = Number(service.ready.metricsPort);
    const counted = (code: string) =>
      metricValue(port, "charter_users_rpc_total", { method: "LookupUser", code }).catch(() => 0);
    const okBefore = await counted("OK");
    const created = await create("Ada Lookup", email("ada.lookup."));
    assert.deepEqual((await client.call("LookupUser", { email: created.email })).user, created);
    assert.deepEqual(
      (await client.call("LookupUser", { email: created.email.toUpperCase() })).user,
      created,
      "upper case finds the lower-case address",
    );
    assert.equal((await counted("OK")) - okBefore, 2, "counted under its own method label");

    const missing = await rejects(client.call("LookupUser", { email: email("nobody.") }), grpc.status.NOT_FOUND);
    assert.equal(missing.message, "no user has this email", "the address is not repeated");
    for (const address of ["not-an-email", "ü@exämple.com", "", "a@b"]) {
      const refused = await rejects(client.call("LookupUser", { email: address }), grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(
        refused.fieldViolations.map((v) => v.field),
        ["email"],
        JSON.stringify(address),
      );
    }

    await client.call("DeleteUser", { id: created.id });
    await rejects(client.call("LookupUser", { email: created.email }), grpc.status.NOT_FOUND);
  });

  test("50 concurrent updates with the same etag: exactly one wins, the rest are ABORTED", async () => {
    const user = await create("Contended");
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        client.call("UpdateUser", {
          user: { id: user.id, etag: user.etag, name: `Writer ${i}` },
          updateMask: { paths: ["name"] },
        }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 49);
    assert.ok(lost.every((r) => (r.reason as grpc.ServiceError).code === grpc.status.ABORTED));
    const final = (await client.call("GetUser", { id: user.id })).user;
    assert.equal(final.name, (won[0] as PromiseFulfilledResult<{ user: ContractUser }>).value.user.name);
    assert.equal(final.etag, "2");
  });

  test("50 concurrent updates without etag are all applied, none lost", async () => {
    const user = await create("Counter");
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.call("UpdateUser", { user: { id: user.id, name: `N${i}` } })),
    );
    assert.equal((await client.call("GetUser", { id: user.id })).user.etag, "51");
  });

  test("every RPC is counted by method and outcome in charter_users_rpc_total", async () => {
    const port = Number(service.ready.metricsPort);
    const count = (method: string, code: string) =>
      metricValue(port, "charter_users_rpc_total", { method, code }).catch(() => 0);
    const okBefore = await count("CreateUser", "OK");
    const missingBefore = await count("GetUser", "NOT_FOUND");
    const badBefore = await count("GetUser", "INVALID_ARGUMENT");
    await create("Counted");
    await rejects(client.call("GetUser", { id: "1" }), grpc.status.NOT_FOUND);
    await rejects(client.call("GetUser", { id: "x" }), grpc.status.INVALID_ARGUMENT);
    assert.equal((await count("CreateUser", "OK")) - okBefore, 1);
    assert.equal((await count("GetUser", "NOT_FOUND")) - missingBefore, 1);
    assert.equal((await count("GetUser", "INVALID_ARGUMENT")) - badBefore, 1);
  });

  test("RPC and store durations are histograms by method/outcome and by store operation", async () => {
    const port = Number(service.ready.metricsPort);
    const count = (name: string, labels: Record<string, string>) =>
      metricValue(port, `${name}_count`, labels).catch(() => 0);
    const rpc = (method: string, code: string) => count("charter_users_rpc_duration_seconds", { method, code });
    const storeOp = (operation: string) => count("charter_users_store_duration_seconds", { operation });
    const [createdBefore, missingBefore, insertsBefore] = [
      await rpc("CreateUser", "OK"),
      await rpc("GetUser", "NOT_FOUND"),
      await storeOp("insert"),
    ];
    await create("Timed");
    await rejects(client.call("GetUser", { id: "1" }), grpc.status.NOT_FOUND);
    assert.equal((await rpc("CreateUser", "OK")) - createdBefore, 1);
    assert.equal((await rpc("GetUser", "NOT_FOUND")) - missingBefore, 1);
    assert.equal((await storeOp("insert")) - insertsBefore, 1);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /charter_users_store_duration_seconds_bucket\{le="\+Inf",service="users",operation="get"\}/);
  });

  test("health answers SERVING and reflection lists the service", async () => {
    assert.equal(await client.health(), "SERVING");
    assert.equal(await client.health("charter.users.v1.UsersService"), "SERVING");
    assert.ok((await client.listServices()).includes("charter.users.v1.UsersService"));
  });
});

describe("users process lifecycle", () => {
  test("SIGTERM stops gracefully: in-flight calls finish, exit code 0", async () => {
    const service = await startService(users, { ...env, ...issuer.env }, "users service ready");
    const client = usersClient(`127.0.0.1:${service.ready.grpcPort}`, await issuer.bearer());
    const inflight = Array.from({ length: 20 }, (_, i) =>
      client.call("CreateUser", { user: { name: `Late ${i}`, email: email() } }).then(
        () => "ok",
        (e: grpc.ServiceError) => grpc.status[e.code],
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
    service.signal("SIGTERM");
    const outcomes = await Promise.all(inflight);
    assert.equal(await service.exited, 0);
    // A call either completed or was refused before the server took it; none was cut off mid-way.
    assert.ok(
      outcomes.every((o) => o === "ok" || o === "UNAVAILABLE"),
      outcomes.join(","),
    );
    assert.ok(service.output.some((line) => line.includes("users service stopped")));
    client.close();
  });
});
