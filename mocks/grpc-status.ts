/**
 * A gRPC error's google.rpc.Status (grpc-status-details-bin) in protobuf JSON and back, for the recordings: each
 * detail an object with its `@type` and the fields of its message (google.rpc.BadRequest, google.rpc.ErrorInfo …, as
 * generated from contracts/proto). A detail of a type the contract does not define keeps its bytes in `value`
 * (base64) when recorded, and is refused when replayed.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import * as errorDetails from "../generated/proto/google/rpc/error_details.js";
import { Status } from "../generated/proto/google/rpc/status.js";
import { AppError, codeOfGrpcStatus, grpcStatusOf } from "../platform/errors.js";

const DETAILS_KEY = "grpc-status-details-bin";
const TYPE_PREFIX = "type.googleapis.com/";

interface DetailCodec {
  decode(input: Uint8Array): unknown;
  encode(message: never): { finish(): Uint8Array };
  fromJSON(value: unknown): unknown;
  toJSON(message: never): unknown;
}

/** Every message of google/rpc/error_details.proto by its type URL (a nested message's name joined with dots). */
const DETAIL_CODECS = new Map(
  Object.entries(errorDetails as Record<string, unknown>)
    .filter((entry): entry is [string, DetailCodec] => typeof (entry[1] as DetailCodec | null)?.decode === "function")
    .map(([name, codec]) => [`${TYPE_PREFIX}${errorDetails.protobufPackage}.${name.replaceAll("_", ".")}`, codec]),
);

/** A google.rpc.Status in protobuf JSON: the status number, the message, the details. */
export interface StatusJson {
  readonly code: number;
  readonly message: string;
  readonly details: readonly ({ readonly "@type": string } & Record<string, unknown>)[];
}

/** The google.rpc.Status an error's trailers carry, in protobuf JSON; undefined when it carries none. */
export function statusJsonOf(metadata: Metadata | undefined): StatusJson | undefined {
  const bytes = metadata?.get(DETAILS_KEY)[0];
  if (!Buffer.isBuffer(bytes)) return undefined;
  const status = Status.decode(bytes);
  return {
    code: status.code,
    message: status.message,
    details: status.details.map(({ typeUrl, value }) => {
      const codec = DETAIL_CODECS.get(typeUrl);
      return codec
        ? { "@type": typeUrl, ...(codec.toJSON(codec.decode(value) as never) as object) }
        : { "@type": typeUrl, value: Buffer.from(value).toString("base64") };
    }),
  };
}

/**
 * The error a recorded status is sent as: its code, its message and its details, encoded as the services encode them.
 * A status that does not fit the contract's error model (an unknown code, a detail of a type google/rpc does not
 * define) is an INTERNAL AppError naming what is wrong, never sent as it is.
 */
export function serviceErrorOf(recorded: unknown): Partial<ServiceError> {
  const status = recorded as Partial<StatusJson> | null;
  const problems: string[] = [];
  const code = status?.code;
  if (typeof code !== "number" || code === 0 || grpcStatusOf[codeOfGrpcStatus(code)] !== code) {
    problems.push(`code ${JSON.stringify(code)} is not an error code of google.rpc.Code`);
  }
  if (typeof status?.message !== "string") problems.push("message must be a string");
  const details = (Array.isArray(status?.details) ? status.details : []).flatMap((detail: unknown) => {
    const { "@type": typeUrl, ...fields } = (detail ?? {}) as StatusJson["details"][number];
    const codec = DETAIL_CODECS.get(typeUrl);
    if (!codec) {
      problems.push(`details: ${JSON.stringify(typeUrl)} is not a google.rpc error detail`);
      return [];
    }
    return [{ typeUrl, value: Buffer.from(codec.encode(codec.fromJSON(fields) as never).finish()) }];
  });
  if (problems.length > 0) {
    throw new AppError("INTERNAL", `the recorded status breaks the error model: ${problems.join("; ")}`);
  }
  const message = String(status?.message);
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(Status.encode({ code: Number(code), message, details }).finish()));
  return { code: Number(code), details: message, metadata };
}
