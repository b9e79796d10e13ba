/**
 * Lints the contracts: buf (STANDARD rules), Redocly (recommended), GraphQL schema validation, and the AsyncAPI
 * parser (the AsyncAPI 3 schema and its rules: every warning counts).
 */
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";
import { buildSchema, validateSchema } from "graphql";
import { contractStems } from "./lib/contract-files.js";
import { protoDir, repoRoot, runTool } from "./lib/proto-descriptor.js";

export async function lintContracts(): Promise<string[]> {
  const problems: string[] = [];
  const attempt = (label: string, run: () => void): void => {
    try {
      run();
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      problems.push(`${label}:\n${(e.stdout ?? "") + (e.stderr ?? "") || e.message}`);
    }
  };
  attempt("buf lint (contracts/proto)", () => runTool("buf", ["lint", protoDir]));
  const openapi = (await contractStems("openapi", ".yaml")).map((stem) => `contracts/openapi/${stem}.yaml`);
  attempt("redocly lint (contracts/openapi)", () => {
    process.env.REDOCLY_TELEMETRY = "off";
    process.env.REDOCLY_SUPPRESS_UPDATE_NOTICE = "true";
    runTool("redocly", ["lint", "--format=stylish", ...openapi]);
  });
  for (const stem of await contractStems("graphql", ".graphql")) {
    const file = `contracts/graphql/${stem}.graphql`;
    const sdl = await readFile(`${repoRoot}${file}`, "utf8");
    attempt(`graphql (${file})`, () => {
      const errors = validateSchema(buildSchema(sdl));
      if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("\n"));
    });
  }
  for (const stem of await contractStems("asyncapi", ".yaml")) {
    const asyncapi = `contracts/asyncapi/${stem}.yaml`;
    const { diagnostics } = await new Parser().parse(await readFile(`${repoRoot}${asyncapi}`, "utf8"));
    // Severity 0 is an error, 1 a warning, 2 information (e.g. a newer AsyncAPI version exists), 3 a hint.
    const findings = diagnostics.filter((d) => d.severity <= 1);
    if (findings.length > 0) {
      problems.push(
        `asyncapi (${asyncapi}):\n${findings.map((d) => `${d.path.join(".") || "(root)"}: ${d.message} [${d.code}]`).join("\n")}`,
      );
    }
  }
  return problems;
}

const problems = await lintContracts();
if (problems.length > 0) {
  console.error(problems.join("\n\n"));
  process.exitCode = 1;
} else console.log("contracts lint: proto, OpenAPI, GraphQL and AsyncAPI are clean");
