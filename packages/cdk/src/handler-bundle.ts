/**
 * Where the membership handler's Lambda code comes from, and how it is bundled.
 *
 * - Running from TypeScript source (this repository: tests, `cdk synth` of the example app),
 *   `NodejsFunction` bundles `src/handler/index.ts` with the local esbuild at synth time, resolving the
 *   other Cacheplane packages to their sources (the `@cacheplane/source` export condition).
 * - Installed from the registry, the package ships the same bundle prebuilt by `npm run build`
 *   (`dist/membership-handler/index.mjs`, made with `HANDLER_BUNDLING`), so an app needs neither esbuild
 *   nor Docker to synthesize.
 *
 * Paths are resolved from the package root (`../`), so they are the same from `src/`, `dist/` and
 * `dist-cjs/`.
 */
import { fileURLToPath } from "node:url";

/** Path of the handler's TypeScript entry (shipped in the package's `src/`). */
export const MEMBERSHIP_HANDLER_ENTRY = fileURLToPath(new URL("../src/handler/index.ts", import.meta.url));

/** Directory of the prebuilt handler bundle (`index.mjs`, exporting `handler`). */
export const PREBUILT_HANDLER_DIR = fileURLToPath(new URL("../dist/membership-handler/", import.meta.url));

/** File name of the prebuilt bundle inside `PREBUILT_HANDLER_DIR`. */
export const PREBUILT_HANDLER_FILE = "index.mjs";

/** True when this module runs from its TypeScript source rather than from a build. */
export const RUNNING_FROM_SOURCE = import.meta.url.endsWith(".ts");

/** The export condition that resolves Cacheplane packages to their TypeScript sources. */
export const SOURCE_CONDITION = "@cacheplane/source";

/** esbuild options of the handler bundle, shared by synth-time bundling and the package build. */
export const HANDLER_BUNDLING = {
  format: "esm",
  target: "node24",
  minify: true,
  // The Lambda runtime ships AWS SDK v3.
  external: ["@aws-sdk/*"],
  // Bundled CommonJS dependencies call `require`: give the ES module one.
  banner:
    "import { createRequire as __cpRequire } from 'node:module'; const require = __cpRequire(import.meta.url);",
} as const;
