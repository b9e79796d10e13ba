/**
 * `npm run perf:flamegraphs`: where the time of one gateway read and one write goes (issue 17), end to end across the
 * gateway and users processes. Runs `npm run bench` twice with BENCH_PROFILE=1, once for row (b) (GET
 * /v1/users/{id}, a cache hit) and once for row (c) (POST /v1/users), then turns each process's main-thread
 * profile into collapsed stacks (scripts/perf/cpuprofile-to-folded.ts), those into an SVG flame graph with inferno
 * (docs/perf/gateway-get.svg, users-get.svg, gateway-post.svg, users-post.svg), and prints the cost table of
 * docs/benchmarks.md: each category's samples as a share of the request's CPU in both processes.
 *
 * PERF_GET_DIR=<dir> / PERF_POST_DIR=<dir> reuse the profiles of an earlier BENCH_PROFILE=1 run of (b) / (c) instead
 * of running the bench; PERF_OUT=<dir> writes the SVGs elsewhere than docs/perf/.
 *
 * inferno (the Rust port of FlameGraph) is built once with `cargo install inferno --version <pinned> --locked` into
 * ~/.cache/charter/inferno-<version>/ (about a minute on two cores); put an inferno-flamegraph of that version at
 * ~/.cache/charter/inferno-<version>/bin/inferno-flamegraph to skip the build.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir, lastLines, publish, runChecked, runCommand, timedStep } from "./infra/steps.js";
import { type Analysis, analyze, CATEGORIES, type Category, readProfile } from "./perf/cpuprofile-to-folded.js";

const INFERNO_VERSION = "0.12.3";
const root = new URL("..", import.meta.url).pathname;
const infernoDir = join(cacheDir(), `inferno-${INFERNO_VERSION}`);
const flamegraphBin = join(infernoDir, "bin", "inferno-flamegraph");

async function provisionInferno(): Promise<string> {
  if (existsSync(flamegraphBin)) return flamegraphBin;
  const cargo = await runCommand("cargo", ["--version"]);
  if (cargo.code !== 0) {
    throw new Error(
      `inferno ${INFERNO_VERSION} is built from crates.io with cargo, and \`cargo\` was not found on PATH.\n` +
        "Fix: install Rust (https://rustup.rs: `curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh`), " +
        `or put an inferno-flamegraph ${INFERNO_VERSION} binary at ${flamegraphBin}.`,
    );
  }
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(join(cacheDir(), `inferno-${INFERNO_VERSION}.tmp-`));
  console.error(`provision: building inferno ${INFERNO_VERSION} once into ${infernoDir} with ${cargo.stdout.trim()}`);
  await timedStep(`cargo install inferno --version ${INFERNO_VERSION}`, () =>
    runChecked(
      `cargo install inferno ${INFERNO_VERSION} (needs crates.io)`,
      "cargo",
      ["install", "inferno", "--version", INFERNO_VERSION, "--locked", "--root", work],
      { env: { ...process.env, CARGO_TARGET_DIR: join(work, "target") }, timeoutMs: 20 * 60_000 },
    ),
  );
  await runCommand("rm", ["-rf", join(work, "target")]);
  await publish(work, infernoDir, (dir) => existsSync(join(dir, "bin", "inferno-flamegraph")));
  return flamegraphBin;
}

/** Runs one bench row under BENCH_PROFILE=1 and returns the directory of its profiles. */
async function profileRow(row: "b" | "c"): Promise<string> {
  const output = await timedStep(`BENCH_PROFILE=1 BENCH_ONLY=${row} npm run bench`, () =>
    runChecked(`BENCH_ONLY=${row} npm run bench`, "npm", ["run", "bench"], {
      cwd: root,
      env: { ...process.env, BENCH_PROFILE: "1", BENCH_ONLY: row },
    }),
  );
  const rowLine = output.split("\n").find((line) => line.startsWith(`| (${row})`));
  if (rowLine) console.error(rowLine);
  const dir = /CPU profiles \(.*\) in (\S+)/.exec(output)?.[1];
  if (!dir) throw new Error(`BENCH_ONLY=${row} npm run bench printed no profile directory:\n${lastLines(output)}`);
  return dir;
}

async function flamegraph(bin: string, analysis: Analysis, out: string, title: string): Promise<void> {
  const svg = await runChecked(
    "inferno-flamegraph",
    bin,
    [
      "--title",
      title,
      "--subtitle",
      "node --cpu-prof samples; idle and the process's start left out. Reproduce: npm run perf:flamegraphs",
      "--colors",
      "js",
      "--countname",
      "samples",
      "--minwidth",
      "0.5",
    ],
    { input: analysis.folded },
  );
  await writeFile(`${out}.svg`, svg);
}

const percent = (part: number, whole: number): string => (whole === 0 ? "—" : `${((100 * part) / whole).toFixed(1)} %`);

/** The markdown cost table of one request: each category's samples in both processes, as shares of their sum. */
function costTable(gateway: Analysis, users: Analysis): string {
  const outside = new Set<Category>(["idle", "start (module loading, tsx, schema compilation)"]);
  const busy = (analysis: Analysis) =>
    [...analysis.samples].filter(([category]) => !outside.has(category)).reduce((sum, [, count]) => sum + count, 0);
  const total = busy(gateway) + busy(users);
  const lines = [
    "| category | gateway | users service | end to end |",
    "|---|---|---|---|",
    ...CATEGORIES.filter((category) => !outside.has(category)).map((category) => {
      const g = gateway.samples.get(category) ?? 0;
      const u = users.samples.get(category) ?? 0;
      return `| ${category} | ${percent(g, total)} | ${percent(u, total)} | ${percent(g + u, total)} |`;
    }),
    `| **request CPU, both processes** | ${percent(busy(gateway), total)} | ${percent(busy(users), total)} | 100 % (${total} samples) |`,
    "",
    `Outside the shares: idle ${gateway.samples.get("idle")} (gateway) and ${users.samples.get("idle")} (users) ` +
      `samples; the processes' start ${gateway.samples.get("start (module loading, tsx, schema compilation)")} and ` +
      `${users.samples.get("start (module loading, tsx, schema compilation)")}. Sampling interval ≈ ` +
      `${Math.round(gateway.intervalUs)} µs.`,
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const bin = await timedStep(`inferno ${INFERNO_VERSION}`, provisionInferno);
  const getDir = process.env.PERF_GET_DIR || (await profileRow("b"));
  const postDir = process.env.PERF_POST_DIR || (await profileRow("c"));
  const out = process.env.PERF_OUT || join(root, "docs", "perf");
  await mkdir(out, { recursive: true });
  for (const [request, dir, what] of [
    ["get", getDir, "GET /v1/users/{id} (a cache hit), bench row (b)"],
    ["post", postDir, "POST /v1/users, bench row (c)"],
  ] as const) {
    const gateway = analyze(readProfile(join(dir, "gateway-default.cpuprofile")));
    const users = analyze(readProfile(join(dir, "users-default.cpuprofile")));
    await flamegraph(bin, gateway, join(out, `gateway-${request}`), `gateway process, ${what}`);
    await flamegraph(bin, users, join(out, `users-${request}`), `users service process, ${what}`);
    console.log(`\n${what} — profiles in ${dir}\n\n${costTable(gateway, users)}`);
  }
  console.log(`\nflame graphs in ${out}: gateway-get.svg, users-get.svg, gateway-post.svg, users-post.svg`);
}

await main();
