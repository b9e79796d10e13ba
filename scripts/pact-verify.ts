/**
 * `npm run pact:verify`: verifies every pact in pacts/ whose provider is the gateway against the
 * real thing. Starts the users service and the gateway as processes on free ports with the
 * embedded backends (in-memory store and cache), sets up each interaction's provider state
 * through the gateway's public API (scripts/lib/pact-provider-states.ts), replays the
 * interactions and exits non-zero, naming the interactions that failed, when the provider no
 * longer does what a consumer relies on. Every other service made by `npm run new:service` is started
 * beside users, and its entity's states (`a book exists`, …, createEntityProviderStates) are set up
 * through its REST paths: the pact its scaffolded test writes is verified here once it is in pacts/.
 *
 * PACT_PROVIDER_URL=<origin> verifies a gateway that is already running there instead.
 *
 * Tokens: an interaction that sends `Authorization` names the state `a token with <scopes>` (scripts/lib/pact-tokens.ts);
 * its handler gets a token with those scopes from the development issuer the platform here trusts, and the request
 * filter puts it in place of the consumer's example token. An interaction without the header is sent without one.
 * With PACT_PROVIDER_URL, the tokens come from the issuer that gateway trusts: AUTH_ISSUER (default the development
 * issuer, http://127.0.0.1:9400), its token endpoint found through OpenID discovery, as the client PACT_CLIENT_ID /
 * PACT_CLIENT_SECRET (default charter-dev / charter-dev-secret) by client credentials.
 *
 * The state of an erased history needs the audit service's EraseUserHistory, which no public operation reaches: it is
 * called over gRPC (plaintext) on the audit service the platform here hosts in its users process, or at
 * PACT_AUDIT_GRPC (host:port) with PACT_PROVIDER_URL, with a token carrying users:erase.
 *
 * Then the message pacts whose provider is the users service (charter-users): its real event builder against
 * what the audit service relies on (scripts/lib/user-event-pacts.ts).
 *
 * `-- --matrix <file>` (what `npm run release` runs): each pact file is verified on its own and its result recorded
 * as a row of the verification matrix (scripts/lib/verification-matrix.ts) for the provider version
 * `--provider-version` (default: package.json's version and the git revision); the pacts of the last release are
 * verified too when they differ from today's, since their consumers are still out there. The exit code is non-zero
 * when any pact fails; every pact is still verified and recorded first.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { credentials, Metadata } from "@grpc/grpc-js";
import { Verifier } from "@pact-foundation/pact";
import { AuditServiceClient } from "../generated/proto/charter/audit/v1/audit.js";
import { DEV_ISSUER } from "../platform/auth/auth-config.js";
import { API_SCOPES } from "../platform/auth/scopes.js";
import { entityServiceNames } from "../platform/service-names.js";
import { clientCredentials } from "../sdk/index.js";
import {
  createEntityProviderStates,
  createProviderStates,
  type ProviderStateSetup,
} from "./lib/pact-provider-states.js";
import { asStateHandlers, failedInteractionNames, statesOf, tokenStates } from "./lib/pact-verification.js";
import { type RunningPlatform, startPlatform } from "./lib/start-platform.js";
import { USERS_PROVIDER, verifyUserEventPacts } from "./lib/user-event-pacts.js";
import {
  currentPacts,
  type MatrixRow,
  type PactToVerify,
  packageVersion,
  pactsToVerify,
  providerVersion,
  ROOT,
  recordRows,
} from "./lib/verification-matrix.js";

process.env.PACT_DO_NOT_TRACK ??= "true";

export const PROVIDER = "charter-gateway";

/** The failed interactions the verifier's error names, one a line, else its message. */
function failedInteractions(error: unknown): string {
  const names = failedInteractionNames(error);
  if (names.length > 0) return names.map((name) => `\n  - ${name}`).join("");
  return error instanceof Error ? error.message : String(error);
}

/**
 * Token providers by scopes: from the development issuer of the platform started here, else from the issuer the
 * gateway at PACT_PROVIDER_URL trusts (AUTH_ISSUER, discovered), as PACT_CLIENT_ID / PACT_CLIENT_SECRET.
 */
async function tokenSource(
  platform: RunningPlatform | undefined,
): Promise<(scopes: readonly string[]) => () => Promise<string>> {
  const dev = platform?.issuer;
  const issuer = dev?.issuer ?? (process.env.AUTH_ISSUER?.trim() || DEV_ISSUER);
  const clientId = dev?.clients[0]?.clientId ?? (process.env.PACT_CLIENT_ID?.trim() || "charter-dev");
  const clientSecret = dev?.clients[0]?.clientSecret ?? (process.env.PACT_CLIENT_SECRET || "charter-dev-secret");
  let tokenUrl = dev?.tokenEndpoint;
  if (!tokenUrl) {
    const discovery = await fetch(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`).catch(
      () => undefined,
    );
    const document = (await discovery?.json().catch(() => undefined)) as { token_endpoint?: unknown } | undefined;
    if (typeof document?.token_endpoint !== "string") {
      throw new Error(`no token endpoint: ${issuer}/.well-known/openid-configuration did not name one (AUTH_ISSUER)`);
    }
    tokenUrl = document.token_endpoint;
  }
  const providers = new Map<string, () => Promise<string>>();
  return (scopes) => {
    const key = [...scopes].sort().join(" ");
    let provider = providers.get(key);
    if (!provider) {
      provider = clientCredentials({ tokenUrl: tokenUrl as string, clientId, clientSecret, scopes });
      providers.set(key, provider);
    }
    return provider;
  };
}

/** EraseUserHistory on the audit service at `address`, now, with a token from `token`. */
function historyEraser(address: string | undefined, token: () => Promise<string>) {
  return async (userId: string): Promise<void> => {
    if (!address) throw new Error("PACT_AUDIT_GRPC (the audit service's host:port) is needed to erase a history");
    const metadata = Metadata.fromHttp2Headers({ authorization: `Bearer ${await token()}` });
    const client = new AuditServiceClient(address, credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) =>
        client.eraseUserHistory(
          { userId, eraseAfter: undefined },
          metadata,
          { deadline: Date.now() + 10_000 },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    } finally {
      client.close();
    }
  };
}

const { values: args } = parseArgs({
  options: { matrix: { type: "string" }, "provider-version": { type: "string" } },
});

async function main(): Promise<number> {
  const released = mkdtempSync(join(tmpdir(), "charter-released-pacts-"));
  const providers = [PROVIDER, USERS_PROVIDER];
  // Without --matrix, today's pacts only, as before; with it, the last release's too.
  const pacts = args.matrix === undefined ? currentPacts(ROOT, providers) : pactsToVerify(ROOT, providers, released);
  const gatewayPacts = pacts.filter((p) => p.provider === PROVIDER);
  const messagePacts = pacts.filter((p) => p.provider === USERS_PROVIDER);
  if (gatewayPacts.length === 0) {
    console.error(`no pact in pacts/ names the provider ${PROVIDER}`);
    return 1;
  }
  const version = args["provider-version"] ?? providerVersion(ROOT, packageVersion(ROOT));
  const rows: MatrixRow[] = [];
  const record = (pact: PactToVerify, ok: boolean) =>
    rows.push({
      consumer: pact.consumer,
      consumerVersion: pact.consumerVersion,
      provider: pact.provider,
      providerVersion: version,
      result: ok ? "success" : "failure",
      verifiedAt: new Date().toISOString(),
      pact: pact.pact,
    });
  const external = process.env.PACT_PROVIDER_URL?.trim();
  let platform: RunningPlatform | undefined;
  if (!external) {
    // The embedded backends, whatever the calling shell has set; a development issuer on a free port.
    platform = await startPlatform({ MONGO_URL: "", REDIS_URL: "", ETCD_ENDPOINTS: "" });
  }
  const tokenFor = await tokenSource(platform);
  const baseUrl = external || (platform as RunningPlatform).baseUrl;
  let failed = 0;
  try {
    const auditAddress = platform
      ? `127.0.0.1:${platform.users.ready.grpcPort}`
      : process.env.PACT_AUDIT_GRPC?.trim() || undefined;
    const states: Record<string, ProviderStateSetup> = {
      ...createProviderStates(baseUrl, tokenFor(API_SCOPES), {
        eraseHistory: historyEraser(auditAddress, tokenFor(["users:erase"])),
      }),
    };
    // Every other service's entity states too (`a book exists`, …): the pact a service made by `npm run new:service`
    // carries, once it is in pacts/.
    for (const name of entityServiceNames()) {
      Object.assign(states, createEntityProviderStates(baseUrl, name, tokenFor(API_SCOPES)));
    }
    const stateHandlers = asStateHandlers(states);
    const tokens = tokenStates(
      gatewayPacts.flatMap((pact) => statesOf(pact.file)),
      (scopes) => tokenFor(scopes)(),
    );
    Object.assign(stateHandlers, tokens.stateHandlers);
    console.log(
      `verifying ${gatewayPacts.map((p) => `${p.consumer} ${p.consumerVersion} → ${PROVIDER}`).join(", ")} against ` +
        `${baseUrl}${platform ? " (users service and gateway on in-memory backends)" : ""}, provider version ${version}`,
    );
    for (const pact of gatewayPacts) {
      const missing = statesOf(pact.file).filter((s) => !Object.hasOwn(stateHandlers, s));
      if (missing.length > 0) {
        console.error(
          `✖ ${pact.pact}: no state handler (scripts/lib/pact-provider-states.ts, or a token state of scripts/lib/pact-tokens.ts) for: ${missing.join("; ")}`,
        );
        record(pact, false);
        failed++;
        continue;
      }
      try {
        await new Verifier({
          provider: PROVIDER,
          providerBaseUrl: baseUrl,
          pactUrls: [pact.file],
          stateHandlers,
          requestFilter: tokens.requestFilter as never,
          logLevel: "warn",
        }).verifyProvider();
        record(pact, true);
      } catch (error) {
        console.error(`✖ pact verification failed: ${pact.pact}: ${failedInteractions(error)}`);
        record(pact, false);
        failed++;
      }
    }
    if (failed === 0) console.log(`✔ ${PROVIDER} honours ${gatewayPacts.length} pact file(s)`);
    console.log(`verifying ${messagePacts.map((p) => `${p.consumer} ← ${USERS_PROVIDER}`).join(", ")} (message pacts)`);
    let messageFailed = 0;
    for (const pact of messagePacts) {
      try {
        await verifyUserEventPacts([pact.file]);
        record(pact, true);
      } catch (error) {
        console.error(`✖ message pact verification failed: ${pact.pact}: ${failedInteractions(error)}`);
        record(pact, false);
        messageFailed++;
      }
    }
    if (messageFailed === 0) console.log(`✔ ${USERS_PROVIDER} honours ${messagePacts.length} message pact file(s)`);
    failed += messageFailed;
  } finally {
    await platform?.stop();
    rmSync(released, { recursive: true, force: true });
  }
  if (args.matrix !== undefined) {
    recordRows(args.matrix, rows);
    console.log(`recorded ${rows.length} verification(s) of ${version} in ${args.matrix}`);
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
