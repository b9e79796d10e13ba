/**
 * What every verification of a pact against the gateway shares (`npm run pact:verify`, and the pact test a service
 * made by `npm run new:service` carries): the provider states a pact names, the token states answered with real
 * tokens from an issuer the gateway trusts and swapped in by a request filter, and the interactions a failed
 * verification names.
 */
import { readFileSync } from "node:fs";
import type { ProviderStateSetup, StateParams } from "./pact-provider-states.js";
import { scopesOfTokenState } from "./pact-tokens.js";

/** A state handler as Pact's Verifier calls it: the state's parameters in, the values to inject out. */
export type StateHandler = (params?: unknown) => Promise<unknown>;

/** The provider states a pact file's interactions name. */
export function statesOf(file: string): string[] {
  const pact = JSON.parse(readFileSync(file, "utf8")) as { interactions?: { providerStates?: { name: string }[] }[] };
  return [...new Set((pact.interactions ?? []).flatMap((i) => (i.providerStates ?? []).map((s) => s.name)))];
}

/**
 * The token states among `states` (`a token with <scopes>`, scripts/lib/pact-tokens.ts), each answered with a token
 * `tokenFor` gives for its scopes, and the Verifier's request filter (Express middleware before each replayed
 * request) that puts that token in place of the consumer's example one. An interaction without `Authorization` is
 * sent without one.
 */
export function tokenStates(
  states: readonly string[],
  tokenFor: (scopes: readonly string[]) => Promise<string>,
): {
  stateHandlers: Record<string, StateHandler>;
  requestFilter: (
    request: { headers: Record<string, string | string[] | undefined> },
    _: unknown,
    next: () => void,
  ) => void;
} {
  // The token of the interaction being verified (its token state's), which the request filter sends.
  let interactionToken: string | undefined;
  const stateHandlers: Record<string, StateHandler> = {};
  for (const state of states) {
    const scopes = scopesOfTokenState(state);
    if (!scopes) continue;
    stateHandlers[state] = async () => {
      interactionToken = await tokenFor(scopes);
      return {};
    };
  }
  return {
    stateHandlers,
    requestFilter(request, _response, next) {
      if (request.headers.authorization !== undefined) {
        if (!interactionToken) throw new Error("an interaction sends Authorization but names no token state");
        request.headers.authorization = `Bearer ${interactionToken}`;
      }
      interactionToken = undefined;
      next();
    },
  };
}

/**
 * The interactions the error of a failed `verifyProvider()` names (its message is the verifier's JSON report,
 * "Verifying a pact between <consumer> and <provider> Given <state> - <description>" each); empty when the message
 * is not that report.
 */
export function failedInteractionNames(error: unknown): string[] {
  const message = error instanceof Error ? error.message : String(error);
  try {
    const report = JSON.parse(message) as { errors?: { interaction?: string }[] };
    return (report.errors ?? []).flatMap((e) => (e.interaction === undefined ? [] : [e.interaction]));
  } catch {
    return [];
  }
}

/** Provider state setups (scripts/lib/pact-provider-states.ts) as the Verifier's state handlers. */
export function asStateHandlers(states: Readonly<Record<string, ProviderStateSetup>>): Record<string, StateHandler> {
  return Object.fromEntries(
    Object.entries(states).map(([name, setup]) => [name, (params?: unknown) => setup((params ?? {}) as StateParams)]),
  );
}
