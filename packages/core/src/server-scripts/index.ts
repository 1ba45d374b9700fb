/**
 * `@cacheplane/core/server-scripts`: the platform's server scripts and the function library built
 * from them. Imported by the client (to call them) and by the provisioner (to load them); no zod,
 * so the client's Lambda bundle stays small.
 */
import { compareAndDeleteScript, compareAndExpireScript, compareAndSetScript } from "./compare.js";
import { buildScriptLibrary, type ScriptLibrary, type ServerScript } from "./define.js";
import { lockAcquireScript } from "./lock.js";
import { MAX_LIMITS_PER_CALL, multiLimitScript } from "./multi-limit.js";
import {
  fixedWindowScript,
  slidingWindowCounterScript,
  slidingWindowScript,
  tokenBucketScript,
} from "./rate-limit.js";

export { buildScriptLibrary, defineServerScript, type ScriptLibrary, type ServerScript } from "./define.js";
export { SCRIPT_LIBRARY_NAME, SCRIPT_LIBRARY_VERSION, scriptFunctionName } from "./library-version.js";
export {
  compareAndDeleteScript,
  compareAndExpireScript,
  compareAndSetScript,
  fixedWindowScript,
  lockAcquireScript,
  MAX_LIMITS_PER_CALL,
  multiLimitScript,
  slidingWindowCounterScript,
  slidingWindowScript,
  tokenBucketScript,
};

/** Every script of this release, in library order. Add new scripts here. */
export const SERVER_SCRIPTS: readonly ServerScript[] = Object.freeze([
  compareAndDeleteScript,
  compareAndExpireScript,
  fixedWindowScript,
  slidingWindowScript,
  slidingWindowCounterScript,
  tokenBucketScript,
  compareAndSetScript,
  lockAcquireScript,
  multiLimitScript,
]);

let library: ScriptLibrary | undefined;

/** The library of this release (built once). */
export function scriptLibrary(): ScriptLibrary {
  library ??= buildScriptLibrary(SERVER_SCRIPTS);
  return library;
}
