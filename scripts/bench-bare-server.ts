/**
 * The benchmark's baseline: bare Fastify answering GET /v1/users/:id with a fixed user (the JSON
 * in BENCH_USER) and its ETag, no validation, no gRPC. Listens on 127.0.0.1, port 0, and logs one
 * JSON line "bare server ready" with its `port`. Started by scripts/bench.ts in its own process.
 */
import Fastify from "fastify";

const json = process.env.BENCH_USER;
if (!json) {
  console.error("BENCH_USER must hold the user's JSON");
  process.exit(2);
}
const user = JSON.parse(json) as { etag: string };
const app = Fastify({ logger: false });
app.get("/v1/users/:id", async (_request, reply) => {
  void reply.header("etag", `"${user.etag}"`);
  return user;
});
await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
const port = typeof address === "object" && address ? address.port : 0;
console.log(JSON.stringify({ level: "info", msg: "bare server ready", port }));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
