// The system programs Cacheplane's tests and dev platform rely on, and where to look for them.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export const systemDeps = [
  {
    name: "redis-server",
    candidates: [process.env.REDIS_SERVER_BIN, "redis-server", "valkey-server"],
    required: true,
    why: "tests and `npm run dev` run real Redis servers",
    hint: "Install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, or set REDIS_SERVER_BIN.",
  },
  {
    name: "chromium",
    candidates: [process.env.CHROMIUM_BIN, "chromium", "chromium-browser", "google-chrome"],
    required: false,
    why: "browser tests of the gateway console",
    hint: "Install it with `sudo apt-get install -y chromium`, or set CHROMIUM_BIN.",
  },
];

/** Returns the absolute path of the first candidate found (absolute path or on PATH), else undefined. */
export function findExecutable(candidates) {
  for (const candidate of candidates) {
    if (!candidate) continue;
    const paths = candidate.includes("/")
      ? [candidate]
      : (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, candidate));
    for (const path of paths) {
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {}
    }
  }
  return undefined;
}
