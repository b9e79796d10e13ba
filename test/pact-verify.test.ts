/**
 * Provider verification as CI runs it: `scripts/pact-verify.ts` (what `npm run pact:verify`
 * runs) as a real process, against the real gateway and users service on embedded backends. And
 * proof that it catches drift: in front of a real gateway, a proxy that drops `email` from the
 * user that GET /v1/users/{id} returns — a field the SDK's pact relies on — makes the same
 * command fail and name that interaction, and only that one.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { runToExit } from "../scripts/lib/processes.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { dropField, startDriftingProxy } from "./support/drifting-proxy.js";
import { failedInteractions, PACTS_DIR } from "./support/pact-files.js";

const VERIFY_ENTRY = "scripts/pact-verify.ts";
const TIMEOUT_MS = 120_000;

describe("pact provider verification", () => {
  test("npm run pact:verify passes against the real gateway and users service", async () => {
    const pactFiles = readdirSync(PACTS_DIR).filter((name) => name.endsWith("-charter-gateway.json"));
    assert.ok(pactFiles.length >= 2, `expected the SDK and GraphQL pacts in pacts/, found ${pactFiles.join(", ")}`);
    const run = await runToExit(VERIFY_ENTRY, { PACT_PROVIDER_URL: "" }, TIMEOUT_MS);
    const output = stripVTControlCharacters(`${run.stdout}\n${run.stderr}`);
    assert.equal(run.code, 0, `pact verification failed:\n${output}`);
    assert.match(output, new RegExp(`honours ${pactFiles.length} pact file\\(s\\)`));
    assert.match(output, /Verifying a pact between charter-sdk and charter-gateway/);
    assert.match(output, /Verifying a pact between charter-web and charter-gateway/);
    assert.match(output, /charter-users honours 1 message pact file\(s\)/);
  });

  describe("against a gateway that drifted from the SDK's pact", () => {
    let platform: RunningPlatform;
    let drifted: { url: string; close(): Promise<void> };

    before(async () => {
      platform = await startPlatform({ MONGO_URL: "", REDIS_URL: "", ETCD_ENDPOINTS: "" });
      // The gateway as it would be after someone dropped `email` from GET /v1/users/{id}.
      drifted = await startDriftingProxy(platform.baseUrl, dropField(/^\/v1\/users\/[^/]+$/, "email"));
    });
    after(async () => {
      await drifted?.close();
      await platform?.stop();
    });

    test("fails and names the interaction that relied on the dropped field", async () => {
      // Its tokens from the issuer that gateway trusts, as a team verifying its own deployment would set it.
      const run = await runToExit(
        VERIFY_ENTRY,
        {
          PACT_PROVIDER_URL: drifted.url,
          AUTH_ISSUER: platform.issuer?.issuer ?? "",
          // The erased-history state erases through the audit service, which the users process hosts here.
          PACT_AUDIT_GRPC: `127.0.0.1:${platform.users.ready.grpcPort}`,
        },
        TIMEOUT_MS,
      );
      const output = stripVTControlCharacters(`${run.stdout}\n${run.stderr}`);
      assert.notEqual(run.code, 0, `verification passed against the drifted gateway:\n${output}`);
      assert.ok(output.includes("Failures:"), `no failure report in:\n${output}`);
      const failures = output.slice(output.indexOf("Failures:"));
      assert.match(failures, /missing the following keys: email/, `the report does not name the field:\n${output}`);
      assert.deepEqual(
        failedInteractions(output),
        [
          "Verifying a pact between charter-sdk and charter-gateway Given a user exists And a token with users:read - a request for an existing user",
        ],
        `only the interaction that relied on email should fail:\n${output}`,
      );
    });
  });
});
