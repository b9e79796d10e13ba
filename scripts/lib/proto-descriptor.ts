import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const protoDir = `${repoRoot}contracts/proto`;
const bin = `${repoRoot}node_modules/.bin`;

/** Runs a tool from node_modules/.bin with that folder on PATH (buf finds its local plugins there). */
export function runTool(tool: string, args: string[], cwd = repoRoot): string {
  return execFileSync(`${bin}/${tool}`, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    maxBuffer: 64 * 1024 * 1024,
  });
}

export interface FieldRulesJson {
  required?: boolean;
  outputOnly?: boolean;
  minLen?: number;
  maxLen?: number;
  pattern?: string;
  format?: string;
  minimum?: string;
  maximum?: string;
  maxItems?: number;
  defaultValue?: string;
  patternMessage?: string;
}

export interface ProtoField {
  name: string;
  jsonName: string;
  number: number;
  label: string;
  type: string;
  typeName?: string;
  options?: { "[charter.contract.v1.field]"?: FieldRulesJson };
}

export interface ProtoMessage {
  name: string;
  field?: ProtoField[];
  nestedType?: ProtoMessage[];
}

export interface ProtoFile {
  name: string;
  package: string;
  messageType?: ProtoMessage[];
  service?: { name: string; method: ProtoMethod[] }[];
}

export interface ProtoMethod {
  name: string;
  inputType: string;
  outputType: string;
  options?: { "[charter.contract.v1.method]"?: { scopes?: string[] } };
}

/** The compiled proto contracts (buf's FileDescriptorSet as JSON), custom options included. */
export function loadProtoDescriptor(): ProtoFile[] {
  const json = runTool("buf", ["build", protoDir, "--exclude-imports", "-o", "-#format=json"]);
  return (JSON.parse(json) as { file: ProtoFile[] }).file;
}

/** Every message of the charter packages by full name, e.g. "charter.users.v1.User". */
export function charterMessages(files: ProtoFile[]): Map<string, ProtoMessage> {
  const out = new Map<string, ProtoMessage>();
  for (const file of files) {
    if (!file.package.startsWith("charter.")) continue;
    for (const message of file.messageType ?? []) out.set(`${file.package}.${message.name}`, message);
  }
  return out;
}

/** Every RPC of the charter packages by full gRPC name ("charter.users.v1.UsersService/GetUser") with the scopes its (charter.contract.v1.method) option names. */
export function charterMethodScopes(files: ProtoFile[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of files) {
    if (!file.package.startsWith("charter.")) continue;
    for (const service of file.service ?? []) {
      for (const method of service.method) {
        out.set(
          `${file.package}.${service.name}/${method.name}`,
          method.options?.["[charter.contract.v1.method]"]?.scopes ?? [],
        );
      }
    }
  }
  return out;
}
