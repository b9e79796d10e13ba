/**
 * TLS material from the environment, read the same way by every process: PEM text in `<PREFIX>_CA`,
 * `<PREFIX>_CERT` and `<PREFIX>_KEY`, or the files that `<PREFIX>_CA_FILE`, `<PREFIX>_CERT_FILE` and
 * `<PREFIX>_KEY_FILE` name (see EnvReader.secret). A half-configured group stops start-up with one line naming the
 * missing variable; nothing read here is ever part of a message.
 */
import { ConfigError, type EnvReader } from "./config.js";

/** A certificate chain and its key, and the CA the other side's certificate must chain to: mutual TLS. */
export interface MutualTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The CA a server's certificate must chain to, and optionally a client certificate with its key. */
export interface ClientTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

const KINDS = { CA: "CERTIFICATE", CERT: "CERTIFICATE", KEY: "PRIVATE KEY" } as const;
type Part = keyof typeof KINDS;

/** One PEM variable of the group; its text must look like PEM of the right kind. */
function pem(e: EnvReader, prefix: string, part: Part): Buffer | undefined {
  const name = `${prefix}_${part}`;
  const text = e.secret(name);
  if (text === undefined) return undefined;
  if (!new RegExp(`-----BEGIN [A-Z0-9 ]*${KINDS[part]}-----`).test(text)) {
    throw new ConfigError(`${name} (or ${name}_FILE) must be PEM text with a ${KINDS[part]} block`);
  }
  return Buffer.from(text);
}

const needs = (prefix: string, missing: Part, because: Part) =>
  new ConfigError(`${prefix}_${missing} (or ${prefix}_${missing}_FILE) must be set when ${prefix}_${because} is`);

function group(e: EnvReader, prefix: string) {
  return { ca: pem(e, prefix, "CA"), cert: pem(e, prefix, "CERT"), key: pem(e, prefix, "KEY") };
}

/** All of `<PREFIX>_CA`, `_CERT` and `_KEY`, or none (undefined: no TLS). */
export function mutualTls(e: EnvReader, prefix: string): MutualTls | undefined {
  const { ca, cert, key } = group(e, prefix);
  if (!ca && !cert && !key) return undefined;
  const given: Part = ca ? "CA" : cert ? "CERT" : "KEY";
  if (!ca) throw needs(prefix, "CA", given);
  if (!cert) throw needs(prefix, "CERT", given);
  if (!key) throw needs(prefix, "KEY", given);
  return { ca, cert, key };
}

/** `<PREFIX>_CA`, with `_CERT` and `_KEY` together or not at all (undefined when none is set). */
export function clientTls(e: EnvReader, prefix: string): ClientTls | undefined {
  const { ca, cert, key } = group(e, prefix);
  if (!ca && !cert && !key) return undefined;
  if (!ca) throw needs(prefix, "CA", cert ? "CERT" : "KEY");
  if (cert && !key) throw needs(prefix, "KEY", "CERT");
  if (key && !cert) throw needs(prefix, "CERT", "KEY");
  return cert && key ? { ca, cert, key } : { ca };
}
