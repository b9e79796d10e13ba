/**
 * Finds hand-written copies of the contracts' generated limits: a number that equals a limit of
 * generated/proto/field-rules.ts where the code names a limited thing (a constant called MAX_…, PAGE_…,
 * …_LEN; a comparison or default of a page size, a length, a batch of ids), or a string that repeats a
 * generated pattern. Such a copy drifts silently when the contract changes; the rule engine
 * (platform/rules) and `rulesOf(...)` are where limits are read.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { fieldRules } from "../../generated/proto/field-rules.js";

export interface CopiedLimit {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly limit: string;
}

type Rule = Readonly<Record<string, unknown>>;

/** Every limit of the generated rules: its value, and where it comes from (message.field.keyword). */
export function generatedLimits(): { numbers: Map<number, string>; patterns: Map<string, string> } {
  const numbers = new Map<number, string>();
  const patterns = new Map<string, string>();
  for (const [message, fields] of Object.entries(fieldRules as unknown as Record<string, Record<string, Rule>>)) {
    for (const [field, rule] of Object.entries(fields)) {
      for (const [keyword, value] of Object.entries(rule)) {
        const where = `${message}.${field}.${keyword}`;
        if (keyword === "pattern" && typeof value === "string") patterns.set(value, where);
        const n =
          typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
        // 0 and 1 are everywhere (indexes, "at least one"); they are no evidence of a copy.
        if (Number.isInteger(n) && n > 1 && keyword !== "pattern") numbers.set(n, numbers.get(n) ?? where);
      }
    }
  }
  return { numbers, patterns };
}

/** The contract's limited things: a constant, default or comparison that names one of them is about its limit. */
const LIMITED = /page|[_.]first\b|\bfirst\b|batch|\bids\b|_IDS\b|name|email|etag|token|request_?id/i;
const COMPARISONS = new Set([
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.QuestionQuestionToken,
]);

/** The copies of generated limits in one source text. */
export function findCopiedLimits(file: string, source: string): CopiedLimit[] {
  const { numbers, patterns } = generatedLimits();
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: CopiedLimit[] = [];
  const report = (node: ts.Node, limit: string) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    out.push({ file, line, text: node.getText(sf).slice(0, 120), limit });
  };
  const limitOf = (node: ts.Node | undefined): string | undefined =>
    node && ts.isNumericLiteral(node) ? numbers.get(Number(node.text)) : undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
      const limit = limitOf(node.initializer);
      if (limit && LIMITED.test(node.name.text)) report(node, limit);
    }
    if (ts.isBinaryExpression(node) && COMPARISONS.has(node.operatorToken.kind)) {
      const [literal, other] = limitOf(node.right) ? [node.right, node.left] : [node.left, node.right];
      const limit = limitOf(literal);
      if (limit && LIMITED.test(other.getText(sf))) report(node, limit);
    }
    if (ts.isParameter(node) || ts.isBindingElement(node) || ts.isPropertyAssignment(node)) {
      const initializer = ts.isPropertyAssignment(node) ? node.initializer : node.initializer;
      const limit = limitOf(initializer);
      if (limit && LIMITED.test(node.name.getText(sf))) report(node, limit);
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      const limit = patterns.get(node.text);
      if (limit) report(node, limit);
    }
    if (ts.isRegularExpressionLiteral(node)) {
      const body = node.text.slice(1, node.text.lastIndexOf("/"));
      const limit = patterns.get(body);
      if (limit) report(node, limit);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/**
 * Files that state a limit on purpose, with the reason. The contract agreement check spells the decimal-string
 * carrier of int64 (maxLength 19, ^[0-9]{1,19}$) that OpenAPI must declare for it: it compares, never enforces.
 */
const STATES_ON_PURPOSE = new Set(["scripts/lib/contract-agreement.ts"]);

/** The hand-written runtime and tooling sources: what ships or generates, not tests (they may state limits to test them). */
export function handWrittenSources(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory())
        return ["node_modules", "generated", ".git", "test"].includes(entry.name) ? [] : walk(path);
      return /\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith(".test.ts") && !entry.name.endsWith("-spec.ts")
        ? [path]
        : [];
    });
  return ["platform", "services", "functions", "mocks", "sdk", "scripts"].flatMap((dir) => walk(join(root, dir)));
}

export function copiedLimitsIn(root: string): CopiedLimit[] {
  return handWrittenSources(root)
    .filter((path) => !STATES_ON_PURPOSE.has(relative(root, path)))
    .flatMap((path) => findCopiedLimits(relative(root, path), readFileSync(path, "utf8")));
}
