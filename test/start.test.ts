/**
 * `npm start` as a user runs it (free ports instead of the defaults, nothing else set): the banner names the
 * embedded backends and where everything is, and how to get a token from the development issuer it runs (the
 * banner's own curl command is run, and its token carries every request); a user created, renamed and deleted through REST shows up in its
 * history; the services' log lines follow the banner, one per request with its trace id; Ctrl-C (SIGINT)
 * stops every process it started and exits 0.
 */
import assert from "node:assert/strict";
import { execFileSync, execSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { API_SCOPES } from "../platform/auth/scopes.js";
import { waitFor } from "../scripts/lib/processes.js";
import { launch } from "./support/launcher.js";

/** The pids of every process below `pid` (children, their children, …), from ps. */
function descendants(pid: number): number[] {
  const pairs = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of pairs) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** Whether a process with this pid is still there. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("npm start: embedded platform, history of a change, request logs after the banner; Ctrl-C stops it all", async () => {
  // The embedded defaults: no backend named, no exporter.
  const platform = launch("scripts/start.ts", {
    LOG_LEVEL: "info",
    MONGO_URL: undefined,
    REDIS_URL: undefined,
    KAFKA_BROKERS: undefined,
    ETCD_ENDPOINTS: undefined,
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  });
  try {
    await platform.waitForOutput("the banner", /Press Ctrl-C to stop\./, 60_000);
    const output = platform.output;
    const base = /REST\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/users/.exec(output())?.[1];
    assert.ok(base, output());
    assert.match(
      output(),
      /Embedded backends: store and history \(in-memory\), cache \(in-memory\), event bus \(in-process\)/,
    );
    assert.match(output(), /In-memory data is lost on exit/);
    assert.match(output(), /Between the services: plain loopback, no TLS and no credentials/);
    const banner = output().slice(0, output().indexOf("Press Ctrl-C to stop."));

    // The banner says where the issuer is and how to get a token: its command, run as a user would copy it.
    const issuer = /Token issuer\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    assert.ok(issuer, banner);
    const recipe = /^\s*(TOKEN=\$\(curl .*\))$/m.exec(banner)?.[1];
    assert.ok(recipe?.includes(`${issuer}/token`), banner);
    const token = execSync(`${recipe} && printf %s "$TOKEN"`, { encoding: "utf8", shell: "/bin/sh" });
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, "the banner's command prints a JWT");
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<
      string,
      unknown
    >;
    assert.equal(claims.iss, issuer);
    // Every scope of the API: users' and any other service's (one made by `npm run new:service`).
    assert.deepEqual(String(claims.scope).split(" ").sort(), [...API_SCOPES]);
    assert.ok(API_SCOPES.includes("users:read") && API_SCOPES.includes("users:erase"), API_SCOPES.join(" "));
    assert.match(banner, /curl -H "Authorization: Bearer \$TOKEN"/);
    assert.match(banner, /clientCredentials\(/, "the banner shows the SDK's token provider");
    assert.match(banner, /"Authorize"/, "and Swagger UI's Authorize");
    const authorization = { authorization: `Bearer ${token}` };

    const email = `start.${randomUUID()}@example.com`;
    const created = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authorization },
      body: JSON.stringify({ name: "Start Smoke", email }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const user = (await created.json()) as { id: string; etag: string };
    const traceId = created.headers.get("traceparent")?.split("-")[1];
    assert.match(traceId ?? "", /^[0-9a-f]{32}$/);
    const renamed = await fetch(`${base}/v1/users/${user.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json", "if-match": `"${user.etag}"`, ...authorization },
      body: JSON.stringify({ name: "Start Smoke Renamed" }),
    });
    assert.equal(renamed.status, 200, await renamed.clone().text());
    const deleted = await fetch(`${base}/v1/users/${user.id}`, { method: "DELETE", headers: authorization });
    assert.equal(deleted.status, 204);

    const history = await waitFor(
      "the three events in the history",
      async () => {
        const response = await fetch(`${base}/v1/users/${user.id}/history`, { headers: authorization });
        const body = (await response.json()) as { events?: { type: string; version: string }[] };
        return body.events?.length === 3 ? body.events : undefined;
      },
      5_000,
    );
    assert.deepEqual(
      history.map((e) => [e.type, e.version]),
      [
        ["CREATED", "1"],
        ["UPDATED", "2"],
        ["DELETED", "3"],
      ],
    );

    const requestLine = await waitFor(
      "the create request's log line after the banner",
      () =>
        output()
          .slice(banner.length)
          .split("\n")
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as Record<string, unknown>];
            } catch {
              return [];
            }
          })
          .find((line) => line.msg === "request" && line.trace_id === traceId),
      5_000,
    );
    assert.equal(requestLine.route, "/v1/users");
    assert.equal(requestLine.status, 201);
    assert.ok(!output().includes(email), "the e-mail address is never logged in clear");
    assert.ok(!output().slice(banner.length).includes(token), "nor is the token");
  } finally {
    const pids = platform.child.pid === undefined ? [] : descendants(platform.child.pid);
    const code = await platform.interrupt();
    assert.equal(code, 0, platform.output().slice(-2000));
    assert.match(platform.output(), /Stopping…/);
    assert.ok(pids.length >= 2, `npm start ran the users service and the gateway as processes of its own: ${pids}`);
    // The services have exited before npm start does; helpers of theirs (esbuild's service process) follow
    // once they see their parent gone, a moment later.
    await waitFor("every process npm start ran to be gone", () => (pids.some(alive) ? undefined : true), 10_000).catch(
      () => assert.fail(`processes still running after Ctrl-C: ${pids.filter(alive).join(", ")}`),
    );
  }
});
