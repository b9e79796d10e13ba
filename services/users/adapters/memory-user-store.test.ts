import { runUserStoreSpec } from "../../../test/specs/user-store-spec.js";
import { createMemoryUserStore } from "./memory-user-store.js";

runUserStoreSpec("memory", async ({ now }) => {
  const store = createMemoryUserStore({ now });
  return { store, cleanup: () => store.close() };
});
