// The dependency rules of the house (docs/architecture.md), checked by `npm test` (scripts/test.mjs) and by
// test/dependency-rules.test.ts. Paths are relative to the repository root; `.js` specifiers resolve to the
// `.ts` sources through tsconfig.json. Type-only imports count: a type names its module as surely as a value.

/** Runtime code: what ships and runs. Its unit tests (`*.test.ts`) beside it are not runtime. */
const RUNTIME = "^(platform|services|functions|mocks|sdk)/";
const TEST_FILE = "\\.test\\.ts$";
/** Packages and node builtins are always allowed where a rule lists the folders a module may import. */
const PACKAGES = "^node_modules/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "runtime-not-to-tests-or-tooling",
      severity: "error",
      comment:
        "Runtime code (platform/, services/, functions/, mocks/, sdk/) never imports tests, test support (test/) or tooling " +
        "(scripts/): what ships must not carry the harness that checks it, nor need it to start.",
      from: { path: RUNTIME, pathNot: TEST_FILE },
      to: { path: ["^(test|scripts)/", TEST_FILE] },
    },
    {
      name: "platform-not-to-services",
      severity: "error",
      comment:
        "platform/ is shared by every service and names none: it never imports a service or a mock. What a " +
        "service needs from it is passed in (names, codes, rules), never looked up from the service.",
      from: { path: "^platform/" },
      to: { path: "^(services|mocks)/" },
    },
    {
      name: "platform-not-to-service-contracts",
      severity: "error",
      comment:
        "platform/ uses only the generic generated code: the field-rule and method-scope tables " +
        "(generated/proto/field-rules.ts, method-rules.ts), the google/ well-known and rpc types and the " +
        "charter.contract annotations. A service's generated types " +
        "(its proto package, OpenAPI, GraphQL or AsyncAPI types) belong to that service.",
      from: { path: "^platform/" },
      to: { path: "^generated/", pathNot: "^generated/proto/((field|method)-rules\\.ts$|google/|charter/contract/)" },
    },
    {
      name: "functions-not-to-services",
      severity: "error",
      comment:
        "A function (functions/) gets events and calls the platform over its contracts (gRPC, the generated " +
        "types), as any client would: it never imports a service's or a mock's code, so it deploys on its own.",
      from: { path: "^functions/" },
      to: { path: "^(services|mocks)/" },
    },
    {
      name: "mocks-only-platform-and-generated",
      severity: "error",
      comment:
        "A mock answers from the contracts alone: it imports only mocks/, platform/, generated/, packages and node " +
        "builtins. A mock that imports a service would copy its behaviour instead of the contract's.",
      from: { path: "^mocks/", pathNot: TEST_FILE },
      to: { pathNot: ["^(mocks|platform|generated)/", PACKAGES], dependencyTypesNot: ["core"] },
    },
    {
      name: "sdk-only-sdk-and-generated",
      severity: "error",
      comment:
        "The SDK is published to clients: it imports only sdk/, generated/, packages and node builtins, so it " +
        "works without the platform or any service's code.",
      from: { path: "^sdk/", pathNot: TEST_FILE },
      to: { pathNot: ["^(sdk|generated)/", PACKAGES], dependencyTypesNot: ["core"] },
    },
    {
      name: "domain-not-to-outer-layers",
      severity: "error",
      comment:
        "A service's domain/ (rules, entities, ports) is pure: it imports neither its use cases (app/), nor an " +
        "adapter, nor a transport, nor the composition and configuration at the service root.",
      from: { path: "^services/([^/]+)/domain/", pathNot: TEST_FILE },
      to: { path: ["^services/$1/(app|adapters|transport)/", "^services/$1/[^/]+$"] },
    },
    {
      name: "app-not-to-adapters-or-transport",
      severity: "error",
      comment:
        "A service's app/ (use cases) works over the domain's ports: it never imports an adapter (which " +
        "implements a port) nor a transport (which calls the use cases). The service root wires them.",
      from: { path: "^services/([^/]+)/app/", pathNot: TEST_FILE },
      to: { path: "^services/$1/(adapters|transport)/" },
    },
    {
      name: "transport-not-to-adapters",
      severity: "error",
      comment:
        "A transport (gRPC handlers, REST, GraphQL) calls the use cases or the ports, never an adapter: which " +
        "store, cache or client sits behind a port is the service root's choice.",
      from: { path: "^services/([^/]+)/transport/", pathNot: TEST_FILE },
      to: { path: "^services/$1/adapters/" },
    },
    {
      name: "adapters-not-to-transport",
      severity: "error",
      comment:
        "An adapter implements a port for the app; it never reaches up into a transport, which is the other " +
        "edge of the service.",
      from: { path: "^services/([^/]+)/adapters/", pathNot: TEST_FILE },
      to: { path: "^services/$1/transport/" },
    },
    {
      name: "no-cross-service",
      severity: "error",
      comment:
        "A service never imports another service: they talk over their contracts (gRPC, events). The one " +
        "exception is the next rule's.",
      from: { path: "^services/([^/]+)/", pathNot: ["^services/[^/]+/serve\\.ts$", TEST_FILE] },
      to: { path: "^services/", pathNot: "^services/$1/" },
    },
    {
      name: "composition-root-only-to-composition",
      severity: "error",
      comment:
        "A composition root (services/*/serve.ts) may host another service in its process through that service's " +
        "composition module (*-app.ts) and configuration (*-config.ts), and nothing deeper. Today " +
        "services/users/serve.ts hosts the audit service in-process when there is no Kafka: the one such exception.",
      from: { path: "^services/([^/]+)/serve\\.ts$" },
      to: { path: "^services/", pathNot: ["^services/$1/", "^services/[^/]+/[^/]+-(app|config)\\.ts$"] },
    },
    {
      name: "no-circular",
      severity: "error",
      comment:
        "No import cycles: a cycle makes the load order decide what is initialised, and two modules that need " +
        "each other are one module or want a port between them.",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "Every import resolves to a file or a package; otherwise the rules above would silently judge nothing.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^node_modules/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    // The worktree's node_modules may be a symlink: keep package paths under node_modules/ either way.
    preserveSymlinks: true,
    // Resolve as Node does for ESM: package "exports" (e.g. @bufbuild/protobuf/wire, and this package's own
    // "charter/sdk") with the import condition.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "types", "node", "default"],
      mainFields: ["module", "main", "types"],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
