/**
 * Headless Chromium for browser tests: Debian's `chromium` package (installed with apt-get when
 * missing and running as root, else the error says what to install), driven by playwright-core.
 * No browser is ever downloaded from anywhere else: playwright-core only gets the Debian binary.
 */
import { type Browser, chromium, type LaunchOptions } from "playwright-core";
import { ensureBinary } from "./provision.js";

let pending: Promise<string> | undefined;

/** Path of Debian's chromium binary, installing the package when it is missing (root only). */
export function ensureChromium(): Promise<string> {
  pending ??= ensureBinary("chromium", ["chromium"]).catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

/** Flags for a quiet, self-contained headless run as root in a container without a GPU. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

/** Launches headless Chromium (Debian's binary); the caller closes it. */
export async function launchBrowser(options: Omit<LaunchOptions, "executablePath"> = {}): Promise<Browser> {
  const executablePath = await ensureChromium();
  return chromium.launch({
    timeout: 60_000,
    ...options,
    headless: true,
    executablePath,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}
