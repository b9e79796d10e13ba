/**
 * Keeps the committed pact files in pacts/ true. A consumer test writes its pact into a fresh
 * temp dir; `checkPactFile` then compares it with the committed file and fails with a line diff
 * when they differ. With UPDATE_PACTS=1 it copies the new file over the committed one instead
 * (`UPDATE_PACTS=1 npm run pact:consumer`).
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { getFfiLib } from "@pact-foundation/pact-core";

export const PACTS_DIR = fileURLToPath(new URL("../../pacts/", import.meta.url));
const REFRESH = "UPDATE_PACTS=1 npm run pact:consumer";

/** A temp dir for a consumer test's pact output; `remove()` deletes it. */
export function createPactOutput(): { readonly dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "charter-pacts-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The JSON of a pact file, re-indented so that a diff shows one value per line. */
function normalized(path: string): string[] {
  return JSON.stringify(JSON.parse(readFileSync(path, "utf8")), null, 2).split("\n");
}

/** A unified-style diff (longest common subsequence of lines), with `context` unchanged lines around each change. */
export function lineDiff(before: readonly string[], after: readonly string[], context = 3): string {
  const n = before.length;
  const m = after.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const next = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) {
      row[j] = before[i] === after[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
    }
  }
  const lines: { mark: " " | "-" | "+"; text: string; line: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      lines.push({ mark: " ", text: before[i] as string, line: i + 1 });
      i++;
      j++;
    } else if (i < n && (j >= m || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      lines.push({ mark: "-", text: before[i] as string, line: i + 1 });
      i++;
    } else {
      lines.push({ mark: "+", text: after[j] as string, line: i + 1 });
      j++;
    }
  }
  const changed = lines.map((l, k) => (l.mark === " " ? -1 : k)).filter((k) => k >= 0);
  const shown = new Set<number>();
  for (const k of changed) for (let c = k - context; c <= k + context; c++) shown.add(c);
  const out: string[] = [];
  let last = -2;
  lines.forEach((l, k) => {
    if (!shown.has(k)) return;
    if (k !== last + 1) out.push(`@@ near line ${l.line} of the committed file @@`);
    out.push(`${l.mark} ${l.text}`);
    last = k;
  });
  return out.join("\n");
}

/**
 * Compares `<dir>/<fileName>` (just written by a consumer test) with `pacts/<fileName>`; with
 * UPDATE_PACTS=1 it replaces the committed file.
 */
export function checkPactFile(dir: string, fileName: string): void {
  const written = join(dir, fileName);
  const committed = join(PACTS_DIR, fileName);
  assert.ok(existsSync(written), `the consumer test wrote no ${fileName} into ${dir}`);
  if (process.env.UPDATE_PACTS === "1") {
    mkdirSync(PACTS_DIR, { recursive: true });
    copyFileSync(written, committed);
    return;
  }
  if (!existsSync(committed)) {
    assert.fail(`pacts/${fileName} is missing: the consumer tests define a pact nobody committed. Run ${REFRESH}.`);
  }
  const diff = lineDiff(normalized(committed), normalized(written));
  if (diff !== "") {
    assert.fail(
      `pacts/${fileName} differs from the pact the consumer tests write ("-" committed, "+" now written).\n` +
        `If the change is intended, run ${REFRESH} and commit the file.\n${diff}`,
    );
  }
}

/**
 * Wraps an `executeTest` callback so that it returns only once Pact's mock server has recorded every
 * request it expects as matched (or after `RECORD_DEADLINE_MS`, when Pact's own check then reports what is
 * wrong). From native core 19 on, the mock server hands its bookkeeping to a task of its own and answers
 * before that task has run, so on a busy machine `executeTest`'s check could run first and report a request
 * it served as "expected but not received" (pact-reference#535, pact-core-mock-server#13). Waiting per
 * request on the count of missing requests is not enough: right after the mock server starts, that task
 * may not yet have listed the expected requests either. Waiting at the end of the callback, on the same
 * "matched" that `executeTest` reads, is.
 */
const RECORD_DEADLINE_MS = 5_000;
export function recorded<T>(run: (mock: { port: number; url: string }) => Promise<T>) {
  return async (mock: { port: number; url: string }): Promise<T> => {
    const value = await run(mock);
    const ffi = getFfiLib();
    const deadline = Date.now() + RECORD_DEADLINE_MS;
    while (!ffi.pactffiMockServerMatched(mock.port) && Date.now() < deadline) await sleep(2);
    return value;
  };
}

/**
 * The fetch the consumer tests give their clients for Pact's mock server. It opens a new connection for
 * every request (node:http, no agent): each interaction runs its own mock server on a free port, and the
 * kernel may hand a port that a finished mock server used to the next one; the global fetch's pooled
 * keep-alive connection to that port is then dead, and the request never arrives.
 */
export async function mockServerFetch(request: Request): Promise<Response> {
  const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return new Promise<Response>((resolve, reject) => {
    const outgoing = httpRequest(request.url, { method: request.method, headers, agent: false }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => {
        const status = incoming.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const payload = [101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
        resolve(new Response(payload, { status, headers: responseHeaders }));
      });
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/**
 * The interactions a verifier run reports as failed: the numbered lines of the "Failures:" section the
 * verifier prints ("1) Verifying a pact between <consumer> and <provider> Given <state> - <description>").
 * Colour codes are removed first.
 */
export function failedInteractions(output: string): string[] {
  const text = stripVTControlCharacters(output);
  const start = text.indexOf("Failures:");
  if (start < 0) return [];
  return text
    .slice(start)
    .split("\n")
    .map((line) => /^(\d+)\) (.+)$/.exec(line.trim())?.[2])
    .filter((name): name is string => name !== undefined);
}
