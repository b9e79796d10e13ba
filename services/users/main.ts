/**
 * The users service's entry point. Tracing starts first, so that the modules it instruments are patched when
 * serve.ts (the composition root) imports them.
 */
import { startTracing } from "../../platform/tracing.js";

await startTracing("users");
await import("./serve.js");
