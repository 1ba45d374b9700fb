/**
 * Loads a platform config file (`.ts`, `.mts`, `.js`, `.mjs`, `.cjs` or `.json`) and validates it with
 * core's `parseConfig`. Modules provide the config as their default export or as a `config` named
 * export (`export default defineConfig({...})`). Every error names the file.
 */
import { access, readFile } from "node:fs/promises";
import { extname, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, type PlatformConfig, parseConfig } from "@cacheplane/core";
import { tsImport } from "tsx/esm/api";
import { UsageError } from "./errors.js";

const MODULE_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"]);

/** The file name as the operator typed it relative to `cwd`, for messages. */
function displayName(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.startsWith("..") || rel === "" ? file : rel;
}

/** Picks the config out of a module namespace: `default`, else `config`; unwraps CommonJS interop. */
function configExport(namespace: Record<string, unknown>): unknown {
  let candidate = namespace.default ?? namespace.config;
  if (typeof candidate === "object" && candidate !== null && !("services" in candidate)) {
    const inner = candidate as Record<string, unknown>;
    if ("default" in inner || "config" in inner) candidate = inner.default ?? inner.config;
  }
  return candidate;
}

/** Reads the raw config object (not yet validated) from a config file. */
export async function readConfigFile(path: string, cwd: string = process.cwd()): Promise<unknown> {
  const file = resolve(cwd, path);
  const name = displayName(file, cwd);
  try {
    await access(file);
  } catch {
    throw new UsageError(`config file ${name} not found (resolved to ${file})`);
  }
  const ext = extname(file).toLowerCase();
  if (ext === ".json") {
    const text = await readFile(file, "utf8");
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new UsageError(`${name}: not valid JSON (${(error as Error).message})`);
    }
  }
  if (!MODULE_EXTENSIONS.has(ext)) {
    throw new UsageError(`${name}: unsupported config file type "${ext}"; use .ts, .js, .mjs or .json`);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    const message = (error as Error).message.split("\n").slice(0, 3).join(" ").trim();
    throw new UsageError(`${name}: could not load the config module: ${message}`);
  }
  const value = configExport(namespace);
  if (value === undefined) {
    throw new UsageError(
      `${name}: exports no config; write \`export default defineConfig({ ... })\` or \`export const config = ...\``,
    );
  }
  return value;
}

/**
 * Loads and validates a config file.
 * @throws UsageError (exit code 2) naming the file: missing file, load failure, or every problem
 * `parseConfig` found, one per line.
 */
export async function loadConfig(path: string, cwd: string = process.cwd()): Promise<PlatformConfig> {
  const raw = await readConfigFile(path, cwd);
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(`${displayName(resolve(cwd, path), cwd)}: ${error.message}`);
    }
    throw error;
  }
}
