import { execFileSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export const REDIS_INSTALL_HINT =
  "Install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, " +
  "or set REDIS_SERVER_BIN to the path of a redis-server / valkey-server binary.";

const SERVER_NAMES = ["redis-server", "valkey-server"];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Absolute path of the Redis server binary: `REDIS_SERVER_BIN` if set, else `redis-server` or
 * `valkey-server` on PATH. Throws an Error with an install hint when none is found.
 */
export function findRedisServer(): string {
  const fromEnv = process.env.REDIS_SERVER_BIN;
  if (fromEnv) {
    const resolved = fromEnv.includes("/") ? fromEnv : findOnPath(fromEnv);
    if (resolved && isExecutableFile(resolved)) return resolved;
    throw new Error(`REDIS_SERVER_BIN=${fromEnv} is not an executable file. ${REDIS_INSTALL_HINT}`);
  }
  for (const name of SERVER_NAMES) {
    const found = findOnPath(name);
    if (found) return found;
  }
  throw new Error(
    `redis-server was not found on PATH (also looked for valkey-server). ${REDIS_INSTALL_HINT}`,
  );
}

export interface RedisServerVersion {
  major: number;
  minor: number;
  patch: number;
  /** The raw `--version` line. */
  text: string;
}

const versions = new Map<string, RedisServerVersion>();

/** Version of the given server binary (`redis-server --version`), cached per path. */
export function redisServerVersion(bin: string = findRedisServer()): RedisServerVersion {
  const cached = versions.get(bin);
  if (cached) return cached;
  const text = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim();
  const match = /v=(\d+)\.(\d+)\.(\d+)/.exec(text);
  const version: RedisServerVersion = match
    ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text }
    : { major: 0, minor: 0, patch: 0, text };
  versions.set(bin, version);
  return version;
}
