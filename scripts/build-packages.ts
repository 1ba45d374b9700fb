/**
 * Builds every public package the way it is published (`npm run build`; docs/decisions/0011):
 *
 * 1. `tsc -b tsconfig.build.json`: ES modules, `.d.ts` types and source maps in each package's `dist/`
 *    (project references build core first, then the packages that import it).
 * 2. CommonJS in `dist-cjs/` for every package whose `exports` offer a `require` condition: esbuild
 *    converts each source file (no bundling, so `@cacheplane/core` and `@cacheplane/core/secret` share
 *    modules), `dist-cjs/package.json` marks the folder CommonJS, and the `.d.ts` files are copied next
 *    to it so TypeScript reads them as CommonJS declarations.
 * 3. The prebuilt Lambda bundle of the cdk package's custom-resource handler.
 * 4. Third-party browser files the gateway's operator page loads (uPlot), copied from their npm
 *    package into `packages/gateway/operator/vendor/`, so they ship in the gateway's tarball.
 *
 * Every build starts clean, so a file deleted from `src/` never ships from an old `dist/`. Development
 * does not need any of this: the repository runs from source (`@cacheplane/source` condition).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import {
  HANDLER_BUNDLING,
  PACKAGED_HANDLERS,
  PREBUILT_HANDLER_FILE,
  prebuiltHandlerDir,
} from "../packages/cdk/src/handler-bundle.js";
import { VENDOR_FILES } from "../packages/gateway/src/operator-view/assets.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);

interface PackageInfo {
  dir: string;
  name: string;
  exports: Record<string, unknown>;
}

/** The workspace packages that are published (`private` is not set). */
export function publicPackages(): PackageInfo[] {
  const base = join(root, "packages");
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(base, entry.name))
    .flatMap((dir) => {
      let pkg: { name: string; private?: boolean; exports?: Record<string, unknown> };
      try {
        pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        return [];
      }
      return pkg.private ? [] : [{ dir, name: pkg.name, exports: pkg.exports ?? {} }];
    });
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

/** Every file under `dir` (recursively) whose name passes `keep`, as absolute paths. */
function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path, keep);
    return entry.isFile() && keep(entry.name) ? [path] : [];
  });
}

/** tsconfig.build.json must reference exactly the public packages, or tsc -b would skip one. */
function checkReferences(packages: PackageInfo[]): void {
  const config = JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8")) as {
    references: { path: string }[];
  };
  const referenced = new Set(config.references.map((ref) => resolve(root, dirname(ref.path))));
  for (const pkg of packages) {
    if (!referenced.has(pkg.dir)) {
      fail(`${pkg.name} is public but tsconfig.build.json does not reference ${relative(root, pkg.dir)}`);
    }
  }
}

function offersRequire(exportsField: Record<string, unknown>): boolean {
  return Object.values(exportsField).some(
    (target) => typeof target === "object" && target !== null && "require" in target,
  );
}

/** ESM output of tsc, converted file by file to CommonJS, plus the declarations copied alongside. */
async function buildCommonJs(pkg: PackageInfo): Promise<void> {
  const src = join(pkg.dir, "src");
  const out = join(pkg.dir, "dist-cjs");
  await build({
    entryPoints: filesUnder(src, (name) => name.endsWith(".ts") && !name.endsWith(".d.ts")),
    outdir: out,
    outbase: src,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: true,
    logLevel: "warning",
    // `import.meta.url` (package-relative file lookups) becomes this file's URL in CommonJS.
    define: { "import.meta.url": "__cacheplane_import_meta_url" },
    banner: { js: 'var __cacheplane_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  });
  writeFileSync(join(out, "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
  const dist = join(pkg.dir, "dist");
  for (const file of filesUnder(dist, (name) => name.endsWith(".d.ts") || name.endsWith(".d.ts.map"))) {
    const target = join(out, relative(dist, file));
    mkdirSync(dirname(target), { recursive: true });
    let text = readFileSync(file, "utf8");
    if (file.endsWith(".map")) {
      // Declaration maps point at src/ relative to their own folder: re-root them.
      const map = JSON.parse(text) as { sources: string[] };
      map.sources = map.sources.map((source) => relative(dirname(target), resolve(dirname(file), source)));
      text = JSON.stringify(map);
    }
    writeFileSync(target, text);
  }
}

/** The cdk package's Lambda handlers, bundled as the Lambda runs them (see handler-bundle.ts). */
async function buildHandlerBundles(): Promise<void> {
  for (const handler of PACKAGED_HANDLERS)
    await buildHandlerBundle(handler.entry, prebuiltHandlerDir(handler));
}

async function buildHandlerBundle(entry: string, dir: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile: join(dir, PREBUILT_HANDLER_FILE),
    bundle: true,
    platform: "node",
    format: HANDLER_BUNDLING.format,
    target: HANDLER_BUNDLING.target,
    minify: HANDLER_BUNDLING.minify,
    external: [...HANDLER_BUNDLING.external],
    banner: { js: HANDLER_BUNDLING.banner },
    logLevel: "warning",
  });
}

/** The operator page's third-party files, from their npm packages into the gateway's `operator/vendor/`. */
function copyOperatorVendorFiles(): void {
  const dir = join(root, "packages/gateway/operator/vendor");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of VENDOR_FILES) copyFileSync(require.resolve(file.from), join(dir, file.name));
}

export async function buildPackages(): Promise<void> {
  const packages = publicPackages();
  checkReferences(packages);
  for (const pkg of packages) {
    for (const path of ["dist", "dist-cjs", "tsconfig.build.tsbuildinfo"]) {
      rmSync(join(pkg.dir, path), { recursive: true, force: true });
    }
  }
  const tsc = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-b", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  if (tsc.status !== 0) fail("tsc -b tsconfig.build.json failed (errors above)");
  for (const pkg of packages) if (offersRequire(pkg.exports)) await buildCommonJs(pkg);
  await buildHandlerBundles();
  copyOperatorVendorFiles();
  console.log(`build: ${packages.map((pkg) => pkg.name).join(", ")}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildPackages();
