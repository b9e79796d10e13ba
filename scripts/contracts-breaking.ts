/**
 * `npm run contracts:breaking`: compares each contract with the same file at a base git ref and
 * fails with a readable list of what breaks.
 *
 * Base ref: `BASE_REF` when set (a ref that does not resolve fails loudly), otherwise the newest
 * `contracts-v*` tag by version order, otherwise the last release recorded in
 * `contracts/releases.txt` (`<name> <commit>` a line; a clone without tags still has the commit,
 * so CI on a fresh clone judges changes against it). With neither (a fresh project) there is
 * nothing to compare and the gate passes, saying so.
 *
 * The contracts at the base ref are exported with `git archive` into a temporary directory, then:
 * - proto: `buf breaking` (the FILE rules of contracts/proto/buf.yaml);
 * - OpenAPI: oasdiff (OpenAPI 3.1; path-level parameters merged into each operation first), every
 *   change of level ERR breaks, WARN is listed only;
 * - GraphQL: @graphql-inspector/core `diff`, every BREAKING change breaks except the removal of a
 *   field, input field or enum value that was already @deprecated at the base ref;
 * - AsyncAPI: @asyncapi/diff on both documents parsed and dereferenced by @asyncapi/parser (the
 *   diff compares plain JSON, so a `$ref`ed payload would otherwise only change under
 *   /components, which it calls non-breaking). Its AsyncAPI 3 standard judges channels, messages
 *   and operations; it stops at `payload`/`headers`, so the gate adds rules for the schemas in
 *   them (ASYNCAPI_SCHEMA_RULES): removing or changing a property or a constraint breaks, a new
 *   optional property or a new description does not.
 * A new version (a `…v2` proto package, `/v2` paths, a new contract file) is an addition, so it
 * never breaks; removing or changing a published version does.
 *
 * The repository to check is the current one, or `CONTRACTS_ROOT` / the first argument (tests
 * point it at temporary repositories). Exit code: 0 passes, 1 something breaks, 2 the gate
 * could not run (bad BASE_REF, missing Go, a contract that does not parse).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { diff as asyncApiDiff } from "@asyncapi/diff";
import { Parser as AsyncApiParser } from "@asyncapi/parser";
import { type Change, ChangeType, CriticalityLevel, diff } from "@graphql-inspector/core";
import { buildSchema } from "graphql";
import { unescapePointerSegment } from "../platform/json-pointer.js";
import { cacheDir } from "./infra/steps.js";
import { repoRoot, runTool } from "./lib/proto-descriptor.js";

export const OASDIFF_VERSION = "v1.36.0";
const OASDIFF_MODULE = "github.com/oasdiff/oasdiff";
export const TAG_PATTERN = "contracts-v*";
export const RELEASES_FILE = "contracts/releases.txt";

/** A failure of the gate itself (not a breaking change): printed as is, exit code 2. */
export class GateError extends Error {}

export interface ContractResult {
  /** e.g. "proto (contracts/proto)" or "OpenAPI contracts/openapi/users.v1.yaml". */
  readonly contract: string;
  /** What breaks, one readable line each. */
  readonly breaking: string[];
  /** Changes that do not fail the gate but are worth reading (deprecated removals, warnings). */
  readonly notes: string[];
}

export interface BreakingReport {
  /** The ref compared against; undefined when there is none (no contracts-v* tag). */
  readonly baseRef: string | undefined;
  readonly message: string;
  readonly results: ContractResult[];
}

function git(root: string, args: string[]): string {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function tryGit(root: string, args: string[]): string | undefined {
  const result = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** The newest contracts-v* tag by version order (contracts-v10 after contracts-v9), if any. */
export function newestContractsTag(root: string): string | undefined {
  const tags = tryGit(root, ["tag", "--list", TAG_PATTERN, "--sort=-v:refname"]);
  return tags?.split("\n").find((tag) => tag.length > 0);
}

/** The last release recorded in contracts/releases.txt (`<name> <commit>` lines; `#` starts a comment), if any. */
export function recordedRelease(root: string): { name: string; commit: string } | undefined {
  const path = join(root, RELEASES_FILE);
  if (!existsSync(path)) return undefined;
  const releases = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line.length > 0)
    .map((line, index) => {
      const [name, commit, ...rest] = line.split(/\s+/);
      if (name === undefined || commit === undefined || rest.length > 0 || !/^[0-9a-f]{7,40}$/.test(commit)) {
        throw new GateError(`${RELEASES_FILE}: entry ${index + 1} is not "<name> <commit>": ${line}`);
      }
      return { name, commit };
    });
  return releases.at(-1);
}

function resolveBase(root: string, baseRef: string | undefined): { ref: string; commit: string } | string {
  const inRepo = tryGit(root, ["rev-parse", "--git-dir"]) !== undefined;
  if (baseRef !== undefined) {
    if (!inRepo) throw new GateError(`BASE_REF=${baseRef} is set but ${root} is not a git repository.`);
    const commit = tryGit(root, ["rev-parse", "--verify", "--quiet", `${baseRef}^{commit}`]);
    if (commit === undefined) {
      const shallow = tryGit(root, ["rev-parse", "--is-shallow-repository"]) === "true";
      throw new GateError(
        `BASE_REF=${baseRef} does not name a commit in ${root}.` +
          (shallow ? " This clone is shallow: `git fetch --unshallow --tags`, then run again." : "") +
          " Use a tag, branch or commit that exists (`git tag --list 'contracts-v*'` shows the contract tags).",
      );
    }
    return { ref: baseRef, commit };
  }
  if (!inRepo) return `${root} is not a git repository: no contracts-v* tag to compare with; nothing checked.`;
  const tag = newestContractsTag(root);
  if (tag !== undefined) return { ref: tag, commit: git(root, ["rev-parse", `${tag}^{commit}`]) };
  const release = recordedRelease(root);
  if (release !== undefined) {
    const commit = tryGit(root, ["rev-parse", "--verify", "--quiet", `${release.commit}^{commit}`]);
    if (commit === undefined) {
      throw new GateError(
        `${RELEASES_FILE} names release ${release.name} at ${release.commit}, which is not a commit of this clone` +
          " (a shallow clone? `git fetch --unshallow`, then run again).",
      );
    }
    return { ref: `${release.name} (${RELEASES_FILE})`, commit };
  }
  return (
    `no contracts-v* tag and no release in ${RELEASES_FILE} yet: nothing to compare with, ` +
    "so no contract change can break a release. Record the first one (see docs/contracts.md, Breaking-change gates)."
  );
}

/** Writes the commit's contracts/ into dir (dir/contracts/...); false when the commit has none. */
function exportContracts(root: string, commit: string, dir: string): boolean {
  if (tryGit(root, ["ls-tree", "-d", "--name-only", commit, "contracts"]) !== "contracts") return false;
  const archive = spawnSync("git", ["archive", "--format=tar", commit, "contracts"], {
    cwd: root,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new GateError(`git archive ${commit} contracts failed:\n${archive.stderr}`);
  execFileSync("tar", ["-x", "-C", dir], { input: archive.stdout, stdio: ["pipe", "ignore", "pipe"] });
  return true;
}

function filesIn(dir: string, extensions: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => extensions.some((ext) => name.endsWith(ext)))
    .sort();
}

// ── proto ────────────────────────────────────────────────────────────────────────────────────

function checkProto(root: string, base: string): ContractResult {
  const current = join(root, "contracts", "proto");
  const contract = "proto (contracts/proto, buf breaking)";
  if (!existsSync(join(base, "buf.yaml"))) {
    return { contract, breaking: [], notes: ["no buf module at the base ref: nothing to compare"] };
  }
  if (!existsSync(join(current, "buf.yaml"))) {
    return { contract, breaking: ["contracts/proto was removed: every published package breaks"], notes: [] };
  }
  try {
    runTool("buf", ["breaking", "contracts/proto", "--against", base, "--error-format=text"], root);
    return { contract, breaking: [], notes: [] };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string; message: string };
    const lines = `${e.stdout ?? ""}`
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    // buf exits 100 when it found breaking changes; anything else means it could not compare.
    if (e.status !== 100 || lines.length === 0) {
      throw new GateError(`buf breaking could not compare contracts/proto:\n${e.stderr ?? ""}${e.stdout ?? ""}`);
    }
    return { contract, breaking: lines.map(describeBufLine), notes: [] };
  }
}

/** "charter/users/v1/users.proto:30:1:Previously present field …" → "charter/users/v1/users.proto:30: Previously …". */
function describeBufLine(line: string): string {
  const match = /^(.+?):(\d+):\d+:(.*)$/.exec(line);
  return match ? `${match[1]}:${match[2]}: ${match[3]}` : line;
}

// ── OpenAPI ──────────────────────────────────────────────────────────────────────────────────

/** The oasdiff binary, installed once into the cache (scripts/infra/steps.ts cacheDir) with `go install` at a pinned version. */
export function ensureOasdiff(): string {
  const dir = join(cacheDir(), `oasdiff-${OASDIFF_VERSION}`);
  const binary = join(dir, "oasdiff");
  if (existsSync(binary)) return binary;
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    throw new GateError(
      `The OpenAPI gate needs oasdiff ${OASDIFF_VERSION}, installed with Go, and \`go\` was not found on PATH.\n` +
        "Fix: install Go 1.21 or newer (https://go.dev/dl/ or `apt-get install golang-go`; it fetches the newer " +
        "toolchain oasdiff needs by itself), or put an " +
        `oasdiff ${OASDIFF_VERSION} binary at ${binary}.`,
    );
  }
  console.error(`installing oasdiff ${OASDIFF_VERSION} into ${dir} (once) with ${go.stdout.trim()} …`);
  mkdirSync(dirname(dir), { recursive: true });
  // Build into a fresh directory and rename it into place, so concurrent runs never see half a binary.
  const staging = mkdtempSync(`${dir}.tmp-`);
  try {
    const install = spawnSync("go", ["install", `${OASDIFF_MODULE}@${OASDIFF_VERSION}`], {
      encoding: "utf8",
      env: { ...process.env, GOBIN: staging, CGO_ENABLED: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (install.status !== 0) {
      throw new GateError(
        `go install ${OASDIFF_MODULE}@${OASDIFF_VERSION} failed (it needs the Go module proxy or a filled module cache):\n` +
          `${install.stderr}${install.stdout}`,
      );
    }
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another run installed it first: theirs is as good as ours.
      if (!existsSync(binary)) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!existsSync(binary)) throw new GateError(`go install did not produce ${binary}`);
  return binary;
}

interface OasdiffChange {
  readonly id: string;
  readonly text: string;
  readonly level: number;
  readonly operation?: string;
  readonly path?: string;
}

const OASDIFF_ERR = 3;
const OASDIFF_WARN = 2;

function checkOpenApi(name: string, currentFile: string, baseFile: string): ContractResult {
  const contract = `OpenAPI contracts/openapi/${name} (oasdiff)`;
  if (!existsSync(baseFile)) return { contract, breaking: [], notes: ["new at this revision: nothing to compare"] };
  if (!existsSync(currentFile)) {
    return { contract, breaking: [`contracts/openapi/${name} was removed: every operation in it breaks`], notes: [] };
  }
  const result = spawnSync(
    ensureOasdiff(),
    ["breaking", baseFile, currentFile, "--format", "json", "--flatten-params"],
    {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) {
    throw new GateError(`oasdiff could not compare contracts/openapi/${name}:\n${result.stderr}${result.stdout}`);
  }
  const changes = JSON.parse(result.stdout || "[]") as OasdiffChange[];
  const line = (c: OasdiffChange) => `${c.operation ?? ""} ${c.path ?? ""}: ${c.text} [${c.id}]`.trim();
  return {
    contract,
    breaking: changes.filter((c) => c.level >= OASDIFF_ERR).map(line),
    notes: changes.filter((c) => c.level === OASDIFF_WARN).map((c) => `warning: ${line(c)}`),
  };
}

// ── GraphQL ──────────────────────────────────────────────────────────────────────────────────

/** A removal that was announced: the field, input field or enum value was @deprecated at the base ref. */
function removedAfterDeprecation(change: Change): boolean {
  const meta = change.meta as Record<string, unknown>;
  switch (change.type) {
    case ChangeType.FieldRemoved:
      return meta.isRemovedFieldDeprecated === true;
    case ChangeType.InputFieldRemoved:
      return meta.isInputFieldDeprecated === true;
    case ChangeType.EnumValueRemoved:
      return meta.isEnumValueDeprecated === true;
    default:
      return false;
  }
}

async function checkGraphql(name: string, currentFile: string, baseFile: string): Promise<ContractResult> {
  const contract = `GraphQL contracts/graphql/${name} (graphql-inspector)`;
  if (!existsSync(baseFile)) return { contract, breaking: [], notes: ["new at this revision: nothing to compare"] };
  if (!existsSync(currentFile)) {
    return { contract, breaking: [`contracts/graphql/${name} was removed: every type in it breaks`], notes: [] };
  }
  const schema = (file: string, at: string) => {
    try {
      return buildSchema(readFileSync(file, "utf8"));
    } catch (error) {
      throw new GateError(`contracts/graphql/${name} ${at} does not build: ${(error as Error).message}`);
    }
  };
  const changes = await diff(schema(baseFile, "at the base ref"), schema(currentFile, "in the working tree"));
  const breaking: string[] = [];
  const notes: string[] = [];
  for (const change of changes) {
    const where = change.path ? `${change.path}: ` : "";
    // The first sentence of graphql-inspector's reason says why; the rest is general advice.
    const why = change.criticality.reason?.split(/(?<=\.)\s/)[0];
    const reason = why ? ` (${why})` : "";
    if (change.criticality.level === CriticalityLevel.Breaking) {
      if (removedAfterDeprecation(change)) notes.push(`allowed, deprecated at the base ref: ${where}${change.message}`);
      else breaking.push(`${where}${change.message}${reason} [${change.type}]`);
    } else if (change.criticality.level === CriticalityLevel.Dangerous) {
      notes.push(`dangerous: ${where}${change.message}${reason}`);
    }
  }
  return { contract, breaking, notes };
}

// ── AsyncAPI ─────────────────────────────────────────────────────────────────────────────────

type Classification = "breaking" | "non-breaking" | "unclassified";
interface Classifier {
  add: Classification;
  remove: Classification;
  edit: Classification;
}
const BREAKS: Classifier = { add: "breaking", remove: "breaking", edit: "breaking" };
const DOCUMENTS: Classifier = { add: "non-breaking", remove: "non-breaking", edit: "non-breaking" };
/** How deep the schema rules reach below a payload or headers (nested properties / items). */
const SCHEMA_RULE_DEPTH = 6;

/**
 * Rules for the JSON Schema of a message's payload and headers, as @asyncapi/diff overrides
 * (JSON pointers with `*` for any one segment; an exact key wins over `*`). Its own standard
 * stops at `/channels/* /messages/* /payload`, so every change inside a schema would be
 * "unclassified". Here: a new property is an addition; removing or changing one, any change to
 * `required`, and any other keyword (type, format, pattern, limits, enum, additionalProperties…)
 * breaks; documentation keywords never do; a new enum value is listed, not failed (consumers
 * that switch over the values may need to learn it).
 */
export function asyncApiSchemaRules(): Record<string, Classifier> {
  const rules: Record<string, Classifier> = {};
  const visit = (schema: string, depth: number) => {
    rules[`${schema}/*`] = BREAKS;
    rules[`${schema}/properties`] = { add: "non-breaking", remove: "breaking", edit: "breaking" };
    rules[`${schema}/properties/*`] = { add: "non-breaking", remove: "breaking", edit: "breaking" };
    rules[`${schema}/required`] = BREAKS;
    rules[`${schema}/required/*`] = BREAKS;
    rules[`${schema}/enum/*`] = { add: "unclassified", remove: "breaking", edit: "breaking" };
    for (const keyword of ["title", "description", "examples", "$comment", "deprecated"]) {
      rules[`${schema}/${keyword}`] = DOCUMENTS;
    }
    rules[`${schema}/examples/*`] = DOCUMENTS;
    if (depth < SCHEMA_RULE_DEPTH) {
      visit(`${schema}/properties/*`, depth + 1);
      visit(`${schema}/items`, depth + 1);
    }
  };
  for (const part of ["payload", "headers"]) visit(`/channels/*/messages/*/${part}`, 0);
  return rules;
}

/** The parser's own annotations (`x-parser-schema-id`, …) are not part of the contract. */
function withoutParserAnnotations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutParserAnnotations);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith("x-parser-"))
      .map(([key, inner]) => [key, withoutParserAnnotations(inner)]),
  );
}

async function dereferencedAsyncApi(file: string, label: string): Promise<Record<string, unknown>> {
  const { document, diagnostics } = await new AsyncApiParser().parse(readFileSync(file, "utf8"), { source: file });
  const errors = diagnostics.filter((d) => d.severity === 0);
  if (document === undefined || errors.length > 0) {
    const lines = errors.map((d) => `${d.path.join(".") || "(root)"}: ${d.message}`);
    throw new GateError(`${label} does not parse as AsyncAPI:\n${lines.join("\n")}`);
  }
  // json() is the dereferenced document; the round trip through JSON fails loudly on a cycle.
  return withoutParserAnnotations(JSON.parse(JSON.stringify(document.json()))) as Record<string, unknown>;
}

function pointerGet(document: unknown, pointer: string): unknown {
  let value = document;
  for (const raw of pointer.split("/").slice(1)) {
    const key = unescapePointerSegment(raw);
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

interface AsyncApiChange {
  readonly action: "add" | "remove" | "edit";
  readonly path: string;
  readonly type: Classification;
  readonly isArrayIndex?: boolean;
}

/**
 * A dereferenced operation repeats its channel and messages, and /components repeats what the
 * channels use: a change there is the same change as under /channels, judged there.
 */
function isCopy(path: string): boolean {
  return path.startsWith("/components/") || /^\/operations\/[^/]+\/(channel|messages)\/./.test(path);
}

async function checkAsyncApi(name: string, currentFile: string, baseFile: string): Promise<ContractResult> {
  const contract = `AsyncAPI contracts/asyncapi/${name} (@asyncapi/diff)`;
  if (!existsSync(baseFile)) return { contract, breaking: [], notes: ["new at this revision: nothing to compare"] };
  if (!existsSync(currentFile)) {
    return { contract, breaking: [`contracts/asyncapi/${name} was removed: every channel in it breaks`], notes: [] };
  }
  const before = await dereferencedAsyncApi(baseFile, `contracts/asyncapi/${name} at the base ref`);
  const after = await dereferencedAsyncApi(currentFile, `contracts/asyncapi/${name} in the working tree`);
  const major = (doc: Record<string, unknown>) => String(doc.asyncapi ?? "").split(".")[0];
  if (major(before) !== major(after)) {
    return {
      contract,
      breaking: [`the document moved from AsyncAPI ${before.asyncapi} to ${after.asyncapi}: publish it as a new file`],
      notes: [],
    };
  }
  // The option is `override` (the README's `overrides` is ignored by 0.5.0's code).
  const output = asyncApiDiff(before, after, { override: asyncApiSchemaRules() } as never).getOutput() as {
    changes: AsyncApiChange[];
  };
  const breaking: string[] = [];
  const notes: string[] = [];
  const seenArrays = new Set<string>();
  for (const change of output.changes) {
    if (change.type === "non-breaking" || (change.type === "unclassified" && isCopy(change.path))) continue;
    let line: string;
    if (change.isArrayIndex || /\/required\/\d+$/.test(change.path)) {
      // One line per changed list (`required`, `enum`, …) instead of one per shifted index.
      const list = change.path.slice(0, change.path.lastIndexOf("/"));
      if (seenArrays.has(`${change.type} ${list}`)) continue;
      seenArrays.add(`${change.type} ${list}`);
      const show = (doc: unknown) => JSON.stringify(pointerGet(doc, list) ?? null);
      line = `${list} changed: ${show(before)} → ${show(after)}`;
    } else {
      const verb = { add: "added", remove: "removed", edit: "changed" }[change.action];
      line = `${change.path} ${verb}`;
    }
    if (change.type === "breaking") breaking.push(line);
    else notes.push(`unclassified: ${line}`);
  }
  return { contract, breaking, notes };
}

// ── the gate ─────────────────────────────────────────────────────────────────────────────────

export async function checkBreaking(root: string, baseRef: string | undefined): Promise<BreakingReport> {
  const base = resolveBase(root, baseRef);
  if (typeof base === "string") return { baseRef: undefined, message: base, results: [] };
  const work = mkdtempSync(join(tmpdir(), "charter-contracts-base-"));
  try {
    if (!exportContracts(root, base.commit, work)) {
      return {
        baseRef: base.ref,
        message: `${base.ref} (${base.commit.slice(0, 12)}) has no contracts/: nothing to compare.`,
        results: [],
      };
    }
    const baseContracts = join(work, "contracts");
    const currentContracts = join(root, "contracts");
    const results: ContractResult[] = [checkProto(root, join(baseContracts, "proto"))];
    const names = (sub: string, ext: readonly string[]) => [
      ...new Set([...filesIn(join(baseContracts, sub), ext), ...filesIn(join(currentContracts, sub), ext)]),
    ];
    for (const name of names("openapi", [".yaml", ".yml", ".json"]).sort()) {
      results.push(checkOpenApi(name, join(currentContracts, "openapi", name), join(baseContracts, "openapi", name)));
    }
    for (const name of names("graphql", [".graphql", ".graphqls"]).sort()) {
      results.push(
        await checkGraphql(name, join(currentContracts, "graphql", name), join(baseContracts, "graphql", name)),
      );
    }
    for (const name of names("asyncapi", [".yaml", ".yml", ".json"]).sort()) {
      results.push(
        await checkAsyncApi(name, join(currentContracts, "asyncapi", name), join(baseContracts, "asyncapi", name)),
      );
    }
    return {
      baseRef: base.ref,
      message: `contracts compared with ${base.ref} (${base.commit.slice(0, 12)})`,
      results,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function formatReport(report: BreakingReport): string {
  const out = [report.message];
  for (const result of report.results) {
    const verdict = result.breaking.length === 0 ? "ok" : `${result.breaking.length} breaking`;
    out.push("", `${result.contract}: ${verdict}`);
    for (const line of result.breaking) out.push(`  ✖ ${line}`);
    for (const line of result.notes) out.push(`  · ${line}`);
  }
  const broken = report.results.filter((r) => r.breaking.length > 0);
  if (broken.length > 0) {
    out.push(
      "",
      `Breaking changes against ${report.baseRef}. Published contracts only grow: add the change as a new version ` +
        "(a …v2 proto package, /v2 paths, a new GraphQL field), deprecate the old one, and remove it only after a " +
        "release that marks it deprecated.",
    );
  }
  return out.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const root = resolve(process.argv[2] ?? process.env.CONTRACTS_ROOT ?? repoRoot);
  const baseRef = process.env.BASE_REF === "" ? undefined : process.env.BASE_REF;
  try {
    const report = await checkBreaking(root, baseRef);
    const failed = report.results.some((r) => r.breaking.length > 0);
    (failed ? console.error : console.log)(formatReport(report));
    process.exitCode = failed ? 1 : 0;
  } catch (error) {
    const detail = error instanceof GateError ? error.message : (error as Error).stack;
    console.error(`contracts:breaking cannot run: ${detail}`);
    process.exitCode = 2;
  }
}
