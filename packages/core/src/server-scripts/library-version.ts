/**
 * The version of the platform's script library (`buildScriptLibrary(SERVER_SCRIPTS).version`),
 * written out so that a client can name the library's functions without carrying every script's Lua:
 * the main client bundle holds only the scripts it runs itself (locks, compare-and-set), and the rate
 * limit scripts ride in `@cacheplane/client/rate-limits`. `test/server-scripts.test.ts` fails when a
 * script changes and this constant does not (it prints the new value).
 */
export const SCRIPT_LIBRARY_VERSION = "df4a658fcc";

/** `FUNCTION LIST LIBRARYNAME` of this release's library. */
export const SCRIPT_LIBRARY_NAME = `cacheplane_${SCRIPT_LIBRARY_VERSION}`;

/** The FCALL name of a script in this release's library (`cp_<version>_<name>`). */
export function scriptFunctionName(script: { readonly name: string }): string {
  return `cp_${SCRIPT_LIBRARY_VERSION}_${script.name}`;
}
