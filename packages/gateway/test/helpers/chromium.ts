// Where the browser tests find Chromium (playwright-core drives the system's Chromium; it downloads none).
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";

/** The skip reason of a browser test when no Chromium is found. */
export const CHROMIUM_INSTALL_HINT =
  "Chromium not found: set CHROMIUM_BIN or install it (Debian/Ubuntu: sudo apt-get install -y chromium)";

/** CHROMIUM_BIN, else `chromium` / `chromium-browser` on PATH; undefined when none is executable. */
export function findChromium(): string | undefined {
  const candidates = process.env.CHROMIUM_BIN
    ? [process.env.CHROMIUM_BIN]
    : (process.env.PATH ?? "")
        .split(delimiter)
        .filter((d) => d.length > 0)
        .flatMap((d) => [join(d, "chromium"), join(d, "chromium-browser")]);
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Headless Chromium at `executablePath` with the flags a test machine needs (no sandbox, no GPU, no background traffic). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
