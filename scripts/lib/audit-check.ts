/**
 * The verdict on an `npm audit --json` report (npm 7+, auditReportVersion 2) against the committed allowlist of
 * reviewed advisories (audit-allowlist.json): every high or critical advisory must be in the list, and every entry of
 * the list must be within its review date. A pure function, so that it is tested on purpose-made reports without
 * the network (scripts/lib/audit-check.test.ts); scripts/audit.ts runs npm audit and prints the verdict.
 */

export const FAILING_SEVERITIES: readonly string[] = ["high", "critical"];

export interface AllowedAdvisory {
  /** The advisory's URL as npm audit reports it (https://github.com/advisories/GHSA-…). */
  readonly advisory: string;
  /** The vulnerable package the advisory is about. */
  readonly package: string;
  /** Why it is accepted for now: why it cannot be reached here, or what waits for a fix. */
  readonly reason: string;
  /** The day it was reviewed (YYYY-MM-DD). */
  readonly reviewed: string;
  /** The day by which it must be reviewed again (YYYY-MM-DD); past it the entry no longer counts. */
  readonly reviewBy: string;
}

export interface Advisory {
  readonly url: string;
  readonly package: string;
  readonly severity: string;
  readonly title: string;
  readonly range: string;
}

export interface AuditVerdict {
  readonly ok: boolean;
  /** High or critical advisories that are not allowed. */
  readonly unlisted: readonly Advisory[];
  /** Allowlist entries past their review date (they fail the check even when nothing reports them). */
  readonly expired: readonly AllowedAdvisory[];
  /** Allowed advisories found in the report. */
  readonly allowed: readonly Advisory[];
  /** Allowlist entries the report no longer has: to be removed. */
  readonly stale: readonly AllowedAdvisory[];
  /** Problems with the report or the list themselves (no report, a malformed entry). */
  readonly errors: readonly string[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The allowlist file's entries, each checked; a malformed one is an error naming it. */
export function parseAllowlist(json: unknown): { entries: AllowedAdvisory[]; errors: string[] } {
  const list = (json as { advisories?: unknown } | null)?.advisories;
  if (!Array.isArray(list)) return { entries: [], errors: ['the allowlist has no "advisories" array'] };
  const entries: AllowedAdvisory[] = [];
  const errors: string[] = [];
  list.forEach((item: unknown, i) => {
    const e = (item ?? {}) as Record<string, unknown>;
    const missing = ["advisory", "package", "reason", "reviewed", "reviewBy"].filter(
      (k) => typeof e[k] !== "string" || (e[k] as string).trim() === "",
    );
    if (missing.length > 0) errors.push(`allowlist entry ${i + 1} lacks ${missing.join(", ")}`);
    else if (!DAY.test(e.reviewed as string) || !DAY.test(e.reviewBy as string))
      errors.push(`allowlist entry ${i + 1} (${e.advisory}): reviewed and reviewBy are YYYY-MM-DD days`);
    else entries.push(e as unknown as AllowedAdvisory);
  });
  return { entries, errors };
}

/** The advisories of a report: the `via` entries that are advisories (the others name a package they come through). */
export function advisoriesOf(report: unknown): { advisories: Advisory[]; error?: string } {
  const r = report as { auditReportVersion?: unknown; vulnerabilities?: unknown; error?: unknown; message?: unknown };
  if (r === null || typeof r !== "object") return { advisories: [], error: "the report is not a JSON object" };
  if (r.auditReportVersion !== 2 || typeof r.vulnerabilities !== "object" || r.vulnerabilities === null) {
    const reason =
      typeof r.message === "string"
        ? r.message
        : typeof (r.error as { summary?: unknown } | undefined)?.summary === "string"
          ? String((r.error as { summary: string }).summary)
          : "it is not an npm audit report (auditReportVersion 2)";
    return { advisories: [], error: `no audit report: ${reason}` };
  }
  const byUrl = new Map<string, Advisory>();
  for (const vulnerability of Object.values(r.vulnerabilities as Record<string, { via?: unknown[] }>)) {
    for (const via of vulnerability.via ?? []) {
      if (via === null || typeof via !== "object") continue;
      const v = via as Record<string, unknown>;
      const url = typeof v.url === "string" ? v.url : `npm-advisory:${String(v.source)}`;
      byUrl.set(url, {
        url,
        package: String(v.name ?? v.dependency ?? "?"),
        severity: String(v.severity ?? "unknown"),
        title: String(v.title ?? ""),
        range: String(v.range ?? ""),
      });
    }
  }
  return { advisories: [...byUrl.values()] };
}

/** The verdict on a report, the allowlist file's content, on `today` (YYYY-MM-DD). */
export function checkAudit(report: unknown, allowlist: unknown, today: string): AuditVerdict {
  const { advisories, error } = advisoriesOf(report);
  const { entries, errors } = parseAllowlist(allowlist);
  const allErrors = error ? [error, ...errors] : errors;
  const current = entries.filter((e) => e.reviewBy >= today);
  const expired = entries.filter((e) => e.reviewBy < today);
  const failing = advisories.filter((a) => FAILING_SEVERITIES.includes(a.severity));
  const isAllowed = (a: Advisory) => current.some((e) => e.advisory === a.url && e.package === a.package);
  const unlisted = failing.filter((a) => !isAllowed(a));
  const allowed = failing.filter(isAllowed);
  const stale = error
    ? []
    : entries.filter((e) => !advisories.some((a) => a.url === e.advisory && a.package === e.package));
  return {
    ok: allErrors.length === 0 && unlisted.length === 0 && expired.length === 0,
    unlisted,
    expired,
    allowed,
    stale,
    errors: allErrors,
  };
}

/** The verdict as lines for a person: what fails and how to fix each. */
export function describeVerdict(verdict: AuditVerdict): string[] {
  const lines: string[] = [];
  for (const e of verdict.errors) lines.push(`✖ ${e}`);
  for (const a of verdict.unlisted) {
    lines.push(
      `✖ ${a.severity} ${a.package} ${a.range}: ${a.title} (${a.url}) — upgrade it (npm audit fix, or a newer ` +
        "version of what pulls it in), or review it and add it to audit-allowlist.json with the reason and a review date",
    );
  }
  for (const e of verdict.expired) {
    lines.push(`✖ ${e.package} ${e.advisory}: its review date ${e.reviewBy} has passed — review it again or drop it`);
  }
  for (const a of verdict.allowed) lines.push(`· allowed: ${a.severity} ${a.package} (${a.url})`);
  for (const e of verdict.stale)
    lines.push(`· no longer reported, remove from the allowlist: ${e.package} ${e.advisory}`);
  return lines;
}
