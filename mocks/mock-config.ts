/**
 * `npm run mock`'s settings from its flags and the environment: flags win over MOCK_* variables; a bad value
 * throws a ConfigError naming the flag or the variable.
 */
import { parseArgs } from "node:util";
import { ConfigError, envReader, type LogLevel, logLevels } from "../platform/config.js";

const DEFAULTS = { rest: 4010, grpc: 50052, graphql: 4011 } as const;

export interface MockConfig {
  readonly host: string;
  /** REST bodies generated from the schemas (Prism --dynamic) instead of the examples. */
  readonly dynamic: boolean;
  readonly restPort: number;
  readonly grpcPort: number;
  readonly graphqlPort: number;
  readonly logLevel: LogLevel;
  /** One in-memory store behind all three mocks, seeded from the examples. */
  readonly stateful: boolean;
  /** MOCK_FAULTS as written (`getUser=503@0.5,…`), read against the contract by faults.ts. */
  readonly faults: string;
  /** The seed of the fault rates' generator. */
  readonly seed: number;
  /** Record mode: the gateway whose REST and GraphQL answers are proxied and recorded (`--record <url>`). */
  readonly record?: string;
  /**
   * Record mode: the users service's gRPC address (`host:port`, plaintext) that the gRPC port passes calls to and
   * records (`--record-grpc <host:port>`).
   */
  readonly recordGrpc?: string;
  /** Where record mode writes the recording (`--out <dir>`). */
  readonly recordingDir: string;
  /** Record mode: also write the interactions as a Pact V4 consumer pact to this file (`--pact <file>`). */
  readonly pact?: string;
  /** Replay mode: the recording the REST, GraphQL and gRPC mocks answer from (`--replay <dir>`, or a pact file). */
  readonly replay?: string;
}

export function loadMockConfig(
  args: readonly string[] = process.argv.slice(2),
  environment: Readonly<Record<string, string | undefined>> = process.env,
): MockConfig {
  let flags: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: [...args],
      options: {
        dynamic: { type: "boolean", default: false },
        stateful: { type: "boolean", default: false },
        host: { type: "string" },
        "rest-port": { type: "string" },
        "grpc-port": { type: "string" },
        "graphql-port": { type: "string" },
        record: { type: "string" },
        "record-grpc": { type: "string" },
        out: { type: "string" },
        pact: { type: "string" },
        replay: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    });
  try {
    flags = parse();
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const env = envReader(environment);
  const port = (flag: "rest-port" | "grpc-port" | "graphql-port", variable: string, fallback: number) => {
    const value = flags.values[flag];
    return value === undefined
      ? env.port(variable, fallback)
      : envReader({ [`--${flag}`]: value }).port(`--${flag}`, 0);
  };
  const record =
    flags.values.record === undefined
      ? env.optionalUrl("MOCK_RECORD", ["http:", "https:"])
      : envReader({ "--record": flags.values.record }).optionalUrl("--record", ["http:", "https:"]);
  const recordGrpcAs = flags.values["record-grpc"] === undefined ? "MOCK_RECORD_GRPC" : "--record-grpc";
  const recordGrpc = flags.values["record-grpc"] ?? env.string("MOCK_RECORD_GRPC", "");
  if (recordGrpc && !/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(recordGrpc)) {
    throw new ConfigError(`${recordGrpcAs} must be a gRPC address host:port, got ${JSON.stringify(recordGrpc)}`);
  }
  if (recordGrpc && !record) {
    throw new ConfigError(`${recordGrpcAs} needs --record: gRPC calls are recorded beside the gateway's`);
  }
  const replay = flags.values.replay ?? env.string("MOCK_REPLAY", "");
  const pact = flags.values.pact ?? env.string("MOCK_PACT", "");
  const stateful = flags.values.stateful === true || env.oneOf("MOCK_STATEFUL", "false", ["true", "false"]) === "true";
  const modes = [stateful && "--stateful", record && "--record", replay && "--replay"].filter(Boolean);
  if (modes.length > 1) throw new ConfigError(`${modes.join(" and ")} cannot be combined: choose one mode`);
  if (pact && !record) throw new ConfigError("--pact (MOCK_PACT) needs --record: a pact is written while recording");
  return {
    host: flags.values.host ?? env.string("MOCK_HOST", "127.0.0.1"),
    dynamic: flags.values.dynamic === true,
    restPort: port("rest-port", "MOCK_REST_PORT", DEFAULTS.rest),
    grpcPort: port("grpc-port", "MOCK_GRPC_PORT", DEFAULTS.grpc),
    graphqlPort: port("graphql-port", "MOCK_GRAPHQL_PORT", DEFAULTS.graphql),
    logLevel: env.oneOf("LOG_LEVEL", "info", logLevels),
    stateful,
    faults: env.string("MOCK_FAULTS", ""),
    seed: env.int("MOCK_SEED", 1, 0, 2_147_483_647),
    ...(record ? { record } : {}),
    ...(recordGrpc ? { recordGrpc } : {}),
    recordingDir: flags.values.out ?? env.string("MOCK_RECORDING_DIR", "recordings"),
    ...(pact ? { pact } : {}),
    ...(replay ? { replay } : {}),
  };
}
