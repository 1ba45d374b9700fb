/**
 * Server scripts: the Lua the platform runs inside Redis for the client's atomic operations (rate
 * limits, lock release and renewal). One definition serves two transports:
 * - a Redis function library (`FUNCTION LOAD`, by the platform's admin identity), which services
 *   call with `FCALL` and cannot change: the default, so tenants never need `EVAL`;
 * - `EVALSHA`/`EVAL` of the same text, for services that were granted `scripting: true`.
 * Every script declares all keys it touches (one here) and bounds its own work whatever its
 * arguments, because a tenant can call the functions directly with any arguments.
 */
import { createRequire } from "node:module";

/**
 * SHA-1 hex of `text`. `node:crypto` comes from `process.getBuiltinModule` (Node 20.16+; `require`
 * before) when first needed, not from a static import: an ES module facade of `node:crypto` costs a
 * Lambda bundle's cold start even when no script is ever hashed (the client's node-builtins.ts).
 */
function sha1Hex(text: string): string {
  const crypto = (process.getBuiltinModule?.("node:crypto") ??
    createRequire(typeof __filename === "string" ? __filename : import.meta.url)(
      "node:crypto",
    )) as typeof import("node:crypto");
  return crypto.createHash("sha1").update(text).digest("hex");
}

export interface ServerScript {
  /** Letters and digits; part of the function name. */
  readonly name: string;
  /** The script body as for EVAL: reads `KEYS` and `ARGV`. */
  readonly lua: string;
  /** SHA-1 of `lua` (what EVALSHA takes). */
  readonly sha: string;
  /** The script only reads: registered with the `no-writes` flag (callable with FCALL_RO). */
  readonly readOnly: boolean;
}

const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

export function defineServerScript(
  name: string,
  lua: string,
  options?: { readOnly?: boolean },
): ServerScript {
  if (!NAME.test(name)) throw new Error(`server script name "${name}" must be letters and digits`);
  // The SHA-1 is computed on first use (EVALSHA fallback only), not when the module loads: every
  // script is defined at import, and hashing them all was part of the client's cold start.
  let sha: string | undefined;
  return Object.freeze({
    name,
    lua,
    get sha(): string {
      sha ??= sha1Hex(lua);
      return sha;
    },
    readOnly: options?.readOnly ?? false,
  });
}

/** A versioned function library built from a list of scripts. */
export interface ScriptLibrary {
  /** `cacheplane_<version>`: what `FUNCTION LIST LIBRARYNAME` finds. */
  readonly name: string;
  /** 10 hex digits of the SHA-1 of the library code: a new version whenever any script changes. */
  readonly version: string;
  /** The `FUNCTION LOAD` payload. */
  readonly code: string;
  /** The FCALL name of `script` in this library (`cp_<version>_<name>`). */
  functionName(script: ServerScript): string;
}

/**
 * Builds the library. Function names carry the version, so several versions can be loaded at once
 * (clients of the old and the new release both work while a deploy rolls) and a client never calls
 * a function whose body differs from its own copy.
 */
export function buildScriptLibrary(scripts: readonly ServerScript[]): ScriptLibrary {
  const seen = new Set<string>();
  for (const s of scripts) {
    if (seen.has(s.name)) throw new Error(`server script "${s.name}" is defined twice`);
    seen.add(s.name);
  }
  const body = (prefix: string) =>
    scripts
      .map((s) => {
        const flags = s.readOnly ? ", flags={'no-writes'}" : "";
        return [
          `local function ${s.name}(KEYS, ARGV)`,
          s.lua,
          "end",
          `redis.register_function{function_name='${prefix}${s.name}', callback=${s.name}${flags}}`,
        ].join("\n");
      })
      .join("\n");
  // The version is computed over the body with a placeholder prefix, then substituted.
  const version = sha1Hex(body("cp_VERSION_")).slice(0, 10);
  const prefix = `cp_${version}_`;
  const name = `cacheplane_${version}`;
  return Object.freeze({
    name,
    version,
    code: `#!lua name=${name}\n${body(prefix)}\n`,
    functionName: (script: ServerScript) => `${prefix}${script.name}`,
  });
}
