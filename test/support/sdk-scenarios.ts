/**
 * The TypeScript runner of the shared SDK scenario list (sdk/scenarios/users.json, its format in sdk/README.md):
 * each step's operation through the TypeScript SDK, its outcome checked against the step's `expect`. Run by
 * sdk/scenarios.test.ts against the live platform and by test/mocks-record.test.ts against a recording and its
 * replay.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isProblemError, type Result, type UsersClient } from "charter/sdk";

interface Expectation {
  readonly status: number;
  readonly body?: Record<string, unknown>;
  readonly problem?: string;
  readonly invalidFields?: readonly string[];
  readonly ids?: readonly string[];
  readonly pageSize?: number;
  readonly nextPageToken?: boolean;
}
interface Step {
  readonly op: string;
  readonly args: Record<string, unknown>;
  readonly save?: string;
  readonly expect: Expectation;
}
export interface Scenario {
  readonly name: string;
  readonly steps: readonly Step[];
}

/** The shared list, sdk/scenarios/users.json. */
export const scenarioList = JSON.parse(
  readFileSync(new URL("../../sdk/scenarios/users.json", import.meta.url), "utf8"),
) as { scenarios: Scenario[] };

/** Replaces ${email:tag}, ${EMAIL:tag} and ${saved.field} in every string of `value`. */
function substitute(value: unknown, emails: Map<string, string>, saved: Map<string, Record<string, unknown>>): unknown {
  if (Array.isArray(value)) return value.map((item) => substitute(item, emails, saved));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, emails, saved)]));
  }
  if (typeof value !== "string") return value;
  return value.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    const email = /^(email|EMAIL):(.+)$/.exec(name);
    if (email) {
      const tag = email[2] as string;
      if (!emails.has(tag)) emails.set(tag, `${tag}.${randomBytes(4).toString("hex")}@example.com`);
      const address = emails.get(tag) as string;
      return email[1] === "EMAIL" ? address.toUpperCase() : address;
    }
    const [step, field] = name.split(".", 2) as [string, string | undefined];
    const value = field === undefined ? undefined : saved.get(step)?.[field];
    if (value === undefined) throw new Error(`\${${name}}: no saved step "${step}" with a field "${field}"`);
    return String(value);
  });
}

type Outcome = { ok: true; status: number; body: unknown } | { ok: false; status: number; problem: unknown };

const fromResult = (result: Result<unknown>): Outcome =>
  result.ok
    ? { ok: true, status: result.status, body: result.data }
    : { ok: false, status: result.status, problem: result.problem };

/** One step's operation (named by its operationId) with the TypeScript SDK. */
async function perform(sdk: UsersClient, op: string, args: Record<string, unknown>): Promise<Outcome> {
  const ifMatch = args.ifMatch as string | undefined;
  switch (op) {
    case "createUser":
      return fromResult(await sdk.create(args.body as { name: string; email: string }));
    case "getUser":
      return fromResult(await sdk.get(args.id as string));
    case "lookupUser":
      return fromResult(await sdk.lookupUser((args.body as { email: string }).email));
    case "updateUser":
      return fromResult(await sdk.update(args.id as string, args.body as object, ifMatch ? { ifMatch } : {}));
    case "deleteUser":
      return fromResult(await sdk.delete(args.id as string, ifMatch ? { ifMatch } : {}));
    case "listUsers": {
      const paging = {
        ...(typeof args.pageSize === "number" ? { pageSize: args.pageSize } : {}),
        ...(typeof args.pageToken === "string" ? { pageToken: args.pageToken } : {}),
      };
      if (!args.allPages) return fromResult(await sdk.list(paging));
      try {
        const ids: string[] = [];
        for await (const user of sdk.listAll(paging)) ids.push(user.id);
        return { ok: true, status: 200, body: { ids } };
      } catch (error) {
        if (!isProblemError(error)) throw error;
        return { ok: false, status: error.status, problem: error.problem };
      }
    }
    default:
      throw new Error(`unknown operation ${op}`);
  }
}

function check(outcome: Outcome, expected: Expectation): void {
  const seen = JSON.stringify(outcome.ok ? outcome.body : outcome.problem);
  assert.equal(outcome.status, expected.status, `status ${outcome.status}, expected ${expected.status}: ${seen}`);
  if (expected.problem !== undefined) {
    assert.ok(!outcome.ok, `expected a problem, got ${seen}`);
    const problem = outcome.problem as { status: number; code: string; errors?: { field: string }[] };
    assert.equal(problem.code, expected.problem);
    assert.equal(problem.status, expected.status, "the problem repeats the HTTP status");
    const fields = (problem.errors ?? []).map((error) => error.field);
    for (const field of expected.invalidFields ?? []) assert.ok(fields.includes(field), `${field} in ${fields}`);
    return;
  }
  assert.ok(outcome.ok, `expected success, got ${seen}`);
  const body = (outcome.body ?? {}) as Record<string, unknown>;
  for (const [field, value] of Object.entries(expected.body ?? {})) assert.deepEqual(body[field], value, field);
  if (expected.ids) {
    const ids = body.ids as string[];
    assert.equal(new Set(ids).size, ids.length, "no user twice");
    assert.deepEqual(
      ids.filter((id) => expected.ids?.includes(id)),
      expected.ids,
    );
  }
  if (expected.pageSize !== undefined) assert.equal((body.users as unknown[]).length, expected.pageSize);
  if (expected.nextPageToken !== undefined) assert.equal(Boolean(body.nextPageToken), expected.nextPageToken);
}

/** Runs one scenario's steps in order with `sdk`; throws at the first step whose outcome differs, naming it. */
export async function runScenario(sdk: UsersClient, scenario: Scenario): Promise<void> {
  const emails = new Map<string, string>();
  const saved = new Map<string, Record<string, unknown>>();
  for (const [index, step] of scenario.steps.entries()) {
    const where = `step ${index + 1} (${step.op})`;
    const args = substitute(step.args, emails, saved) as Record<string, unknown>;
    const outcome = await perform(sdk, step.op, args);
    try {
      check(outcome, substitute(step.expect, emails, saved) as Expectation);
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
    }
    if (step.save && outcome.ok) saved.set(step.save, outcome.body as Record<string, unknown>);
  }
}
