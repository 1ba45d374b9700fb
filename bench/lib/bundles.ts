/**
 * What a Lambda deploys: @cacheplane/client and, as the baseline, ioredis alone, each bundled by
 * esbuild the same way (ESM, minified, node20, the AWS SDK external as the Lambda runtime provides
 * it, and a `require` banner as ESM bundles of CommonJS code need). Written under
 * node_modules/.cache/cacheplane-bench/ so that the external packages resolve from the
 * repository's node_modules when a bundle is imported.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";

export const root = fileURLToPath(new URL("../..", import.meta.url));

export interface Bundles {
  dir: string;
  /** packages/client/src/index.ts bundled. */
  client: string;
  /** `export { Redis, Cluster } from "ioredis"` bundled. */
  ioredis: string;
  remove(): void;
}

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["@aws-sdk/*", "@smithy/*", "@aws-crypto/*"],
  // Bundle the packages' TypeScript sources, as the rest of the repository runs (decision 0011).
  conditions: ["@cacheplane/source"],
  logLevel: "error",
  // ioredis is CommonJS: an ESM bundle needs `require` for Node's built-ins (what ESM Lambda
  // bundles add too), else it throws "Dynamic require of "events" is not supported" on first use.
  banner: {
    js: 'import { createRequire as __cpRequire } from "node:module"; const require = __cpRequire(import.meta.url);',
  },
};

/** Builds both bundles into a fresh directory named after `label`. */
export async function buildBundles(label: string): Promise<Bundles> {
  const dir = join(root, "node_modules/.cache/cacheplane-bench", `${label}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const client = join(dir, "client.mjs");
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(root, "packages/client/src/index.ts")],
    outfile: client,
  });
  const entry = join(dir, "ioredis-entry.mjs");
  writeFileSync(entry, 'export { Redis, Cluster } from "ioredis";\n');
  const ioredis = join(dir, "ioredis.mjs");
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [entry],
    outfile: ioredis,
    nodePaths: [join(root, "node_modules")],
  });
  return { dir, client, ioredis, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
