/**
 * The shared SDK scenario list (sdk/scenarios/users.json, its format in sdk/README.md) run with the TypeScript SDK
 * against the real gateway and users service. The Python SDK (test/sdk-python.test.ts) and the Go SDK (test/sdk-go.test.ts)
 * run the same list.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { clientCredentials, createUsersClient, type UsersClient } from "charter/sdk";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { runScenario, scenarioList } from "../test/support/sdk-scenarios.js";

describe("the shared SDK scenarios with the TypeScript SDK", () => {
  let platform: RunningPlatform;
  let sdk: UsersClient;

  before(async () => {
    platform = await startPlatform();
    const issuer = platform.issuer;
    const client = issuer?.clients[0];
    if (!issuer || !client) throw new Error("the platform runs no development issuer");
    sdk = createUsersClient({
      baseUrl: platform.baseUrl,
      token: clientCredentials({
        tokenUrl: issuer.tokenEndpoint,
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        scopes: client.scopes,
        audience: issuer.audience,
      }),
    });
  });
  after(async () => {
    await platform?.stop();
  });

  test("the list has scenarios, each with steps", () => {
    assert.ok(scenarioList.scenarios.length >= 6);
    for (const scenario of scenarioList.scenarios) assert.ok(scenario.steps.length > 0, scenario.name);
  });

  for (const scenario of scenarioList.scenarios) {
    test(scenario.name, () => runScenario(sdk, scenario));
  }
});
