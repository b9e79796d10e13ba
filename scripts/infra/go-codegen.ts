/**
 * The Go code generators `npm run generate` runs, each built once from the Go module proxy and cached
 * (scripts/infra/go-build.ts) in ~/.cache/charter/<name>-<version>/: ogen for the REST client of the OpenAPI 3.1
 * contract (oapi-codegen reads OpenAPI 3.0 only, oapi-codegen#373), and protoc-gen-go with protoc-gen-go-grpc, which
 * buf runs as local plugins for the gRPC client of the proto contracts.
 */
import { lazy } from "../../platform/lazy.js";
import { ensureGoTool, type GoTool } from "./go-build.js";

export const OGEN_VERSION = "v1.25.0";
export const PROTOC_GEN_GO_VERSION = "v1.36.12";
export const PROTOC_GEN_GO_GRPC_VERSION = "v1.6.2";

const OGEN: GoTool = {
  title: "ogen",
  name: "ogen",
  module: "github.com/ogen-go/ogen",
  version: OGEN_VERSION,
  pkg: "./cmd/ogen",
  ldflags: "",
};

const PROTOC_GEN_GO: GoTool = {
  title: "protoc-gen-go",
  name: "protoc-gen-go",
  module: "google.golang.org/protobuf",
  version: PROTOC_GEN_GO_VERSION,
  pkg: "./cmd/protoc-gen-go",
  ldflags: "",
};

const PROTOC_GEN_GO_GRPC: GoTool = {
  title: "protoc-gen-go-grpc",
  name: "protoc-gen-go-grpc",
  module: "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
  version: PROTOC_GEN_GO_GRPC_VERSION,
  pkg: ".",
  ldflags: "",
};

export const ensureOgen = lazy((): Promise<string> => ensureGoTool(OGEN));

/** protoc-gen-go and protoc-gen-go-grpc, for buf's local plugins. */
export const ensureProtocGenGo = lazy(async (): Promise<{ go: string; grpc: string }> => {
  const go = await ensureGoTool(PROTOC_GEN_GO);
  const grpc = await ensureGoTool(PROTOC_GEN_GO_GRPC);
  return { go, grpc };
});
