/**
 * The steps of `npm run release` (scripts/release.ts), in order, each a command of this repository, and what a dry
 * run changes in each: the cheap gates first (breaking contracts, pacts, can-i-deploy), then the full suite, then
 * what is built and recorded. Nothing that tags or records runs before every gate has passed.
 */
const TSX = [process.execPath, "--import", "tsx"];

export const STEP_NAMES = ["breaking", "pacts", "can-i-deploy", "test", "images", "chart", "sdk", "record"] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface ReleaseStep {
  /** What the step checks or makes, one line. */
  readonly what: string;
  readonly command: readonly string[];
}

export interface ReleaseOptions {
  readonly version: string;
  /** `<version>-<git revision>[-dirty]`: what the images are tagged and the matrix rows name. */
  readonly providerVersion: string;
  readonly dryRun: boolean;
  /** The record step pushes its commit and tag to origin (never in a dry run). */
  readonly push: boolean;
  /** The verification matrix the pacts step writes and can-i-deploy reads (a throwaway copy in a dry run). */
  readonly matrix: string;
  /** The run's temporary directory. */
  readonly work: string;
}

export function releaseSteps(o: ReleaseOptions): Record<StepName, ReleaseStep> {
  const dry = o.dryRun ? ["--dry-run"] : [];
  return {
    breaking: {
      what: "no contract change breaks the last release (contracts/releases.txt or the newest contracts-v* tag)",
      command: [...TSX, "scripts/contracts-breaking.ts"],
    },
    pacts: {
      what: "every consumer pact, today's and the last release's, verified against the real providers; rows recorded",
      command: [...TSX, "scripts/pact-verify.ts", "--matrix", o.matrix, "--provider-version", o.providerVersion],
    },
    "can-i-deploy": {
      what: `${o.providerVersion} verified against every consumer version it must honour (the matrix, or the broker)`,
      command: [...TSX, "scripts/can-i-deploy.ts", "--matrix", o.matrix, "--provider-version", o.providerVersion],
    },
    test: { what: "the full suite", command: ["npm", "test"] },
    images: {
      what: o.dryRun
        ? "the images built under charter-dry-run/, then those tags removed"
        : `the images built and tagged charter/<service>:${o.version} and :${o.providerVersion}`,
      command: [...TSX, "scripts/images.ts", "--version", o.version, ...dry],
    },
    chart: {
      what: "the Helm chart rendered and validated (helm lint, kubeconform, server-side dry run)",
      command: [...TSX, "scripts/chart-check.ts"],
    },
    sdk: {
      what: o.dryRun
        ? "npm pack --dry-run of the SDK (nothing written)"
        : "the SDK packed with npm pack (not published)",
      command: [...TSX, "scripts/sdk-pack.ts", "--version", o.version, ...dry],
    },
    record: {
      what: o.dryRun ? "the release line shown, not written" : "the release recorded in contracts/releases.txt",
      command: [...TSX, "scripts/release-record.ts", "--version", o.version, ...dry, ...(o.push ? ["--push"] : [])],
    },
  };
}

const isStep = (name: string): name is StepName => (STEP_NAMES as readonly string[]).includes(name);

/** The steps to run: all, `from` onwards, up `to` one, or `only` one. */
export function selectSteps(o: {
  from?: string | undefined;
  to?: string | undefined;
  only?: string | undefined;
}): StepName[] {
  for (const [flag, name] of Object.entries(o)) {
    if (name !== undefined && !isStep(name)) throw new Error(`--${flag} ${name}: no such step`);
  }
  if (o.only !== undefined) {
    if (o.from !== undefined || o.to !== undefined) throw new Error("--only takes no --from or --to");
    return [o.only as StepName];
  }
  const from = STEP_NAMES.indexOf((o.from ?? STEP_NAMES[0]) as StepName);
  const to = STEP_NAMES.indexOf((o.to ?? STEP_NAMES[STEP_NAMES.length - 1]) as StepName);
  if (from > to) throw new Error(`--from ${o.from} comes after --to ${o.to}`);
  return STEP_NAMES.slice(from, to + 1);
}
