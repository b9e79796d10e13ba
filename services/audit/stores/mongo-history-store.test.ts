import { after, before } from "node:test";
import { type RunningServer, startMongo } from "../../../scripts/infra/index.js";
import { historyStoreSpec } from "./history-store-spec.js";
import { createMongoHistoryStore } from "./mongo-history-store.js";

let mongo: RunningServer;
before(async () => {
  mongo = await startMongo();
});
after(async () => {
  await mongo?.stop();
});

historyStoreSpec("MongoDB history store", () => createMongoHistoryStore({ url: mongo.url, connectTimeoutMs: 5_000 }));
