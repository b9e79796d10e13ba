import { createMemoryUserStore } from "./memory-user-store.js";
import { runUserStoreSpec } from "./user-store-spec.js";

runUserStoreSpec("memory", async () => {
  const store = createMemoryUserStore();
  return { store, cleanup: () => store.close() };
});
