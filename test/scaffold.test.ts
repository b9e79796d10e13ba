/**
 * `npm run new:service` end to end, in a throwaway copy of the repository (its files as the working tree has them,
 * node_modules linked, not copied): the scaffold writes a service, `npm run generate` generates its code and
 * leaves every existing generated file as it was, the contracts lint passes, the whole tree typechecks and is
 * formatted, and the new service's own tests pass there (its fidelity test among them: one corpus through its gRPC,
 * the gateway's REST and GraphQL and its REST mock; and its consumer pact, verified against the copy's gateway and
 * service, and by `npm run pact:verify` once in pacts/); it answers through the copy's gateway and its REST, gRPC
 * and GraphQL mocks; the files of `npm test` that read every contract, RPC or module pass with it in the tree, and
 * the agreement, the breaking gate and the RPC completeness check name what is broken or taken away from it. A
 * taken or malformed name is refused in one line before anything is written. Nothing of the copy is kept.
 */
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { startDevIssuer } from "../platform/auth/dev-issuer.js";
import { startEtcd } from "../scripts/infra/index.js";
import { startKubeApiserver } from "../scripts/infra/kube-apiserver.js";
import { ensurePythonCodegen } from "../scripts/infra/provision.js";
import { checkFileVariables, checkProbePorts, checkReferences, type KubeObject } from "../scripts/lib/chart-checks.js";
import {
  CHART_NAMESPACE,
  CHART_RELEASE,
  chartCrds,
  chartTools,
  helmLint,
  kubeconform,
  renderChart,
  serverDryRun,
} from "../scripts/lib/helm-chart.js";
import { startService } from "../scripts/lib/processes.js";
import { repoRoot } from "../scripts/lib/proto-descriptor.js";
import { contractServiceClient, grpc, statusDetails } from "./support/contract-client.js";

const NAME = "books";
/** The programs that drive the new service's generated Python and Go clients. */
const SUPPORT = fileURLToPath(new URL("./support/scaffold/", import.meta.url));
let copy: string;

/** Runs a command in the copy; fails with its output when it fails. */
function run(command: string, args: readonly string[], timeoutMs = 120_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd: copy,
    encoding: "utf8",
    timeout: timeoutMs,
    // Not NODE_TEST_CONTEXT: a test runner started with it reports to this one instead of printing its results.
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NODE_TEST_CONTEXT")),
      FORCE_COLOR: "0",
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return result;
}

function ok(command: string, args: readonly string[], timeoutMs?: number): string {
  const result = run(command, args, timeoutMs);
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

before(async () => {
  copy = await mkdtemp(join(tmpdir(), "charter-scaffold-"));
  // The working tree's files (tracked, and new ones not ignored), as they are now.
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout
    .split("\0")
    .filter((f) => f !== "" && f !== "node_modules" && existsSync(join(repoRoot, f)));
  await Promise.all(
    files.map(async (file) => {
      await mkdir(dirname(join(copy, file)), { recursive: true });
      await cp(join(repoRoot, file), join(copy, file), { dereference: false });
    }),
  );
  await symlink(await realpath(join(repoRoot, "node_modules")), join(copy, "node_modules"), "dir");
});
after(() => rm(copy, { recursive: true, force: true }));

test(`new:service ${NAME} in a copy: generated, typechecked, linted, formatted, and its own tests pass`, async () => {
  const generatedBefore = readFileSync(join(copy, "generated/openapi/users.v1.ts"), "utf8");

  const bad = run("npx", ["tsx", "scripts/new-service.ts", "Books!"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^new:service: the service name must be a lower-case plural .*\n$/);
  const taken = run("npx", ["tsx", "scripts/new-service.ts", "users"]);
  assert.equal(taken.status, 1);
  assert.equal(taken.stderr, "new:service: a service named users exists already (services/users)\n");

  ok("npx", ["tsx", "scripts/new-service.ts", NAME]);
  for (const path of [
    "contracts/proto/charter/books/v1/books.proto",
    "contracts/openapi/books.v1.yaml",
    "contracts/graphql/books.graphql",
    "contracts/asyncapi/books-events.yaml",
    "services/books/domain/book.ts",
    "services/books/adapters/mongo-book-store.ts",
    "services/books/transport/books-grpc.ts",
    "services/books/books-app.ts",
    "docs/books.md",
    "deploy/helm/charter/values-books.yaml",
  ]) {
    assert.ok(existsSync(join(copy, path)), `${path} is written`);
  }
  const again = run("npx", ["tsx", "scripts/new-service.ts", NAME]);
  assert.equal(again.status, 1, "a second scaffold of the same name is refused");
  assert.match(again.stderr, /^new:service: a service named books exists already/);

  ok("npm", ["run", "--silent", "generate"]);
  for (const path of [
    "generated/proto/charter/books/v1/books.ts",
    "generated/python/charter_books_client/api/books/create_book.py",
    "generated/go/booksapi/oas_client_gen.go",
    "generated/openapi/books.v1.ts",
    "generated/graphql/books.ts",
    "generated/asyncapi/books-events.ts",
  ]) {
    assert.ok(existsSync(join(copy, path)), `${path} is generated`);
  }
  assert.equal(readFileSync(join(copy, "generated/openapi/users.v1.ts"), "utf8"), generatedBefore);
  const scopes = readFileSync(join(copy, "generated/proto/method-rules.ts"), "utf8");
  assert.match(scopes, /"charter\.books\.v1\.BooksService\/CreateBook": \[\s*"books:write"\s*\]/);

  ok("npx", ["tsx", "scripts/contracts-lint.ts"]);
  ok("npx", ["tsc", "--noEmit"]);
  ok("npx", ["biome", "check", "services/books", "contracts", "docs", "--files-ignore-unknown=true"]);

  const tests = (await readdir(join(copy, "services/books"), { recursive: true }))
    .filter((file) => file.endsWith(".test.ts"))
    .map((file) => join("services/books", file))
    .sort();
  assert.deepEqual(tests, [
    "services/books/adapters/memory-book-store.test.ts",
    "services/books/adapters/mongo-book-store.test.ts",
    "services/books/app/books-service.test.ts",
    "services/books/books-app.test.ts",
    "services/books/books-fidelity.test.ts",
    "services/books/books-pact.test.ts",
  ]);
  const output = ok("node", ["scripts/test.mjs", ...tests]);
  assert.match(output, /ℹ fail 0/);
  const passed = Number(/ℹ pass (\d+)/.exec(output)?.[1] ?? 0);
  assert.ok(passed >= tests.length, `the new service's tests ran (${passed} passed)`);
});

test(`${NAME}'s Helm values: the copy's chart deploys it beside users, through the chart test's layers, in both discovery modes`, async (t) => {
  const chartDir = join(copy, "deploy/helm/charter");
  const file = join(chartDir, `values-${NAME}.yaml`);
  assert.ok(existsSync(file), "the scaffold wrote the service's values");
  const [tools, crds] = await Promise.all([chartTools(), chartCrds()]);
  const api = await startKubeApiserver({ crds });
  t.after(() => api.stop());
  await api.createNamespace(CHART_NAMESPACE);
  // The copy's own configuration loader: the chart's variables are the ones it reads, its ports the pod's.
  const { loadBooksConfig } = (await import(pathToFileURL(join(copy, "services/books/books-config.ts")).href)) as {
    loadBooksConfig: (env: Record<string, string>) => { grpcPort: number; metricsPort: number };
  };
  const service = `${CHART_RELEASE}-charter-${NAME}`;
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects
  type Any = any;
  for (const mode of ["etcd", "dns"] as const) {
    const values = { chartDir, files: [file], set: [`discovery.mode=${mode}`] };
    const lint = await helmLint(tools, values);
    assert.equal(lint.code, 0, `helm lint --strict (${mode}):\n${lint.stdout}${lint.stderr}`);
    const { yaml, objects } = await renderChart(tools, values);
    const { ran, summary } = await kubeconform(tools, yaml);
    assert.equal(ran.code, 0, `kubeconform (${mode}):\n${ran.stdout}${ran.stderr}`);
    assert.deepEqual(summary, { valid: objects.length, invalid: 0, errors: 0, skipped: 0 });
    const applied = await serverDryRun(api, yaml);
    assert.equal(applied.code, 0, `kubectl apply --dry-run=server (${mode}):\n${applied.stderr}`);
    assert.deepEqual([...checkReferences(objects), ...checkProbePorts(objects), ...checkFileVariables(objects)], []);

    const named = (kind: string, name = service): Any => {
      const found = objects.find((o: KubeObject) => o.kind === kind && o.metadata.name === name);
      assert.ok(found, `${mode}: ${kind} ${name} rendered`);
      return found;
    };
    const workload = named(mode === "dns" ? "StatefulSet" : "Deployment");
    for (const kind of [
      "Service",
      "ServiceAccount",
      "NetworkPolicy",
      "PodDisruptionBudget",
      "HorizontalPodAutoscaler",
    ]) {
      named(kind);
    }
    const container = workload.spec.template.spec.containers[0];
    const config = loadBooksConfig(named("ConfigMap").data);
    assert.deepEqual(
      container.ports.map((p: Any) => p.containerPort),
      [config.grpcPort, config.metricsPort],
    );
    const env = container.env.map((e: Any) => e.name);
    assert.ok(env.includes(mode === "dns" ? "BOOKS_WORKER_ID" : "BOOKS_ADVERTISE_ADDR"), env.join(" "));
    // In only from the gateway; the gateway may call it, and has its target.
    const from = named("NetworkPolicy").spec.ingress[0].from[0].podSelector.matchLabels;
    assert.equal(from["app.kubernetes.io/component"], "gateway");
    const gatewayEgress = named("NetworkPolicy", `${CHART_RELEASE}-charter-gateway`).spec.egress as Any[];
    assert.ok(
      gatewayEgress.some((rule) => rule.to?.[0]?.podSelector?.matchLabels?.["app.kubernetes.io/component"] === NAME),
      `${mode}: the gateway may reach ${NAME}`,
    );
    const gateway = named("ConfigMap", `${CHART_RELEASE}-charter-gateway`).data;
    if (mode === "dns") {
      assert.equal(gateway.BOOKS_ADDR, `dns:///${service}.${CHART_NAMESPACE}.svc.cluster.local:${config.grpcPort}`);
    } else {
      // With ETCD_ENDPOINTS the gateway dials etcd:///books, where each pod registers.
      assert.equal(gateway.BOOKS_ADDR, undefined);
      const gatewayEnv = named("Deployment", `${CHART_RELEASE}-charter-gateway`).spec.template.spec.containers[0].env;
      assert.ok(gatewayEnv.some((e: Any) => e.name === "ETCD_ENDPOINTS"));
    }
  }
  // The production example (mutual TLS, Kafka's SCRAM users): refused until the service's certificate is named.
  const production = { chartDir, files: [join(chartDir, "values-production.yaml"), file] };
  await assert.rejects(renderChart(tools, production), /tls\.secrets\.books is required with tls\.enabled/);
  const secured = await renderChart(tools, { ...production, set: ["tls.secrets.books=charter-books-tls"] });
  assert.deepEqual(checkFileVariables(secured.objects), []);
  const pod = secured.objects.find((o: KubeObject) => o.kind === "Deployment" && o.metadata.name === service) as Any;
  assert.ok(pod, "the books Deployment with TLS");
  assert.deepEqual(
    pod.spec.template.spec.volumes.filter((v: Any) => v.secret).map((v: Any) => v.secret.secretName),
    ["charter-books-tls", "charter-dependencies-ca", "charter-kafka-auth"],
  );
});

test(`${NAME} answers over REST and GraphQL through the copy's gateway, which finds it in etcd and its contracts by directory`, async (t) => {
  assert.ok(existsSync(join(copy, "generated/proto/charter/books/v1/books.ts")), "the service was generated");
  const issuer = await startDevIssuer({ port: 0, scopes: ["books:read", "books:write"] });
  t.after(() => issuer.close());
  const etcd = await startEtcd();
  t.after(() => etcd.stop());
  const client = issuer.clients[0];
  assert.ok(client);
  const env = {
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    ETCD_ENDPOINTS: etcd.url,
    OTEL_SDK_DISABLED: "true",
    REGISTRY_DRAIN_MS: "0",
  };
  const books = await startService(
    join(copy, "services/books/main.ts"),
    { ...env, BOOKS_HOST: "127.0.0.1" },
    "books service ready",
  );
  t.after(() => books.stop());
  const gateway = await startService(
    join(copy, "services/gateway/main.ts"),
    { ...env, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: "0" },
    "gateway ready",
  );
  t.after(() => gateway.stop());
  const base = `http://127.0.0.1:${gateway.ready.port}`;
  const token = `Bearer ${await issuer.token(client, ["books:read", "books:write"])}`;
  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, {
      method,
      headers: {
        authorization: token,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  const created = await send("POST", "/v1/books", { name: "Dune" });
  assert.equal(created.status, 201, await created.clone().text());
  assert.equal(created.headers.get("etag"), '"1"');
  const book = (await created.json()) as { id: string; name: string; etag: string };
  assert.equal(created.headers.get("location"), `/v1/books/${book.id}`);
  assert.deepEqual([book.name, book.etag], ["Dune", "1"]);
  const got = await send("GET", `/v1/books/${book.id}`);
  assert.equal(got.status, 200);
  assert.equal(((await got.json()) as { name: string }).name, "Dune");
  const page = await send("GET", "/v1/books?pageSize=10");
  assert.deepEqual(
    ((await page.json()) as { books: { id: string }[] }).books.map((b) => b.id),
    [book.id],
  );
  const renamed = await send("PATCH", `/v1/books/${book.id}`, { name: "Dune Messiah" }, { "if-match": '"1"' });
  assert.equal(renamed.status, 200, await renamed.clone().text());
  assert.equal(((await renamed.json()) as { name: string }).name, "Dune Messiah");
  const stale = await send("DELETE", `/v1/books/${book.id}`, undefined, { "if-match": '"1"' });
  assert.equal(stale.status, 412);
  assert.match(stale.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const invalid = await send("POST", "/v1/books", { name: "x", extra: true });
  assert.equal(invalid.status, 400);
  const anonymous = await fetch(`${base}/v1/books`);
  assert.equal(anonymous.status, 401);
  assert.equal((await send("DELETE", `/v1/books/${book.id}`, undefined, { "if-match": '"2"' })).status, 204);
  const gone = await send("GET", `/v1/books/${book.id}`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { code: string }).code, "NOT_FOUND");
  const empty = await send("GET", "/v1/books");
  assert.deepEqual(await empty.json(), { books: [] });
  // Its document is served beside users', and a method it does not declare on its path is 405, not 404.
  const served = await fetch(`${base}/openapi/books.json`);
  assert.equal(served.status, 200);
  assert.ok(((await served.json()) as { paths: Record<string, unknown> }).paths["/v1/books/{id}"]);
  const undeclared = await send("PUT", `/v1/books/${book.id}`, { name: "x" });
  assert.equal(undeclared.status, 405);
  assert.equal(undeclared.headers.get("allow"), "DELETE, GET, HEAD, PATCH");

  // GraphQL: the service's schema merged into the gateway's, its root fields resolved by their @rpc methods.
  const graphql = async (query: string): Promise<Record<string, unknown>> => {
    const response = await send("POST", "/graphql", { query });
    const answer = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
    return answer.data ?? {};
  };
  const made = (await graphql('mutation { createBook(input: { name: "Emma" }) { id name etag } }')).createBook as {
    id: string;
    etag: string;
  };
  assert.equal(made.etag, "1");
  const read = await graphql(
    `{ book(id: "${made.id}") { name } books(first: 10) { nodes { id } pageInfo { hasNextPage } } }`,
  );
  assert.deepEqual(read, {
    book: { name: "Emma" },
    books: { nodes: [{ id: made.id }], pageInfo: { hasNextPage: false } },
  });
  const changed = await graphql(
    `mutation { updateBook(input: { id: "${made.id}", etag: "1", name: "Persuasion" }) { name etag } }`,
  );
  assert.deepEqual(changed, { updateBook: { name: "Persuasion", etag: "2" } });
  assert.deepEqual(await graphql(`mutation { deleteBook(id: "${made.id}", etag: "2") { id } }`), {
    deleteBook: { id: made.id },
  });
  assert.deepEqual(await graphql(`{ book(id: "${made.id}") { name } }`), { book: null });

  // The Python and Go clients `npm run generate` wrote from its OpenAPI document, against the same gateway.
  const clientEnv = { BASE: base, TOKEN: token.slice("Bearer ".length) };
  const { python } = await ensurePythonCodegen();
  const fromPython = spawnSync(python, [join(SUPPORT, "books_client_check.py")], {
    cwd: copy,
    encoding: "utf8",
    env: { ...process.env, ...clientEnv, PYTHONPATH: join(copy, "generated/python") },
  });
  assert.equal(fromPython.status, 0, `${fromPython.stdout}\n${fromPython.stderr}`);
  assert.deepEqual(JSON.parse(fromPython.stdout), {
    created: 201,
    name: "Middlemarch",
    etag: "1",
    missing: 404,
    code: "NOT_FOUND",
  });
  const goMain = join(copy, "sdk/go/cmd/bookscheck/main.go");
  await mkdir(dirname(goMain), { recursive: true });
  await cp(join(SUPPORT, "books_client_check.go"), goMain);
  const fromGo = spawnSync("go", ["run", "./cmd/bookscheck"], {
    cwd: join(copy, "sdk/go"),
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, ...clientEnv, GOFLAGS: "-modcacherw -buildvcs=false -mod=readonly" },
  });
  assert.equal(fromGo.status, 0, `${fromGo.stdout}\n${fromGo.stderr}`);
  // The ETag header as sent, a quoted entity tag.
  assert.deepEqual(JSON.parse(fromGo.stdout), { name: "Persuasion", etag: '"1"', missing: "NOT_FOUND" });
});

test(`${NAME} answers through its REST, gRPC and GraphQL mocks, which npm run mock starts from its contracts`, async (t) => {
  assert.ok(existsSync(join(copy, "contracts/openapi/books.v1.yaml")), "the service was scaffolded");
  const mocks = await startService(
    join(copy, "mocks/main.ts"),
    {
      MOCK_HOST: "127.0.0.1",
      MOCK_REST_PORT: "0",
      MOCK_GRPC_PORT: "0",
      MOCK_GRAPHQL_PORT: "0",
      // A fault of one of its operations, named as the users operations are.
      MOCK_FAULTS: "deleteBook=503",
    },
    "mocks ready",
    60_000,
  );
  t.after(() => mocks.stop());
  const base = (mocks.ready.services as Record<string, string> | undefined)?.books;
  assert.ok(base, `the ready line names the books mock: ${JSON.stringify(mocks.ready)}`);
  // The mocks verify no token, but the contract's security wants one sent.
  const authorization = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln";
  const got = await fetch(`${base}/v1/books/7281634251938816001`, { headers: { authorization } });
  assert.equal(got.status, 200);
  assert.deepEqual(await got.json(), {
    id: "7281634251938816001",
    name: "First book",
    etag: "1",
    createTime: "2026-01-15T09:30:00Z",
    updateTime: "2026-01-15T09:30:00Z",
  });
  const created = await fetch(`${base}/v1/books`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ name: "Dune" }),
  });
  assert.equal(created.status, 201);
  const invalid = await fetch(`${base}/v1/books`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ title: "no name" }),
  });
  assert.equal(invalid.status, 400, "Prism refuses a body the contract does not allow, with the contract's 400");
  assert.equal((await fetch(`${base}/v1/books`)).status, 401);
  // Its Prism is behind a REST front as users' is: Prefer: delay= is read there, the configured fault answered there.
  const delayed = await fetch(`${base}/v1/books/7281634251938816001`, {
    headers: { authorization, prefer: "delay=1, code=404" },
  });
  assert.equal(delayed.status, 404, "the rest of the Prefer header goes on to Prism");
  const badDelay = await fetch(`${base}/v1/books/7281634251938816001`, {
    headers: { authorization, prefer: "delay=x" },
  });
  assert.equal(badDelay.status, 400);
  assert.equal(((await badDelay.json()) as { code: string }).code, "INVALID_ARGUMENT");
  const faulted = await fetch(`${base}/v1/books/7281634251938816001`, { method: "DELETE", headers: { authorization } });
  assert.equal(faulted.status, 503);
  assert.deepEqual(await faulted.json(), {
    type: "https://charter.dev/problems/unavailable",
    title: "Service unavailable",
    status: 503,
    detail: "the books service is unavailable",
    code: "UNAVAILABLE",
    instance: "/v1/books/7281634251938816001",
  });

  // gRPC: the service on the users mock's port, answering from the same examples, requests checked by the proto.
  const named = (mocks.ready.serviceMocks as Record<string, Record<string, string>> | undefined)?.books;
  assert.ok(
    named?.grpc && named.graphql,
    `the ready line names the books gRPC and GraphQL mocks: ${JSON.stringify(named)}`,
  );
  assert.equal(named.rest, base);
  assert.equal(named.grpcService, "charter.books.v1.BooksService");
  // Loaded from the copy's proto alone (its imports from the repository's contracts/proto).
  const client = contractServiceClient(
    join(copy, "contracts/proto/charter/books/v1/books.proto"),
    named.grpcService,
    named.grpc,
  );
  t.after(() => client.close());
  const metadata = (prefer?: string) => {
    const values = new grpc.Metadata();
    values.set("authorization", authorization);
    if (prefer) values.set("prefer", prefer);
    return values;
  };
  const firstBook = {
    id: "7281634251938816001",
    name: "First book",
    etag: "1",
    createTime: { seconds: "1768469400", nanos: 0 },
    updateTime: { seconds: "1768469400", nanos: 0 },
  };
  assert.deepEqual(await client.call("GetBook", { id: firstBook.id }, metadata()), { book: firstBook });
  assert.deepEqual(await client.call("CreateBook", { book: { name: "Dune" } }, metadata()), { book: firstBook });
  const refused = async (call: Promise<unknown>, code: number) => {
    const error = await call.then(
      () => assert.fail("the call was answered"),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(error.code, code, error.details);
    return statusDetails(error);
  };
  assert.deepEqual((await refused(client.call("GetBook", { id: "abc" }, metadata()), 3)).fieldViolations, [
    { field: "id", description: "must match ^[0-9]{1,19}$" },
  ]);
  assert.deepEqual((await refused(client.call("CreateBook", { book: { name: " " } }, metadata()), 3)).fieldViolations, [
    { field: "book.name", description: "must not be blank" },
  ]);
  assert.deepEqual((await refused(client.call("CreateBook", {}, metadata()), 3)).fieldViolations, [
    { field: "book", description: "is required" },
  ]);
  const noToken = await refused(client.call("GetBook", { id: firstBook.id }), 16);
  assert.equal(noToken.message, "a valid bearer token is required");
  await refused(client.call("CreateBook", { book: { name: "Dune" } }), 16);
  // The contract's 404 problem example, as the users mock answers its own.
  const notFound = await refused(client.call("GetBook", { id: "1" }, metadata("code=NOT_FOUND")), 5);
  assert.equal(notFound.message, "book 7281634251938816001 not found");
  const unavailable = await refused(client.call("DeleteBook", { id: firstBook.id }, metadata()), 14);
  assert.equal(unavailable.message, "the books service is unavailable", "the configured fault of deleteBook");

  // GraphQL: its root fields merged into the users mock's schema, answering from the same examples.
  const graphql = async (query: string, headers: Record<string, string> = { authorization }) => {
    const response = await fetch(named.graphql as string, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, ...((await response.json()) as { data?: Any; errors?: Any[] }) };
  };
  // biome-ignore lint/suspicious/noExplicitAny: a GraphQL answer
  type Any = any;
  const exampleBook = { ...firstBook, createTime: "2026-01-15T09:30:00Z", updateTime: "2026-01-15T09:30:00Z" };
  assert.deepEqual(
    await graphql(
      `{ book(id: "${firstBook.id}") { id name etag createTime updateTime } books(first: 1) { nodes { id } } }`,
    ),
    { status: 200, data: { book: exampleBook, books: { nodes: [{ id: firstBook.id }] } } },
  );
  assert.deepEqual(await graphql('mutation { createBook(input: { name: "Dune" }) { id name } }'), {
    status: 200,
    data: { createBook: { id: firstBook.id, name: "First book" } },
  });
  const blank = await graphql('mutation { createBook(input: { name: " " }) { id } }');
  assert.equal(blank.errors?.[0]?.extensions?.code, "INVALID_ARGUMENT");
  assert.deepEqual(blank.errors?.[0]?.extensions?.fieldViolations, [
    { field: "input.name", description: "must not be blank" },
  ]);
  const tooMany = await graphql("{ books(first: 0) { nodes { id } } }");
  assert.deepEqual(tooMany.errors?.[0]?.extensions?.fieldViolations, [
    { field: "first", description: "must be from 1 to 1000" },
  ]);
  const missing = await graphql("mutation { createBook(input: {}) { id } }");
  assert.equal(missing.status, 400, "GraphQL refuses an input its schema does not allow");
  const anonymous = await graphql(`{ book(id: "${firstBook.id}") { id } }`, {});
  assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  assert.deepEqual(anonymous.data, { book: null });
  const deleted = await graphql(`mutation { deleteBook(id: "${firstBook.id}") { id } }`);
  assert.equal(deleted.errors?.[0]?.extensions?.code, "UNAVAILABLE", "the configured fault of deleteBook");
  // The users fields are still there beside them.
  assert.equal((await graphql(`{ user(id: "${firstBook.id}") { name } }`)).data?.user?.name, "Ada Lovelace");
});

test(`${NAME}'s mocks keep one store behind its REST, gRPC and GraphQL with MOCK_STATEFUL=true`, async (t) => {
  assert.ok(existsSync(join(copy, "contracts/openapi/books.v1.yaml")), "the service was scaffolded");
  const mocks = await startService(
    join(copy, "mocks/main.ts"),
    { MOCK_HOST: "127.0.0.1", MOCK_REST_PORT: "0", MOCK_GRPC_PORT: "0", MOCK_GRAPHQL_PORT: "0", MOCK_STATEFUL: "true" },
    "mocks ready",
    60_000,
  );
  t.after(() => mocks.stop());
  const named = (mocks.ready.serviceMocks as Record<string, Record<string, string>> | undefined)?.books;
  assert.ok(named?.rest && named.grpc && named.graphql && named.grpcService, JSON.stringify(mocks.ready));
  const authorization = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln";
  const rest = (path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) =>
    fetch(`${named.rest}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization,
        ...(init.body === undefined
          ? {}
          : { "content-type": init.method === "PATCH" ? "application/merge-patch+json" : "application/json" }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  const client = contractServiceClient(
    join(copy, "contracts/proto/charter/books/v1/books.proto"),
    named.grpcService,
    named.grpc,
  );
  t.after(() => client.close());
  const metadata = new grpc.Metadata();
  metadata.set("authorization", authorization);
  const grpcCode = (call: Promise<unknown>) =>
    call.then(
      () => assert.fail("the call was answered"),
      (e: grpc.ServiceError) => e.code,
    );
  // biome-ignore lint/suspicious/noExplicitAny: a GraphQL answer
  const graphql = async (query: string): Promise<any> => {
    const response = await fetch(named.graphql as string, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ query }),
    });
    assert.equal(response.status, 200);
    return response.json();
  };
  const seconds = (time: string) => ({ seconds: String(Date.parse(time) / 1000), nanos: 0 });
  const FIRST = "7281634251938816001";

  // A create over REST, read over gRPC and GraphQL.
  const created = await rest("/v1/books", { method: "POST", body: { name: "Dune" } });
  assert.equal(created.status, 201);
  const book = (await created.json()) as { id: string; etag: string; createTime: string; updateTime: string };
  assert.equal(created.headers.get("etag"), '"1"');
  assert.equal(created.headers.get("location"), `/v1/books/${book.id}`);
  assert.notEqual(book.id, FIRST, "a new id, after the examples' ones");
  assert.deepEqual(
    { name: (book as { name?: string }).name, etag: book.etag, created: book.createTime === book.updateTime },
    { name: "Dune", etag: "1", created: true },
  );
  assert.deepEqual(await client.call("GetBook", { id: book.id }, metadata), {
    book: { ...book, createTime: seconds(book.createTime), updateTime: seconds(book.updateTime) },
  });
  assert.deepEqual(await graphql(`{ book(id: "${book.id}") { id name etag createTime updateTime } }`), {
    data: { book },
  });

  // Every update changes the etag; one at a stale etag is 412 over REST, ABORTED over gRPC and GraphQL.
  const renamed = await rest(`/v1/books/${book.id}`, {
    method: "PATCH",
    headers: { "if-match": '"1"' },
    body: { name: "Dune Messiah" },
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.headers.get("etag"), '"2"');
  const renamedBook = (await renamed.json()) as typeof book;
  assert.deepEqual({ ...renamedBook, updateTime: book.updateTime }, { ...book, name: "Dune Messiah", etag: "2" });
  const stale = await rest(`/v1/books/${book.id}`, {
    method: "PATCH",
    headers: { "if-match": '"1"' },
    body: { name: "x" },
  });
  assert.equal(stale.status, 412);
  assert.equal(((await stale.json()) as { code: string }).code, "ABORTED");
  const staleRpc = client.call(
    "UpdateBook",
    { book: { id: book.id, name: "x", etag: "1" }, updateMask: { paths: ["name"] } },
    metadata,
  );
  assert.equal(await grpcCode(staleRpc), grpc.status.ABORTED);
  const viaGrpc = (await client.call(
    "UpdateBook",
    { book: { id: book.id, name: "Children of Dune", etag: "2" }, updateMask: { paths: ["name"] } },
    metadata,
  )) as { book: { name: string; etag: string } };
  assert.deepEqual([viaGrpc.book.name, viaGrpc.book.etag], ["Children of Dune", "3"]);
  const staleField = await graphql(
    `mutation { updateBook(input: { id: "${book.id}", etag: "2", name: "x" }) { etag } }`,
  );
  assert.equal(staleField.errors?.[0]?.extensions?.code, "ABORTED");
  assert.deepEqual(
    await graphql(`mutation { updateBook(input: { id: "${book.id}", etag: "3", name: "God Emperor" }) { name etag } }`),
    { data: { updateBook: { name: "God Emperor", etag: "4" } } },
  );
  const read = await rest(`/v1/books/${book.id}`);
  assert.equal(read.headers.get("etag"), '"4"');
  assert.equal(((await read.json()) as { name: string }).name, "God Emperor");

  // A page lists what was created, on every protocol, in creation order.
  const second = (await client.call("CreateBook", { book: { name: "Emma" } }, metadata)) as { book: { id: string } };
  const firstPage = (await (await rest("/v1/books?pageSize=2")).json()) as {
    books: { id: string }[];
    nextPageToken?: string;
  };
  assert.deepEqual(
    firstPage.books.map((b) => b.id),
    [FIRST, book.id],
  );
  assert.ok(firstPage.nextPageToken, "a next page");
  const secondPage = (await (await rest(`/v1/books?pageSize=2&pageToken=${firstPage.nextPageToken}`)).json()) as {
    books: { id: string }[];
    nextPageToken?: string;
  };
  assert.deepEqual(secondPage, { books: [{ ...secondPage.books[0], id: second.book.id, name: "Emma" }] });
  const listed = (await client.call("ListBooks", { pageSize: 10 }, metadata)) as { books: { id: string }[] };
  assert.deepEqual(
    listed.books.map((b) => b.id),
    [FIRST, book.id, second.book.id],
  );
  assert.deepEqual(await graphql("{ books(first: 2) { nodes { id } pageInfo { hasNextPage } } }"), {
    data: { books: { nodes: [{ id: FIRST }, { id: book.id }], pageInfo: { hasNextPage: true } } },
  });

  // A delete (at a stale etag: 412) makes every read of it not found: 404, NOT_FOUND, null.
  assert.equal((await rest(`/v1/books/${book.id}`, { method: "DELETE", headers: { "if-match": '"3"' } })).status, 412);
  assert.equal((await rest(`/v1/books/${book.id}`, { method: "DELETE", headers: { "if-match": '"4"' } })).status, 204);
  const gone = await rest(`/v1/books/${book.id}`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { code: string }).code, "NOT_FOUND");
  assert.equal(await grpcCode(client.call("GetBook", { id: book.id }, metadata)), grpc.status.NOT_FOUND);
  assert.deepEqual(await graphql(`{ book(id: "${book.id}") { id } }`), { data: { book: null } });
  assert.deepEqual(await client.call("DeleteBook", { id: second.book.id }, metadata), {});
  assert.equal((await rest(`/v1/books/${second.book.id}`)).status, 404);
  assert.deepEqual(await graphql(`mutation { deleteBook(id: "${FIRST}") { id } }`), {
    data: { deleteBook: { id: FIRST } },
  });
  assert.deepEqual(await (await rest("/v1/books")).json(), { books: [] });
  // The users' store is its own: the example user is still there.
  assert.equal((await fetch(`${mocks.ready.rest}/v1/users/${FIRST}`, { headers: { authorization } })).status, 200);
});

test(`${NAME}'s pact, once UPDATE_PACTS=1 puts it in pacts/, is verified by npm run pact:verify with the others`, async () => {
  assert.ok(existsSync(join(copy, "services/books/books-pact.test.ts")), "the scaffold wrote the service's pact test");
  // Its tests ran in the first test above; here they write the pact into pacts/, as a team adopting it would.
  const updated = spawnSync("node", ["scripts/test.mjs", "services/books/books-pact.test.ts"], {
    cwd: copy,
    encoding: "utf8",
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NODE_TEST_CONTEXT")),
      FORCE_COLOR: "0",
      UPDATE_PACTS: "1",
    },
  });
  assert.equal(updated.status, 0, `${updated.stdout}\n${updated.stderr}`);
  assert.ok(existsSync(join(copy, "pacts/charter-books-client-charter-gateway.json")), "the pact is in pacts/");
  // The copy is no git repository: the provider version is given.
  const gatewayPacts = (await readdir(join(copy, "pacts"))).filter((f) => f.endsWith("-charter-gateway.json"));
  const verified = stripVTControlCharacters(
    ok("npx", ["tsx", "scripts/pact-verify.ts", "--provider-version", "scaffold"], 180_000),
  );
  assert.match(verified, /Verifying a pact between charter-books-client and charter-gateway/);
  assert.match(verified, new RegExp(`charter-gateway honours ${gatewayPacts.length} pact file\\(s\\)`));
});

/** Rewrites a file of the copy, failing when `from` is not in it. */
async function edit(path: string, from: string, to: string): Promise<void> {
  const text = await readFile(join(copy, path), "utf8");
  assert.ok(text.includes(from), `${path} holds ${from}`);
  await writeFile(join(copy, path), text.replace(from, to));
}

test(`the repository's checks of every contract and module, and the breaking gate, cover ${NAME} in the copy`, async () => {
  // Runs after the test above, which scaffolded and generated the service.
  assert.ok(existsSync(join(copy, "services/books")), "the service was scaffolded");
  // The files of `npm test` that read every contract, RPC or module, with the new service in the tree, and the image.
  const checks = [
    "test/contracts-agree.test.ts",
    "test/no-copied-limits.test.ts",
    "test/dependency-rules.test.ts",
    "test/rpc-completeness.test.ts",
    "test/config-docs.test.ts",
    // The gateway's image bundle carries the new service's generated module and starts with it.
    "test/image-bundle.test.ts",
  ];
  const checked = ok("node", ["scripts/test.mjs", ...checks]);
  assert.match(checked, /ℹ fail 0/);
  // Its configuration table, on its own page, is held to its loader.
  assert.match(checked, /✔ documents every variable services\/books\/books-config\.ts reads, and only those/);

  const git = (...args: string[]) =>
    ok("git", ["-c", "user.name=scaffold", "-c", "user.email=scaffold@example.com", ...args]);
  git("init", "--quiet");
  git("add", "--all");
  git("commit", "--quiet", "--no-verify", "-m", "the tree with books");
  git("tag", "contracts-v999");
  ok("npx", ["tsx", "scripts/contracts-breaking.ts"]);

  // A narrower name in OpenAPI than in the proto, and a path renamed: the agreement names the first, the gate both.
  await edit(
    "contracts/openapi/books.v1.yaml",
    "      minLength: 1\n      maxLength: 100\n",
    "      minLength: 1\n      maxLength: 50\n",
  );
  await edit("contracts/openapi/books.v1.yaml", "  /v1/books/{id}:", "  /v1/book/{id}:");
  await writeFile(
    join(copy, "agreement.ts"),
    'import { compareServiceContracts, loadContracts, loadServiceContracts } from "./scripts/lib/contract-agreement.js";\n' +
      "console.log(JSON.stringify(compareServiceContracts(loadContracts(), loadServiceContracts())));\n",
  );
  const problems = JSON.parse(ok("npx", ["tsx", "agreement.ts"])) as string[];
  assert.ok(
    problems.some((p) =>
      /^books: Book\.name limits: proto says .*"maxLength":100.*OpenAPI says .*"maxLength":50/.test(p),
    ),
    problems.join("\n"),
  );
  const gate = run("npx", ["tsx", "scripts/contracts-breaking.ts"]);
  assert.equal(gate.status, 1, `${gate.stdout}\n${gate.stderr}`);
  assert.match(gate.stdout + gate.stderr, /contracts\/openapi\/books\.v1\.yaml/);
  assert.match(gate.stdout + gate.stderr, /\/v1\/books\/\{id\}/);
});

test(`the RPC completeness check names a piece of ${NAME} taken away in the copy`, async () => {
  // Runs after the tests above: the copy holds the service, generated (its REST paths renamed by the test above).
  assert.ok(existsSync(join(copy, "generated/proto/charter/books/v1/books.ts")), "the service was generated");
  await edit("contracts/openapi/books.v1.yaml", "      x-charter-rpc: charter.books.v1.BooksService/GetBook\n", "");
  await edit("services/books/transport/books-grpc.ts", "    deleteBook: unary(", "    removedBook: unary(");
  await writeFile(
    join(copy, "completeness.ts"),
    'import { checkRpcCompleteness, loadRpcPieces } from "./test/support/rpc-completeness.js";\n' +
      "console.log(JSON.stringify(checkRpcCompleteness(await loadRpcPieces()).map((m) => [m.rpc, m.piece])));\n",
  );
  assert.deepEqual(JSON.parse(ok("npx", ["tsx", "completeness.ts"])), [
    ["charter.books.v1.BooksService/GetBook", "rest-operation"],
    // The GraphQL mock answers book(id:) from the operation that names GetBook: there is none now.
    ["charter.books.v1.BooksService/GetBook", "graphql-mock"],
    ["charter.books.v1.BooksService/DeleteBook", "grpc-handler"],
  ]);
});

test(`${NAME}'s image: npm run images finds it by its contract, and its bundle starts and passes its health check`, async (t) => {
  assert.ok(existsSync(join(copy, "services/books/healthcheck.ts")), "the scaffold wrote the image's health check");
  // The image list of `npm run images` and of the Dockerfile's build stage, both from the copy's contracts.
  const listed = ok("npx", [
    "tsx",
    "--eval",
    'import("./scripts/images/build.ts").then((m) => console.log(m.imageServices().join(",")))',
  ]);
  assert.equal(listed.trim(), `users,audit,gateway,${NAME}`);
  const unknown = spawnSync(process.execPath, ["scripts/images/bundle.mjs", join(copy, "unused")], {
    cwd: copy,
    encoding: "utf8",
    env: { ...process.env, SERVICES: "nosuch" },
  });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, new RegExp(`SERVICES must name some of users, audit, gateway, ${NAME}, got "nosuch"`));
  const out = await mkdtemp(join(tmpdir(), "charter-scaffold-image-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  const bundled = spawnSync(process.execPath, ["scripts/images/bundle.mjs", out], {
    cwd: copy,
    encoding: "utf8",
    env: { ...process.env, SERVICES: NAME },
  });
  assert.equal(bundled.status, 0, `${bundled.stdout}\n${bundled.stderr}`);
  const app = join(out, NAME, "app");
  assert.ok(existsSync(join(app, "contracts/proto/charter/books/v1/books.proto")), "its contracts ship with it");
  assert.equal(existsSync(join(app, "node_modules/tsx")), false, "no dev tools in the image");
  const issuer = await startDevIssuer({ port: 0, scopes: ["books:read"] });
  t.after(() => issuer.close());
  const env = {
    BOOKS_HOST: "127.0.0.1",
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    OTEL_SDK_DISABLED: "true",
  };
  const service = await startService(join(app, "main.js"), env, "books service ready");
  t.after(() => service.stop());
  const port = String(service.ready.grpcPort);
  const health = spawnSync(process.execPath, ["healthcheck.js"], {
    cwd: app,
    encoding: "utf8",
    env: { PATH: "", BOOKS_GRPC_PORT: port },
  });
  assert.equal(health.status, 0, `${health.stdout}${health.stderr}`);
  assert.match(health.stdout, /^healthy: grpc\.health\.v1 on 127\.0\.0\.1:\d+ is SERVING/);
});
