/**
 * Faults of the mocks, the same on every protocol: per operation (the OpenAPI operationId, which each RPC and each
 * GraphQL root field mirrors), a documented error status answered at a rate, drawn from a seeded generator so that a
 * seed gives the same sequence every run. `MOCK_FAULTS='getUser=503@0.5,getUserStats=503'` (rate 1 when left out);
 * `MOCK_SEED` picks the sequence. Each operation draws from its own generator, so calls of one operation do not shift
 * another's sequence. The answer is the operation's documented problem of that status, in each protocol's error form.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { mersenne } from "pure-rand/generator/mersenne";
import { ConfigError } from "../platform/config.js";
import { AppError } from "../platform/errors.js";
import type { ContractExamples, Problem } from "./contract-examples.js";

/** The longest `Prefer: delay=<ms>` a mock waits. */
export const MAX_DELAY_MS = 10_000;

export interface FaultRule {
  readonly operationId: string;
  readonly problem: Problem;
  /** In (0, 1]: the share of calls that fail. */
  readonly rate: number;
}

/**
 * Reads MOCK_FAULTS: each `<operationId>=<status>[@<rate>]`, separated by commas, an operation of any of the
 * documents (the users document first, then every other service's); throws a ConfigError naming a bad one.
 */
export function parseFaults(
  text: string,
  examples: ContractExamples | readonly ContractExamples[],
  what = "MOCK_FAULTS",
): FaultRule[] {
  const documents: readonly ContractExamples[] = "routes" in examples ? [examples] : examples;
  const rules: FaultRule[] = [];
  for (const part of text.split(",")) {
    const entry = part.trim();
    if (entry === "") continue;
    const match = /^([A-Za-z][A-Za-z0-9]*)=(\d{3})(?:@(\d+(?:\.\d+)?))?$/.exec(entry);
    if (!match?.[1] || !match[2]) {
      throw new ConfigError(`${what}: cannot read ${JSON.stringify(entry)}; use <operationId>=<status>[@<rate>]`);
    }
    const id = match[1];
    const document = documents.find((d) => d.routes.some((route) => route.operationId === id));
    if (!document) throw new ConfigError(`${what}: ${JSON.stringify(id)} is no operationId of the contracts`);
    const operation = document.operation(id);
    const status = Number(match[2]);
    const problem = [...operation.problems.values()].find((p) => p.status === status);
    if (!problem) {
      const documented = [...operation.problems.values()].map((p) => p.status).join(", ");
      throw new ConfigError(`${what}: ${match[1]} documents no ${status}; it documents ${documented}`);
    }
    const rate = match[3] === undefined ? 1 : Number(match[3]);
    if (!(rate > 0 && rate <= 1)) throw new ConfigError(`${what}: the rate of ${match[1]} must be in (0, 1]`);
    rules.push({ operationId: match[1], problem, rate });
  }
  return rules;
}

export interface FaultInjector {
  /** The problem the operation's call answers with, or undefined when this call succeeds. */
  draw(operationId: string): Problem | undefined;
}

/** Draws faults from one seeded generator per operation (rate 1 never draws: it always fails). */
export function createFaultInjector(rules: readonly FaultRule[], seed: number): FaultInjector {
  const byOperation = new Map(
    rules.map((rule, index) => [rule.operationId, { rule, rng: mersenne((seed + index * 7919) | 0) }]),
  );
  return {
    draw(operationId) {
      const entry = byOperation.get(operationId);
      if (!entry) return undefined;
      if (entry.rule.rate >= 1) return entry.rule.problem;
      const roll = uniformInt(entry.rng, 0, 999_999) / 1_000_000;
      return roll < entry.rule.rate ? entry.rule.problem : undefined;
    },
  };
}

/** A drawn fault as the AppError gRPC and GraphQL answer with (the problem's code and detail). */
export const faultError = (problem: Problem): AppError =>
  new AppError(problem.code, problem.detail ?? problem.title, {});

/** Waits the preferred delay (already bounded by parsePrefer). */
export const delay = (ms: number | undefined): Promise<void> | undefined =>
  ms ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined;
