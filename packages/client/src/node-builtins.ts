/**
 * Node's built-in modules for the client's main entry, loaded without an ES module facade.
 *
 * A static `import { x } from "node:zlib"` makes Node build an ES module facade of the whole built-in
 * (every export read, lazy ones such as `crypto.webcrypto` or `net.BlockList` loaded with it) when the
 * client is imported: measured at about 1.7 ms of a Lambda's cold start for the seven built-ins the
 * client uses, more than the modules themselves cost when ioredis `require`s them anyway. Here they
 * come from `process.getBuiltinModule` (Node 20.16+), or `require` on older Node, and only when a
 * function first needs them: zlib, for instance, only once a value is compressed or decompressed.
 */
import { createRequire } from "node:module";

let load: ((id: string) => unknown) | undefined;

/** Overridable by tests: the `process.getBuiltinModule` to use (undefined: the `require` fallback). */
export const builtinLoader = {
  get: (): ((id: string) => unknown) | undefined =>
    typeof process.getBuiltinModule === "function" ? process.getBuiltinModule.bind(process) : undefined,
};

/** The built-in module `id` (e.g. `builtin<typeof import("node:zlib")>("node:zlib")`). */
export function builtin<T>(id: `node:${string}`): T {
  load ??=
    builtinLoader.get() ??
    // CommonJS build: __filename; ES modules (and ESM bundles): import.meta.url.
    createRequire(typeof __filename === "string" ? __filename : import.meta.url);
  return load(id) as T;
}

/** Forgets the loader (tests). */
export function resetBuiltinLoader(): void {
  load = undefined;
}

/** `setTimeout` of `node:timers/promises`, without loading it. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
