import { runUserStoreSpec } from "../../../test/specs/user-store-spec.js";
import { createMemoryUserStore } from "./memory-user-store.js";

runUserStoreSpec("memory", async () => {
  const store = createMemoryUserStore();
  return { store, cleanup: () => store.close() };
});
