import { busSpec } from "./bus-spec.js";
import { createMemoryBus } from "./memory-bus.js";

busSpec("in-process bus", { bus: async () => createMemoryBus() });
