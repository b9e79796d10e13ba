/**
 * `npm run images [-- --base scratch|bookworm|<image>] [--version <v>] [--dry-run]`: see scripts/images/build.ts.
 * `--dry-run` (what `npm run release -- --dry-run` runs) builds every image under the throwaway repository
 * charter-dry-run/ and removes those tags once all are built: the build is proven, no tag is left behind (only the
 * engine's layer cache keeps what was built).
 */
import { parseArgs } from "node:util";
import { buildImages } from "./images/build.js";
import { ensureDockerEngine } from "./infra/docker.js";

const DRY_RUN_REPOSITORY = "charter-dry-run";

const { values } = parseArgs({
  options: {
    base: { type: "string", default: "scratch" },
    version: { type: "string" },
    "dry-run": { type: "boolean", default: false },
  },
});
try {
  const engine = await ensureDockerEngine();
  const dryRun = values["dry-run"];
  const images = await buildImages(engine, {
    base: values.base,
    ...(values.version === undefined ? {} : { version: values.version }),
    ...(dryRun ? { repository: DRY_RUN_REPOSITORY } : {}),
  });
  for (const image of images) {
    console.log(
      `${image.ref.padEnd(40)} ${(image.sizeBytes / 1e6).toFixed(1).padStart(7)} MB  ${image.tags.join(", ")}`,
    );
  }
  if (dryRun) {
    await engine.ok(["image", "rm", ...images.flatMap((image) => image.tags)]);
    console.log(`dry run: the ${DRY_RUN_REPOSITORY}/ tags are removed again; nothing is tagged`);
  }
  console.log(`engine: ${engine.host}${engine.startedHere ? " (started now; npm run stack -- down stops it)" : ""}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
