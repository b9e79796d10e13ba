/**
 * `npm run can-i-deploy [-- --matrix <file>] [--provider-version <v>] [--require <consumer>@<version>:<provider> …]`:
 * whether this provider version (the gateway's and the users service's, `<version>-<git revision>` as the images
 * are tagged) can be deployed. Yes when every consumer version it must honour — the pacts of this tree and those of
 * the last release (scripts/lib/verification-matrix.ts) — has a successful verification against exactly this
 * provider version in the verification matrix that `pact-verify --matrix` writes. A missing row is a no. Prints
 * each pair and the reason, exit code 0 for yes, 1 for no, 2 when it cannot decide.
 *
 * `--require` replaces the consumer versions read from git (tests use it with purpose-made matrices).
 *
 * With PACT_BROKER_BASE_URL set, the broker decides instead: its own can-i-deploy resource (GET /can-i-deploy with
 * pacticipant, version and environment — PACT_BROKER_ENVIRONMENT, default production), authenticated with
 * PACT_BROKER_TOKEN or PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD, once per provider. The Pact CLI that used to wrap it
 * left @pact-foundation/pact-core in v15 (now @pact-foundation/pact-cli), so the resource is asked directly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { USERS_PROVIDER } from "./lib/user-event-pacts.js";
import {
  DEFAULT_MATRIX,
  decide,
  packageVersion,
  providerVersion,
  type RequiredPact,
  ROOT,
  readMatrix,
  requiredPacts,
} from "./lib/verification-matrix.js";

const PROVIDERS = ["charter-gateway", USERS_PROVIDER];

const { values: args } = parseArgs({
  options: {
    matrix: { type: "string", default: DEFAULT_MATRIX },
    "provider-version": { type: "string" },
    require: { type: "string", multiple: true },
  },
});

/** `<consumer>@<version>:<provider>` */
function parseRequire(text: string): RequiredPact {
  const match = /^([^@]+)@([^:]+):(.+)$/.exec(text);
  if (!match) throw new Error(`--require ${text}: expected <consumer>@<version>:<provider>`);
  const [, consumer = "", consumerVersion = "", provider = ""] = match;
  return { consumer, consumerVersion, provider, why: "required" };
}

async function askBroker(base: string, version: string): Promise<number> {
  const environment = process.env.PACT_BROKER_ENVIRONMENT || "production";
  const headers: Record<string, string> = { accept: "application/hal+json, application/json" };
  if (process.env.PACT_BROKER_TOKEN) headers.authorization = `Bearer ${process.env.PACT_BROKER_TOKEN}`;
  else if (process.env.PACT_BROKER_USERNAME) {
    const basic = `${process.env.PACT_BROKER_USERNAME}:${process.env.PACT_BROKER_PASSWORD ?? ""}`;
    headers.authorization = `Basic ${Buffer.from(basic).toString("base64")}`;
  }
  let no = 0;
  for (const pacticipant of PROVIDERS) {
    const url = new URL("can-i-deploy", base.endsWith("/") ? base : `${base}/`);
    url.search = new URLSearchParams({ pacticipant, version, environment }).toString();
    const answer = await fetch(url, { headers });
    if (!answer.ok) throw new Error(`the broker answered ${answer.status} to ${url}: ${await answer.text()}`);
    const { summary } = (await answer.json()) as { summary?: { deployable?: boolean | null; reason?: string } };
    const yes = summary?.deployable === true;
    console.log(`${yes ? "✔" : "✖"} ${pacticipant} ${version} to ${environment}: ${summary?.reason ?? "(no reason)"}`);
    if (!yes) no++;
  }
  return no === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const version = args["provider-version"] ?? providerVersion(ROOT, packageVersion(ROOT));
  const broker = process.env.PACT_BROKER_BASE_URL?.trim();
  if (broker) {
    console.log(`can-i-deploy: asking the Pact Broker at ${broker} (PACT_BROKER_BASE_URL)`);
    return askBroker(broker, version);
  }
  const released = mkdtempSync(join(tmpdir(), "charter-released-pacts-"));
  try {
    const required = args.require?.map(parseRequire) ?? requiredPacts(ROOT, PROVIDERS, released);
    const decision = decide(readMatrix(args.matrix), version, required);
    console.log(`can-i-deploy ${PROVIDERS.join(" and ")} ${version}, from the matrix ${args.matrix}:`);
    for (const line of decision.lines) console.log(`  ${line}`);
    if (decision.deployable) {
      console.log(`✔ yes: every consumer version it must honour was verified against ${version}`);
      return 0;
    }
    console.error(`✖ no: ${decision.reasons.join("; ")}`);
    return 1;
  } finally {
    rmSync(released, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`can-i-deploy cannot decide: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
