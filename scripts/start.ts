/**
 * `npm start`: the whole platform on one machine, on embedded defaults unless the
 * environment names real backends (MONGO_URL, REDIS_URL). Waits until every service
 * is ready, prints where to reach it, and stops everything on Ctrl-C.
 */
import { startService } from "./lib/processes.js";

const env = { LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" };
const users = await startService("services/users/main.ts", env, "users service ready").catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});

const embedded = [!process.env.MONGO_URL && "store (in-memory)", !process.env.REDIS_URL && "cache (in-memory)"].filter(
  Boolean,
);
console.log(`
Charter is running.

  users gRPC      127.0.0.1:${users.ready.grpcPort}   (health + reflection on the same port)
  users metrics   http://127.0.0.1:${users.ready.metricsPort}/metrics
${embedded.length > 0 ? `\n  Embedded backends: ${embedded.join(", ")}. In-memory data is lost on exit;\n  set MONGO_URL and REDIS_URL to use real servers.\n` : ""}
Press Ctrl-C to stop.`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping…");
  const code = await users.stop();
  process.exit(code ?? 0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
void users.exited.then((code) => {
  if (!stopping) {
    console.error(`users service exited unexpectedly (${code}):\n${users.output.slice(-20).join("\n")}`);
    process.exit(1);
  }
});
