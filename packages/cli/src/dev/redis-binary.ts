/** Finding the local `redis-server` (or `valkey-server`) binary for `cacheplane dev`. */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { CliError } from "../errors.js";

/** How to get a server binary, printed when none is found. */
export const REDIS_INSTALL_HINT =
  "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), " +
  "or set REDIS_SERVER_BIN to a redis-server/valkey-server binary";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The server binary: `$REDIS_SERVER_BIN` (a path or a name on PATH), else `redis-server` or
 * `valkey-server` on `$PATH`.
 * @throws CliError (exit 1) with install instructions when there is none.
 */
export function findRedisServerBinary(env: Record<string, string | undefined>): string {
  const pathVar = env.PATH ?? "";
  const fromEnv = env.REDIS_SERVER_BIN;
  if (fromEnv) {
    const found = fromEnv.includes("/")
      ? isExecutable(fromEnv)
        ? fromEnv
        : undefined
      : onPath(fromEnv, pathVar);
    if (found) return found;
    throw new CliError(`REDIS_SERVER_BIN=${fromEnv} is not an executable file; ${REDIS_INSTALL_HINT}`);
  }
  for (const name of ["redis-server", "valkey-server"]) {
    const found = onPath(name, pathVar);
    if (found) return found;
  }
  throw new CliError(`redis-server not found on PATH; ${REDIS_INSTALL_HINT}`);
}
