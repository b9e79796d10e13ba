/** The users service's composition root (main.ts imports it once tracing has started). */
import { runMain } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startTracing } from "../../platform/tracing.js";
import { resolveUsersConfig, startUsers } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

runMain("users", async () => {
  const tracing = await startTracing("users");
  const env = loadUsersConfig();
  const logger = createLogger("users", env.logLevel);
  const running = await startUsers(await resolveUsersConfig(env, logger), logger);
  return {
    async stop() {
      await running.stop();
      await tracing.shutdown(); // the last spans leave before the process does
    },
  };
});
