/** The audit verdict on purpose-made `npm audit --json` reports, without the network. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AllowedAdvisory, checkAudit, describeVerdict } from "./audit-check.js";

const GHSA_HIGH = "https://github.com/advisories/GHSA-aaaa-bbbb-cccc";
const GHSA_CRITICAL = "https://github.com/advisories/GHSA-dddd-eeee-ffff";
const GHSA_MODERATE = "https://github.com/advisories/GHSA-gggg-hhhh-iiii";

/** A report as npm 11 writes it: advisories in `via`, a package pulled through another named by string. */
const report = {
  auditReportVersion: 2,
  vulnerabilities: {
    "left-pad": {
      name: "left-pad",
      severity: "high",
      isDirect: false,
      via: [
        {
          source: 1001,
          name: "left-pad",
          dependency: "left-pad",
          title: "ReDoS",
          url: GHSA_HIGH,
          severity: "high",
          range: "<1.3.1",
        },
      ],
      effects: ["pads"],
      range: "<1.3.1",
      nodes: ["node_modules/left-pad"],
      fixAvailable: true,
    },
    pads: {
      name: "pads",
      severity: "high",
      isDirect: true,
      via: ["left-pad"],
      effects: [],
      range: "*",
      nodes: [],
      fixAvailable: true,
    },
    "yaml-ish": {
      name: "yaml-ish",
      severity: "critical",
      isDirect: true,
      via: [
        {
          source: 1002,
          name: "yaml-ish",
          dependency: "yaml-ish",
          title: "Prototype pollution",
          url: GHSA_CRITICAL,
          severity: "critical",
          range: "<2.0.0",
        },
        {
          source: 1003,
          name: "yaml-ish",
          dependency: "yaml-ish",
          title: "Slow parse",
          url: GHSA_MODERATE,
          severity: "moderate",
          range: "<2.1.0",
        },
      ],
      effects: [],
      range: "<2.1.0",
      nodes: ["node_modules/yaml-ish"],
      fixAvailable: false,
    },
  },
  metadata: { vulnerabilities: { info: 0, low: 0, moderate: 1, high: 2, critical: 1, total: 4 } },
};

const entry = (advisory: string, pkg: string, reviewBy = "2027-03-01"): AllowedAdvisory => ({
  advisory,
  package: pkg,
  reason: "only reachable through a code path the gateway never calls",
  reviewed: "2026-12-07",
  reviewBy,
});
const TODAY = "2026-12-07";

test("a clean report passes with an empty allowlist", () => {
  const clean = { auditReportVersion: 2, vulnerabilities: {}, metadata: {} };
  const verdict = checkAudit(clean, { advisories: [] }, TODAY);
  assert.equal(verdict.ok, true);
  assert.deepEqual(describeVerdict(verdict), []);
});

test("every high or critical advisory outside the allowlist fails, named with its fix; moderate ones do not", () => {
  const verdict = checkAudit(report, { advisories: [] }, TODAY);
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.unlisted.map((a) => `${a.severity} ${a.package} ${a.url}`).sort(), [
    `critical yaml-ish ${GHSA_CRITICAL}`,
    `high left-pad ${GHSA_HIGH}`,
  ]);
  const lines = describeVerdict(verdict);
  assert.ok(
    lines.every((l) => l.includes("audit-allowlist.json")),
    lines.join("\n"),
  );
});

test("reviewed advisories in the list pass until their review date, then fail", () => {
  const allowlist = { advisories: [entry(GHSA_HIGH, "left-pad"), entry(GHSA_CRITICAL, "yaml-ish", "2026-12-31")] };
  const now = checkAudit(report, allowlist, TODAY);
  assert.equal(now.ok, true, describeVerdict(now).join("\n"));
  assert.equal(now.allowed.length, 2);

  const later = checkAudit(report, allowlist, "2027-01-01");
  assert.equal(later.ok, false);
  assert.deepEqual(
    later.expired.map((e) => e.package),
    ["yaml-ish"],
  );
  assert.deepEqual(
    later.unlisted.map((a) => a.package),
    ["yaml-ish"],
    "an expired entry allows nothing",
  );
  assert.match(describeVerdict(later).join("\n"), /review date 2026-12-31 has passed/);
});

test("an entry for another package does not allow the advisory; a stale entry is reported, not failed", () => {
  const verdict = checkAudit(
    report,
    {
      advisories: [
        entry(GHSA_HIGH, "right-pad"),
        entry(GHSA_CRITICAL, "yaml-ish"),
        entry("https://github.com/advisories/GHSA-gone", "old"),
      ],
    },
    TODAY,
  );
  assert.deepEqual(
    verdict.unlisted.map((a) => a.package),
    ["left-pad"],
  );
  assert.deepEqual(
    verdict.stale.map((e) => e.package),
    ["right-pad", "old"],
  );
});

test("no report (the endpoint refused) and a malformed allowlist fail, saying why", () => {
  const refused = {
    message: "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
    statusCode: 405,
  };
  const verdict = checkAudit(refused, { advisories: [] }, TODAY);
  assert.equal(verdict.ok, false);
  assert.match(verdict.errors[0] ?? "", /^no audit report: 405 Method Not Allowed/);

  const bad = checkAudit(
    report,
    { advisories: [{ advisory: GHSA_HIGH, package: "left-pad", reviewed: "2026-12-07" }] },
    TODAY,
  );
  assert.equal(bad.ok, false);
  assert.match(bad.errors.join(), /lacks reason, reviewBy/);
  assert.equal(checkAudit(report, {}, TODAY).errors[0], 'the allowlist has no "advisories" array');
});
