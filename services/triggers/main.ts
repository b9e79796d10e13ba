/**
 * The triggers' entry point: delivers user events to functions as CloudEvents. Tracing starts first, so that the
 * modules it instruments are patched when serve.ts (the composition root) imports them.
 */
import { startTracing } from "../../platform/tracing.js";

await startTracing("triggers");
await import("./serve.js");
