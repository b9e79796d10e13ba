import { runMain } from "../../platform/lifecycle.js";
import { createLogger } from "../../platform/logging.js";
import { startUsers } from "./users-app.js";
import { loadUsersConfig } from "./users-config.js";

runMain("users", async () => {
  const config = loadUsersConfig();
  return startUsers(config, createLogger("users", config.logLevel));
});
