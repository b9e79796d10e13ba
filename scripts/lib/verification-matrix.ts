/**
 * The verification matrix: which consumer version's pact was verified against which provider version, with what
 * result — written by the pact verification (scripts/pact-verify.ts --matrix), read by can-i-deploy
 * (scripts/can-i-deploy.ts). The file is generated, not committed (.cache/verification-matrix.json by default,
 * gitignored): its rows are about a provider version the pipeline has just built, a commit of them would itself
 * change that version, and a fresh clone verifies again anyway. What must outlive a run — which consumer versions
 * are released — follows from what is committed: the pacts at the last release (contracts/releases.txt or the
 * newest contracts-v* tag, as the breaking-change gate reads it).
 *
 * Versions. A provider version is what the images are tagged with: `<version>-<git revision>[-dirty]`. A consumer
 * version is the content of its pact: the git blob id of the pact file (12 hex digits). The consumers here are the
 * SDK, a GraphQL web client and the audit service; only the pact says what each relies on, so two releases with the
 * same pact are the same consumer version, and one verification serves both.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { newestContractsTag, recordedRelease } from "../contracts-breaking.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Where the matrix is kept between runs unless --matrix names another file. */
export const DEFAULT_MATRIX = join(ROOT, ".cache", "verification-matrix.json");
export const PACTS = "pacts";

export interface MatrixRow {
  readonly consumer: string;
  readonly consumerVersion: string;
  readonly provider: string;
  readonly providerVersion: string;
  readonly result: "success" | "failure";
  /** ISO time of the verification. */
  readonly verifiedAt: string;
  /** The pact verified: its path, and the release it was taken from when it is not the working tree's. */
  readonly pact: string;
}

export interface Matrix {
  readonly rows: readonly MatrixRow[];
}

export function readMatrix(path: string): Matrix {
  if (!existsSync(path)) return { rows: [] };
  const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<Matrix>;
  if (!Array.isArray(parsed.rows)) throw new Error(`${path} is not a verification matrix (no "rows" list)`);
  return { rows: parsed.rows };
}

const key = (r: Pick<MatrixRow, "consumer" | "consumerVersion" | "provider" | "providerVersion">) =>
  [r.consumer, r.consumerVersion, r.provider, r.providerVersion].join("\u0000");

/** Adds the rows to the matrix file; a new row replaces an older one of the same consumer and provider versions. */
export function recordRows(path: string, rows: readonly MatrixRow[]): void {
  const byKey = new Map(readMatrix(path).rows.map((row) => [key(row), row]));
  for (const row of rows) byKey.set(key(row), row);
  mkdirSync(dirname(path), { recursive: true });
  const sorted = [...byKey.values()].sort((a, b) => a.verifiedAt.localeCompare(b.verifiedAt));
  writeFileSync(`${path}.tmp-${process.pid}`, `${JSON.stringify({ rows: sorted }, null, 2)}\n`);
  renameSync(`${path}.tmp-${process.pid}`, path);
}

/** A consumer version the provider version must have been verified against to be deployed. */
export interface RequiredPact {
  readonly consumer: string;
  readonly consumerVersion: string;
  readonly provider: string;
  /** Why it is required: "in this release" or "released in contracts-v3". */
  readonly why: string;
}

export interface Decision {
  readonly deployable: boolean;
  /** One line per required pact: what was found. */
  readonly lines: readonly string[];
  /** Why not (empty when deployable). */
  readonly reasons: readonly string[];
}

/**
 * Whether `providerVersion` can be deployed: every required consumer version has a successful verification against
 * exactly that provider version in the matrix. A missing row is a no, as surely as a failed one.
 */
export function decide(matrix: Matrix, providerVersion: string, required: readonly RequiredPact[]): Decision {
  const lines: string[] = [];
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (const need of required) {
    const wanted = { ...need, providerVersion };
    if (seen.has(key(wanted))) continue;
    seen.add(key(wanted));
    const row = matrix.rows.find((r) => key(r) === key(wanted));
    const pair = `${need.consumer} ${need.consumerVersion} (${need.why}) → ${need.provider} ${providerVersion}`;
    if (row === undefined) {
      reasons.push(`${pair}: never verified`);
      lines.push(`✖ ${pair}: no verification recorded`);
    } else if (row.result !== "success") {
      reasons.push(`${pair}: verification failed at ${row.verifiedAt}`);
      lines.push(`✖ ${pair}: failed (${row.verifiedAt})`);
    } else {
      lines.push(`✔ ${pair}: verified (${row.verifiedAt})`);
    }
  }
  if (seen.size === 0) reasons.push(`no consumer pact names the provider(s): nothing says what they must honour`);
  return { deployable: reasons.length === 0, lines, reasons };
}

// ── versions from git ────────────────────────────────────────────────────────────────────────

function git(root: string, args: readonly string[]): string {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** `<version>-<revision>[-dirty]`: the tag the images of this tree get (scripts/images/build.ts). */
export function providerVersion(root: string, version: string): string {
  const revision = git(root, ["rev-parse", "--short=12", "HEAD"]);
  const dirty = git(root, ["status", "--porcelain", "--untracked-files=no"]) !== "";
  return `${version}-${revision}${dirty ? "-dirty" : ""}`;
}

export const packageVersion = (root: string): string =>
  (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

/** A pact to verify: its file (working tree or extracted from a release), consumer, provider and consumer version. */
export interface PactToVerify extends RequiredPact {
  /** The file to give the verifier. */
  readonly file: string;
  /** How it is named in the matrix and in messages. */
  readonly pact: string;
}

interface PactHeader {
  consumer?: { name?: string };
  provider?: { name?: string };
}

const contentVersion = (blob: string) => blob.slice(0, 12);

/** The pacts in the working tree's pacts/ whose provider is one of `providers`. */
export function currentPacts(root: string, providers: readonly string[]): PactToVerify[] {
  const dir = join(root, PACTS);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .flatMap((name) => {
      const file = join(dir, name);
      const pact = JSON.parse(readFileSync(file, "utf8")) as PactHeader;
      const provider = pact.provider?.name;
      if (provider === undefined || !providers.includes(provider)) return [];
      return [
        {
          consumer: pact.consumer?.name ?? "(unnamed consumer)",
          consumerVersion: contentVersion(git(root, ["hash-object", file])),
          provider,
          why: "in this release",
          file,
          pact: `${PACTS}/${name}`,
        },
      ];
    });
}

/**
 * The last release as the breaking-change gate reads it: the newest contracts-v* tag, else the last line of
 * contracts/releases.txt; undefined when there is none yet.
 */
export function lastRelease(root: string): { name: string; commit: string } | undefined {
  const tag = newestContractsTag(root);
  if (tag !== undefined) return { name: tag, commit: git(root, ["rev-parse", `${tag}^{commit}`]) };
  const recorded = recordedRelease(root);
  if (recorded === undefined) return undefined;
  const commit = spawnSync("git", ["rev-parse", "--verify", "--quiet", `${recorded.commit}^{commit}`], {
    cwd: root,
    encoding: "utf8",
  });
  if (commit.status !== 0) {
    throw new Error(
      `contracts/releases.txt names ${recorded.name} at ${recorded.commit}, which this clone lacks ` +
        "(a shallow clone? `git fetch --unshallow`, then run again)",
    );
  }
  return { name: recorded.name, commit: commit.stdout.trim() };
}

/**
 * The pacts of the last release whose provider is one of `providers`, written into `dir` (their consumers are out
 * there: the SDK in users' hands, the audit service running until it is replaced).
 */
export function releasedPacts(root: string, providers: readonly string[], dir: string): PactToVerify[] {
  const release = lastRelease(root);
  if (release === undefined) return [];
  const listed = spawnSync("git", ["ls-tree", "--format=%(objectname) %(path)", release.commit, `${PACTS}/`], {
    cwd: root,
    encoding: "utf8",
  });
  if (listed.status !== 0) return []; // no pacts/ at that release
  mkdirSync(dir, { recursive: true });
  return listed.stdout
    .split("\n")
    .filter((line) => line.endsWith(".json"))
    .flatMap((line) => {
      const [blob = "", path = ""] = line.split(" ");
      const text = git(root, ["cat-file", "blob", blob]);
      const pact = JSON.parse(text) as PactHeader;
      const provider = pact.provider?.name;
      if (provider === undefined || !providers.includes(provider)) return [];
      const file = join(dir, `${release.name}-${path.slice(PACTS.length + 1)}`);
      writeFileSync(file, text);
      return [
        {
          consumer: pact.consumer?.name ?? "(unnamed consumer)",
          consumerVersion: contentVersion(blob),
          provider,
          why: `released in ${release.name}`,
          file,
          pact: `${path} at ${release.name}`,
        },
      ];
    });
}

/** Current and released pacts, each consumer version once (an unchanged pact is the same version). */
export function pactsToVerify(root: string, providers: readonly string[], releasedDir: string): PactToVerify[] {
  const all = [...currentPacts(root, providers), ...releasedPacts(root, providers, releasedDir)];
  const seen = new Set<string>();
  return all.filter((p) => {
    const id = `${p.consumer}\u0000${p.consumerVersion}\u0000${p.provider}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The consumer versions a provider version must honour: those of this release and those of the last one. */
export function requiredPacts(root: string, providers: readonly string[], releasedDir: string): RequiredPact[] {
  return [...currentPacts(root, providers), ...releasedPacts(root, providers, releasedDir)].map(
    ({ consumer, consumerVersion, provider, why }) => ({ consumer, consumerVersion, provider, why }),
  );
}
