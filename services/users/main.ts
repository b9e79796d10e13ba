import { runMain } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { resolveUsersConfig, startUsers } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

runMain("users", async () => {
  const env = loadUsersConfig();
  const logger = createLogger("users", env.logLevel);
  return startUsers(await resolveUsersConfig(env, logger), logger);
});
