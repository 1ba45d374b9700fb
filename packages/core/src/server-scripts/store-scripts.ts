/**
 * `@cacheplane/core/server-scripts/store`: the scripts a cache store runs itself (lock acquisition
 * with fencing, compare-and-act) and the library's function names, without the rate limit scripts,
 * so the client's main bundle carries only the Lua it can run. Everything is also exported from
 * `@cacheplane/core/server-scripts`.
 */
export { compareAndDeleteScript, compareAndExpireScript, compareAndSetScript } from "./compare.js";
export type { ServerScript } from "./define.js";
export { SCRIPT_LIBRARY_NAME, SCRIPT_LIBRARY_VERSION, scriptFunctionName } from "./library-version.js";
export { lockAcquireScript } from "./lock.js";
