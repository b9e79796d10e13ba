/**
 * A function's process: `node --import tsx functions/main.ts <name>` loads functions/<name>/index.ts and runs it on
 * faas-js-runtime at FUNCTION_HOST:FUNCTION_PORT (see function-host.ts). The runtime owns the process's signals, as
 * in a Knative container: SIGINT or SIGTERM calls the function's shutdown() and exits.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../platform/config.js";
import { createLogger } from "../platform/logging.js";
import { loadFunctionHostConfig } from "./function-config.js";
import { type FunctionModule, serveFunction } from "./function-host.js";

let name = process.argv[2] ?? "";
const fail = (kind: string, message: string): never => {
  process.stderr.write(`function ${name || "?"}: ${kind}: ${message.split("\n")[0]}\n`);
  process.exit(1);
};
try {
  const config = loadFunctionHostConfig();
  name ||= config.name;
  const entry = fileURLToPath(new URL(`./${name}/index.ts`, import.meta.url));
  if (!/^[a-z0-9-]{1,63}$/.test(name) || !existsSync(entry)) {
    throw new ConfigError(`name a function of functions/ (argument or FUNCTION_NAME), got ${JSON.stringify(name)}`);
  }
  const logger = createLogger(`function-${name}`, config.logLevel);
  const module = (await import(`./${name}/index.js`)) as FunctionModule;
  const port = await serveFunction(module, { host: config.host, port: config.port, logLevel: "warn" });
  logger.info({ function: name, host: config.host, port }, "function ready");
} catch (error) {
  fail(
    error instanceof ConfigError ? "configuration error" : "cannot start",
    error instanceof Error ? error.message : String(error),
  );
}
