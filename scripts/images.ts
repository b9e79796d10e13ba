/** `npm run images [-- --base scratch|bookworm|<image>]`: see scripts/images/build.ts. */
import { parseArgs } from "node:util";
import { buildImages } from "./images/build.js";
import { ensureDockerEngine } from "./infra/docker.js";

const { values } = parseArgs({ options: { base: { type: "string", default: "scratch" } } });
try {
  const engine = await ensureDockerEngine();
  const images = await buildImages(engine, { base: values.base });
  for (const image of images) {
    console.log(
      `${image.ref.padEnd(40)} ${(image.sizeBytes / 1e6).toFixed(1).padStart(7)} MB  ${image.tags.join(", ")}`,
    );
  }
  console.log(`engine: ${engine.host}${engine.startedHere ? " (started now; npm run stack -- down stops it)" : ""}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
