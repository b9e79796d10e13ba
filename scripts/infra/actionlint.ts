/**
 * actionlint, the linter of the GitHub Actions workflows in .github/workflows/, built once from the Go module proxy
 * (`go install github.com/rhysd/actionlint/cmd/actionlint@<version>` done the cached way, scripts/infra/go-build.ts)
 * into ~/.cache/charter/actionlint-<version>/, and Debian's shellcheck, which actionlint runs on every `run:` script.
 * actionlint looks for `shellcheck` and `pyflakes` on PATH by default, so the same workflow could pass on one machine
 * and fail on another: the lint passes `-shellcheck <the provisioned path>` and `-pyflakes=` (no workflow step runs
 * Python) so it judges the same way everywhere.
 */
import { lazy } from "../../platform/lazy.js";
import { ensureGoTool, type GoTool } from "./go-build.js";
import { ensureBinary } from "./provision.js";

export const ACTIONLINT_VERSION = "v1.7.12";

const ACTIONLINT: GoTool = {
  title: "actionlint",
  name: "actionlint",
  module: "github.com/rhysd/actionlint",
  version: ACTIONLINT_VERSION,
  pkg: "./cmd/actionlint",
  // What `actionlint -version` prints (command.go's version variable, set as its release build sets it).
  ldflags: `-X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION}`,
};

export const ensureActionlint = lazy((): Promise<string> => ensureGoTool(ACTIONLINT));
export const ensureShellcheck = lazy((): Promise<string> => ensureBinary("shellcheck", ["shellcheck"]));
