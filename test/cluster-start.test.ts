/**
 * `npm run start:cluster` as a user runs it (free ports instead of the defaults): a 3-member etcd cluster, the
 * MongoDB-compatible server, Redis, three users instances configured from etcd and a gateway that finds them
 * through etcd. It comes up, serves REST and GraphQL through discovery across all three instances, and Ctrl-C
 * (SIGINT) stops everything. Heavy: about 15–25 s on two cores.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { waitFor } from "../scripts/lib/processes.js";
import { launch } from "./support/launcher.js";

test("npm run start:cluster serves REST and GraphQL through etcd discovery; Ctrl-C stops it all", async () => {
  const cluster = launch("scripts/start-cluster.ts");
  try {
    const base = (
      await cluster.waitForOutput("the cluster banner", /REST\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/users/, 120_000)
    )[1];
    const output = cluster.output();
    const metricsUrls = [...output.matchAll(/metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)\s+worker id/g)].map(
      (m) => m[1],
    );
    assert.equal(metricsUrls.length, 3, output);

    await waitFor(
      "/readyz to list three SERVING instances",
      async () => {
        const response = await fetch(`${base}/readyz`);
        const body = (await response.json()) as { instances?: { health: string }[] };
        const serving = body.instances?.filter((i) => i.health === "SERVING").length;
        return response.status === 200 && serving === 3 ? true : undefined;
      },
      30_000,
    );
    const email = `cluster.${randomUUID()}@example.com`;
    const created = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
      body: JSON.stringify({ name: "Cluster Smoke", email }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const user = (await created.json()) as { id: string };
    for (let i = 0; i < 9; i++) {
      const read = await fetch(`${base}/v1/users/${user.id}`);
      assert.equal(read.status, 200);
    }
    const graphql = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "query($id: ID!) { user(id: $id) { id email } }", variables: { id: user.id } }),
    });
    assert.deepEqual(await graphql.json(), { data: { user: { id: user.id, email } } });

    // Round-robin: each of the three instances served some of the reads.
    for (const url of metricsUrls) {
      const text = await (await fetch(url ?? "")).text();
      const served = text
        .split("\n")
        .filter((line) => line.startsWith("charter_users_rpc_total{") && /method="(GetUser|BatchGetUsers)"/.test(line))
        .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
      assert.ok(served > 0, `${url} served reads`);
    }
  } finally {
    const code = await cluster.interrupt();
    assert.equal(code, 0, cluster.output().slice(-2000));
  }
  assert.match(cluster.output(), /Stopping/);
});
