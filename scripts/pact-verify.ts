/**
 * `npm run pact:verify`: verifies every pact in pacts/ whose provider is the gateway against the
 * real thing. Starts the users service and the gateway as processes on free ports with the
 * embedded backends (in-memory store and cache), sets up each interaction's provider state
 * through the gateway's public API (scripts/lib/pact-provider-states.ts), replays the
 * interactions and exits non-zero, naming the interactions that failed, when the provider no
 * longer does what a consumer relies on.
 *
 * PACT_PROVIDER_URL=<origin> verifies a gateway that is already running there instead.
 *
 * Then the message pacts whose provider is the users service (charter-users): its real event builder against
 * what the audit service relies on (scripts/lib/user-event-pacts.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Verifier } from "@pact-foundation/pact";
import { createProviderStates, type StateParams } from "./lib/pact-provider-states.js";
import { type RunningPlatform, startPlatform } from "./lib/start-platform.js";
import { USERS_PROVIDER, verifyUserEventPacts } from "./lib/user-event-pacts.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

export const PROVIDER = "charter-gateway";
const pactsDir = fileURLToPath(new URL("../pacts/", import.meta.url));

interface PactFile {
  readonly path: string;
  readonly consumer: string;
  readonly states: ReadonlySet<string>;
}

function providerPacts(provider = PROVIDER): PactFile[] {
  const files = readdirSync(pactsDir)
    .filter((name) => name.endsWith(".json"))
    .sort();
  return files.flatMap((name) => {
    const path = join(pactsDir, name);
    const pact = JSON.parse(readFileSync(path, "utf8")) as {
      consumer?: { name?: string };
      provider?: { name?: string };
      interactions?: { providerStates?: { name: string }[] }[];
    };
    if (pact.provider?.name !== provider) return [];
    const states = new Set((pact.interactions ?? []).flatMap((i) => (i.providerStates ?? []).map((s) => s.name)));
    return [{ path, consumer: pact.consumer?.name ?? "(unnamed consumer)", states }];
  });
}

/** The failed interactions the verifier's error lists (its message is a JSON report), else the message itself. */
function failedInteractions(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  try {
    const report = JSON.parse(message) as { errors?: { interaction?: string }[] };
    const names = (report.errors ?? []).map((e) => e.interaction).filter((n) => n !== undefined);
    if (names.length > 0) return names.map((name) => `\n  - ${name}`).join("");
  } catch {
    // not the JSON report
  }
  return message;
}

async function main(): Promise<number> {
  const pacts = providerPacts();
  if (pacts.length === 0) {
    console.error(`no pact in ${pactsDir} names the provider ${PROVIDER}`);
    return 1;
  }
  const external = process.env.PACT_PROVIDER_URL?.trim();
  let platform: RunningPlatform | undefined;
  if (!external) {
    // The embedded backends, whatever the calling shell has set.
    platform = await startPlatform({ MONGO_URL: "", REDIS_URL: "", ETCD_ENDPOINTS: "" });
  }
  const baseUrl = external || (platform as RunningPlatform).baseUrl;
  try {
    const states = createProviderStates(baseUrl);
    const missing = [...new Set(pacts.flatMap((p) => [...p.states]))].filter((s) => !Object.hasOwn(states, s));
    if (missing.length > 0) {
      console.error(`no state handler in scripts/lib/pact-provider-states.ts for: ${missing.join("; ")}`);
      return 1;
    }
    const stateHandlers = Object.fromEntries(
      Object.entries(states).map(([name, setup]) => [
        name,
        async (params?: unknown) => setup((params ?? {}) as StateParams),
      ]),
    );
    console.log(
      `verifying ${pacts.map((p) => `${p.consumer} → ${PROVIDER}`).join(", ")} against ${baseUrl}` +
        (platform ? " (users service and gateway on in-memory backends)" : ""),
    );
    try {
      await new Verifier({
        provider: PROVIDER,
        providerBaseUrl: baseUrl,
        pactUrls: pacts.map((p) => p.path),
        stateHandlers,
        logLevel: "warn",
      }).verifyProvider();
    } catch (error) {
      console.error(`✖ pact verification failed: ${failedInteractions(error)}`);
      return 1;
    }
    console.log(`✔ ${PROVIDER} honours ${pacts.length} pact file(s)`);
    const messagePacts = providerPacts(USERS_PROVIDER);
    console.log(`verifying ${messagePacts.map((p) => `${p.consumer} ← ${USERS_PROVIDER}`).join(", ")} (message pacts)`);
    try {
      await verifyUserEventPacts(messagePacts.map((p) => p.path));
    } catch (error) {
      console.error(`✖ message pact verification failed: ${failedInteractions(error)}`);
      return 1;
    }
    console.log(`✔ ${USERS_PROVIDER} honours ${messagePacts.length} message pact file(s)`);
    return 0;
  } finally {
    await platform?.stop();
  }
}

process.exitCode = await main();
