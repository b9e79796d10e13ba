import { historyStoreSpec } from "../../../test/specs/history-store-spec.js";
import { createMemoryHistoryStore } from "./memory-history-store.js";

historyStoreSpec("memory history store", async () => createMemoryHistoryStore());
