/**
 * The Go SDK (sdk/go) and the Go gRPC client (generated/go/proto) against the real gateway and users service: this
 * starts the platform with its development issuer on free ports, then runs the module's own `go test` with the
 * addresses and the client's credentials in its environment (the scenarios of sdk/sdk.test.ts, in Go, the shared SDK
 * scenario list sdk/scenarios/users.json, every one of which must pass, and the gRPC calls). It also holds the module to `gofmt` and `go vet`. Go's module and build caches are the machine's own; the
 * first run downloads the module's pinned dependencies (go.sum) from the module proxy, each step printed with its time.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { lastLines, runCommand, timedStep } from "../scripts/infra/steps.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";

const module = fileURLToPath(new URL("../sdk/go/", import.meta.url));
const goEnv: NodeJS.ProcessEnv = {
  ...process.env,
  // Only the module proxy is asked (no direct VCS fetches); -modcacherw keeps the module cache deletable.
  GOPROXY: (process.env.GOPROXY || "https://proxy.golang.org").replace(/,direct$/, ""),
  GOFLAGS: "-modcacherw -buildvcs=false -mod=readonly",
};
const TEN_MINUTES = 600_000;

/** The shared SDK scenario list, which sdk/go/scenarios_test.go runs as the subtests of TestSharedScenarios. */
const scenarios = (
  JSON.parse(readFileSync(new URL("../sdk/scenarios/users.json", import.meta.url), "utf8")) as {
    scenarios: { name: string }[];
  }
).scenarios.map((scenario) => scenario.name);
/** A subtest's name as `go test` reports it: each white-space character becomes an underscore. */
const goSubtest = (parent: string, name: string) => `${parent}/${name.replace(/\s/g, "_")}`;

async function go(args: readonly string[], env: NodeJS.ProcessEnv = goEnv) {
  const ran = await runCommand("go", args, { cwd: module, env, timeoutMs: TEN_MINUTES });
  if (ran.code === null && /ENOENT/.test(ran.stderr)) {
    assert.fail("`go` is not on PATH: install Go 1.26 or newer (https://go.dev/dl/) to build and test sdk/go");
  }
  return ran;
}

describe("the Go SDK and gRPC client against the real platform", () => {
  let platform: RunningPlatform;

  before(async () => {
    const download = await timedStep("go mod download (sdk/go's pinned dependencies, once)", () =>
      go(["mod", "download"]),
    );
    assert.equal(download.code, 0, `go mod download failed:\n${lastLines(download.stderr + download.stdout)}`);
    platform = await startPlatform();
  });
  after(async () => {
    await platform?.stop();
  });

  test("the module builds, is gofmt-clean and passes go vet", async () => {
    const build = await timedStep("go build ./...", () => go(["build", "./..."]));
    assert.equal(build.code, 0, `go build failed:\n${lastLines(build.stderr + build.stdout)}`);
    const unformatted = await runCommand("gofmt", ["-l", "."], { cwd: module });
    assert.equal(unformatted.stdout.trim(), "", "gofmt -w sdk/go");
    const vet = await go(["vet", "./..."]);
    assert.equal(vet.code, 0, `go vet failed:\n${lastLines(vet.stderr + vet.stdout)}`);
  });

  test("go test passes against the live gateway and users service", async () => {
    const issuer = platform.issuer;
    const client = issuer?.clients[0];
    assert.ok(issuer && client, "the platform runs its development issuer");
    const env = {
      ...goEnv,
      CHARTER_GATEWAY_URL: platform.baseUrl,
      CHARTER_USERS_GRPC_ADDR: `127.0.0.1:${platform.users.ready.grpcPort}`,
      CHARTER_TOKEN_URL: issuer.tokenEndpoint,
      CHARTER_CLIENT_ID: client.clientId,
      CHARTER_CLIENT_SECRET: client.clientSecret,
      CHARTER_SCOPES: client.scopes.join(" "),
      CHARTER_AUDIENCE: issuer.audience,
    };
    const run = await timedStep("go test ./... against the platform", () =>
      // One package at a time: the packages share this one platform, and the page walks compare two whole walks
      // of its users, which another package's creates in between would change.
      go(["test", "-count=1", "-p", "1", "-json", "./..."], env),
    );
    const events = run.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { Action: string; Test?: string; Output?: string });
    const output = events.map((e) => e.Output ?? "").join("");
    assert.equal(run.code, 0, `go test failed:\n${lastLines(output + run.stderr, 60)}`);
    const passed = events.filter((e) => e.Action === "pass" && e.Test && !e.Test.includes("/")).map((e) => e.Test);
    const failed = events.filter((e) => e.Action === "fail" && e.Test).map((e) => e.Test);
    const skipped = events.filter((e) => e.Action === "skip" && e.Test).map((e) => e.Test);
    assert.deepEqual(failed, []);
    assert.deepEqual(skipped, [], "no Go test skips");
    for (const name of [
      "TestCreateGetUpdateWithAndWithoutIfMatchDelete",
      "TestLookupUserFindsByEmailCaseInsensitively",
      "TestTakenEmailIsAConflict",
      "TestInvalidInputListsTheBadFields",
      "TestUsersWalksEveryPageInCreationOrder",
      "TestAProblemWhileWalkingIsYielded",
      "TestANetworkFailureIsNotAProblem",
      "TestUserHistoryWalksTheThreeEvents",
      "TestUserStatsAreUnavailableWithoutAStatsPipeline",
      "TestEveryOperationHasAnSDKMethod",
      "TestAnAnswerThatIsNoProblemDocumentIsAnAboutBlankProblem",
      "TestACreateWithAnIdempotencyKeyIsRetriedAfterA503AndAppliedOnce",
      "TestACreateWithoutAKeyIsSentOnce",
      "TestRetriesAreForWhatIsSafeToSendTwice",
      "TestARetryAfterLongerThanTheLongestWaitIsReturnedAtOnce",
      "TestCreateUserThenGetUser",
      "TestErrorsCarryTheirGoogleRpcDetails",
      "TestACallWithoutATokenIsUnauthenticated",
      "TestSharedScenarios",
    ]) {
      assert.ok(passed.includes(name), `${name} ran and passed (passed: ${passed.join(", ")})`);
    }
    // Every scenario of the shared list ran with the Go SDK and passed: one the Go runner drops or skips fails here.
    const passedScenarios = events
      .filter((e) => e.Action === "pass" && e.Test?.startsWith("TestSharedScenarios/"))
      .map((e) => e.Test);
    assert.ok(scenarios.length >= 6, "the shared list has its scenarios");
    assert.deepEqual(
      [...passedScenarios].sort(),
      scenarios.map((name) => goSubtest("TestSharedScenarios", name)).sort(),
      "every scenario of sdk/scenarios/users.json, and only those, ran and passed in Go",
    );
  });

  test("without the platform's addresses go test fails and says how to run it", async () => {
    const env = { ...goEnv };
    for (const name of Object.keys(env)) if (name.startsWith("CHARTER_")) delete env[name];
    const run = await go(["test", "-count=1", "."], env);
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /CHARTER_GATEWAY_URL[\s\S]*npm test -- test\/sdk-go\.test\.ts/);
  });
});
