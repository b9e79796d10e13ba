/**
 * The audit service's entry point. Tracing starts first, so that the modules it instruments are patched when
 * serve.ts (the composition root) imports them.
 */
import { startTracing } from "../../platform/tracing.js";

await startTracing("audit");
await import("./serve.js");
