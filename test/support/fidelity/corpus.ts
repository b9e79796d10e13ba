/**
 * The edge values of the contracts' field rules, for the cross-protocol fidelity test: for each writable string
 * field of an entity (create and update; users: name and email) and the page size of its List. Part generated with
 * fast-check from the rules themselves (seeded, a fixed number of runs: the same corpus on every run), part a fixed
 * list of the values that have told implementations apart before. Every limit is read from
 * generated/proto/field-rules.ts (through the entity, test/support/fidelity/entity.ts): a text field's values come
 * from its lengths (and white space for its not-blank pattern), an e-mail field's from the e-mail format.
 */
import fc from "fast-check";
import type { FieldRule } from "../../../platform/rules/field-rules.js";
import type { Entity } from "./entity.js";

/** An entity's field (`name`, `email`), or `pageSize` for its List. */
export type FieldName = string;

/**
 * A value under test. For a page size, a number is the value itself (each protocol carries it in its own form);
 * a string is a spelling only a query string carries (`01`, `1e3`, `abc`).
 */
export interface CorpusValue {
  readonly field: FieldName;
  /** The kind of edge it is, for the table: "length", "unicode", "white space", "generated", … */
  readonly kind: string;
  readonly value: string | number;
}

const SEED = 20261204;

interface Limits {
  readonly min: number;
  readonly max: number;
}
const lengthsOf = (rule: FieldRule): Limits => ({ min: rule.minLen ?? 0, max: rule.maxLen ?? 0 });

const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number, offset = 0): T[] =>
  fc.sample(arbitrary, { seed: SEED + offset, numRuns });

/** `n` code points, cycling through `units` (each one code point). */
const codePoints = (n: number, units: readonly string[]): string =>
  Array.from({ length: Math.max(0, n) }, (_, i) => units[i % units.length]).join("");

/** An address of exactly `n` code points that the e-mail format takes: dot-atom local part, dotted host of ≤63-character labels. */
export function emailOfLength(n: number): string {
  const local = "l".repeat(Math.min(64, Math.max(1, n - 6)));
  let remaining = n - local.length - 1 - ".com".length; // the host's labels before ".com"
  const labels: string[] = [];
  while (remaining > 0) {
    // Each label but the first costs its dot; keep every label 1..63 long.
    const cost = labels.length === 0 ? 0 : 1;
    let size = Math.min(63, remaining - cost);
    if (remaining - cost - size === 1) size -= 1; // leave room for a label after the next dot
    labels.push(String.fromCharCode(97 + (labels.length % 26)).repeat(size));
    remaining -= size + cost;
  }
  return `${local}@${labels.join(".")}.com`;
}

const ASTRAL = "𝒜"; // U+1D49C: two UTF-16 code units, one code point
const EMOJI = "😀";

/** A text field's values: its boundary lengths, Unicode, white space (its pattern's blanks) and generated text. */
function textValues(field: string, { min, max }: Limits): CorpusValue[] {
  const out: CorpusValue[] = [];
  const add = (kind: string, ...values: string[]) => {
    for (const value of values) out.push({ field, kind, value });
  };
  // Boundary lengths in code points, in ASCII and in astral characters (UTF-16 length twice the code points).
  for (const n of new Set([0, min, min + 1, max - 1, max, max + 1])) {
    add("length", codePoints(n, ["a"]));
    if (n > 0) add("length (astral)", codePoints(n, [ASTRAL]), codePoints(n, ["x", EMOJI]));
  }
  add("length (astral)", `${codePoints(max - 1, ["a"])}${EMOJI}`, `${codePoints(max, ["a"])}${EMOJI}`);
  // A string whose UTF-16 length is above the limit but whose code points are not, and the reverse edge.
  add("length (astral)", codePoints(Math.ceil((max + 1) / 2), [ASTRAL]));
  add(
    "unicode",
    "Zoë", // precomposed
    "Zoe\u0308", // combining diaeresis
    "e\u0301\u0301\u0301", // stacked combining marks
    "\u0301", // a lone combining mark
    "👩‍💻 Ada", // ZWJ sequence
    "👨‍👩‍👧‍👦",
    "🇫🇷",
    "\u200b", // zero-width space (not white space)
    "a\u200bb",
    "\u200d", // zero-width joiner alone
    "\ufeff", // BOM / zero-width no-break space (white space in JS)
    "a\u0000b", // NUL inside
    "\u0000",
    "a\u0007b", // BEL
    "\u001b[31mred", // ESC sequence
    "\u202eevil", // right-to-left override
    "\u200fRTL mark",
    "עברית",
    "العربية",
    "日本語の名前",
    "Ada\uD800", // a lone surrogate: not a Unicode scalar value
    "\uFFFD",
  );
  add(
    "white space",
    " Ada",
    "Ada ",
    "  Ada Lovelace  ",
    "\tAda\n",
    " ",
    "   ",
    "\t",
    "\n\r",
    "\u00a0", // no-break space
    "\u2003", // em space
    "\u3000", // ideographic space
    "\u2028", // line separator
    " \u00a0\u2003\u3000\t ",
    ` ${codePoints(max - 2, ["a"])} `, // max with the surrounding spaces counted
    ` ${codePoints(max - 1, ["a"])} `, // max+1 raw, max-1 trimmed
  );
  add("case", "ADA LOVELACE", "ada lovelace");
  // Generated from the rule: any code points around the bounds, graphemes, and white space alone.
  add("generated", ...sample(fc.string({ unit: "binary", minLength: 0, maxLength: max + 2 }), 24, 1));
  add("generated", ...sample(fc.string({ unit: "binary", minLength: max - 1, maxLength: max + 1 }), 8, 2));
  add("generated", ...sample(fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }), 10, 3));
  const space = fc.constantFrom(" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\u2028", "\ufeff");
  add("generated", ...sample(fc.string({ unit: space, minLength: 1, maxLength: 8 }), 6, 4));
  return out;
}

/** An e-mail field's values (format `email`): the shapes of an address the format takes and refuses. */
function emailValues(field: string, { min, max }: Limits): CorpusValue[] {
  const out: CorpusValue[] = [];
  const add = (kind: string, ...values: string[]) => {
    for (const value of values) out.push({ field, kind, value });
  };
  add("length", "", "a", "a@", "@b", codePoints(min, ["a"]), "a@b", "a@b.c", "a@b.co");
  for (const n of new Set([max - 1, max, max + 1])) add("length", emailOfLength(n));
  add("length", `${"l".repeat(64)}@example.com`, `${"l".repeat(65)}@example.com`); // local part of 64 / 65
  add("length", `a@${"d".repeat(63)}.com`, `a@${"d".repeat(64)}.com`); // labels of 63 / 64
  add("length (astral)", `${codePoints(max - 12, [ASTRAL])}@example.com`, `${EMOJI}@example.com`);
  add(
    "international",
    "ü@exämple.com",
    "ada@exämple.com",
    "üser@example.com",
    "ada@xn--exmple-cua.com", // the punycode of exämple.com
    "用户@例子.广告",
    "ada@example.онлайн",
  );
  add("quoted", '"a b"@example.com', '"ada"@example.com', '"a@b"@example.com', '""@example.com');
  add(
    "dots",
    "a..b@example.com",
    ".ada@example.com",
    "ada.@example.com",
    "a.b.c@example.com",
    "ada@example..com",
    "ada@.example.com",
    "ada@example.com.",
    "ada@example",
  );
  add(
    "domain",
    "a@b_c.com",
    "ada@-example.com",
    "ada@example-.com",
    "ada@ex-ample.com",
    "ada@123.com",
    "ada@example.c",
    "ada@[127.0.0.1]",
    "ada@[IPv6:::1]",
    "ada@127.0.0.1",
    "ada@localhost",
  );
  add(
    "local part",
    "a+tag@example.com",
    "a!#$%&'*+/=?^_`{|}~-@example.com",
    "a b@example.com",
    "a@b@example.com",
    "a(comment)@example.com",
    "a\\b@example.com",
    "a,b@example.com",
  );
  add("case", "ADA@EXAMPLE.COM", "Ada.Lovelace@Example.Com");
  add(
    "white space",
    " ada@example.com",
    "ada@example.com ",
    "\tada@example.com\n",
    "ada @example.com",
    "ada@ example.com",
    "   ",
    "\u00a0ada@example.com",
    "ada@example.com\u200b",
  );
  add("unicode", "ada\u0000@example.com", "\u202eada@example.com", "ada@example.com\u0301", `${EMOJI}@${EMOJI}.com`);
  // Generated: fast-check's RFC addresses (many are not dot-atom-over-hostname), and valid ones broken on purpose.
  add("generated", ...sample(fc.emailAddress(), 24, 5));
  const broken = fc
    .tuple(
      fc.emailAddress(),
      fc.constantFrom<(e: string) => string>(
        (e) => ` ${e}`,
        (e) => e.toUpperCase(),
        (e) => e.replace("@", ".@"),
        (e) => e.replace("@", "@@"),
        (e) => `${e}.`,
        (e) => e.replace(/\.([^.]*)$/, "_$1"),
        (e) => e.replace("@", "\u00e4@"),
      ),
    )
    .map(([e, f]) => f(e));
  add("generated", ...sample(broken, 16, 6));
  add("generated", ...sample(fc.string({ unit: "grapheme-ascii", minLength: 0, maxLength: 12 }), 8, 7));
  return dedupeEmails(out);
}

/**
 * E-mails are unique case-insensitively in the users service: two values under test that are one address would
 * refuse each other (ALREADY_EXISTS). Keep the first of each.
 */
function dedupeEmails(values: CorpusValue[]): CorpusValue[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = String(v.value).toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function pageSizeValues({ min, max }: Limits): CorpusValue[] {
  const out: CorpusValue[] = [];
  const add = (kind: string, ...values: (string | number)[]) => {
    for (const value of values) out.push({ field: "pageSize", kind, value });
  };
  add("bounds", 0, min, min + 1, max - 1, max, max + 1, -1);
  add("large", 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 + 1, 2 ** 53, -(2 ** 53));
  add("non-integer", 1.5, max - 0.5, max + 0.5, 0.5, -0.5, 1e-9 + min);
  add(
    "spelling",
    "01",
    "1e3",
    "1e1",
    "+5",
    " 5",
    "5 ",
    "0x10",
    "abc",
    "",
    "1.0",
    "10.",
    "5,6",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
  );
  const uniques = <T>(values: T[]) => [...new Set(values)];
  add("generated", ...uniques(sample(fc.integer({ min: min - 3, max: min + 3 }), 7, 8)));
  add("generated", ...uniques(sample(fc.integer({ min: max - 3, max: max + 3 }), 7, 9)));
  add("generated", ...uniques(sample(fc.integer(), 8, 10)));
  add(
    "generated",
    ...uniques(sample(fc.double({ min: -10, max: max + 10, noNaN: true }), 8, 11)).filter((n) => !Number.isInteger(n)),
  );
  return out;
}

/** The corpus of an entity: each (field, value) once (the first kind that names it), in a fixed order. */
export function buildCorpus(entity: Entity): CorpusValue[] {
  const seen = new Set<string>();
  const fields = Object.entries(entity.fields).flatMap(([field, rule]) =>
    rule.format === "email" ? emailValues(field, lengthsOf(rule)) : textValues(field, lengthsOf(rule)),
  );
  return [...fields, ...pageSizeValues(entity.pageSize)].filter((v) => {
    const key = `${v.field} ${typeof v.value} ${String(v.value)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A value as the table prints it: JSON with every non-ASCII or control character escaped, long runs shortened. */
export function showValue(value: string | number): string {
  if (typeof value === "number") return String(value);
  const tokens = [...value].map((c) => {
    const code = c.codePointAt(0) ?? 0;
    if (code >= 0x20 && code < 0x7f) return c === '"' || c === "\\" ? `\\${c}` : c;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  // Runs of one character are shortened: x×100.
  const parts: string[] = [];
  for (let i = 0; i < tokens.length; ) {
    let j = i;
    while (j < tokens.length && tokens[j] === tokens[i]) j++;
    parts.push(j - i >= 8 ? `${tokens[i]}×${j - i}` : tokens.slice(i, j).join(""));
    i = j;
  }
  const shortened = parts.join("");
  return `"${shortened}" (${[...value].length} cp)`;
}
