/**
 * Where the Lambda code of the package's own functions (the membership custom resource and the
 * password rotation) comes from, and how it is bundled.
 *
 * - Running from TypeScript source (this repository: tests, `cdk synth` of the example app),
 *   `NodejsFunction` bundles the handler's `src/handler/*.ts` entry with the local esbuild at synth
 *   time, resolving the other Cacheplane packages to their sources (the `@cacheplane/source` export
 *   condition).
 * - Installed from the registry, the package ships the same bundles prebuilt by `npm run build`
 *   (`dist/<handler>/index.mjs`, made with `HANDLER_BUNDLING`), so an app needs neither esbuild nor
 *   Docker to synthesize.
 *
 * Paths are resolved from the package root (`../`), so they are the same from `src/`, `dist/` and
 * `dist-cjs/`.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** A Lambda handler the package ships. */
export interface PackagedHandler {
  /** Folder name of its prebuilt bundle under `dist/`. */
  readonly name: string;
  /** Path of its TypeScript entry (shipped in the package's `src/`). */
  readonly entry: string;
}

const sourceEntry = (file: string) => fileURLToPath(new URL(`../src/handler/${file}`, import.meta.url));

/** The membership custom resource's handler. */
export const MEMBERSHIP_HANDLER: PackagedHandler = {
  name: "membership-handler",
  entry: sourceEntry("index.ts"),
};
/** The password rotation handler. */
export const ROTATION_HANDLER: PackagedHandler = {
  name: "rotation-handler",
  entry: sourceEntry("rotation-index.ts"),
};
/** Every handler `npm run build` prebuilds. */
export const PACKAGED_HANDLERS: readonly PackagedHandler[] = [MEMBERSHIP_HANDLER, ROTATION_HANDLER];

/** Path of the membership handler's TypeScript entry. */
export const MEMBERSHIP_HANDLER_ENTRY = MEMBERSHIP_HANDLER.entry;

/** File name of a prebuilt bundle inside its directory. */
export const PREBUILT_HANDLER_FILE = "index.mjs";

/** Directory of a handler's prebuilt bundle (`index.mjs`, exporting `handler`). */
export function prebuiltHandlerDir(handler: PackagedHandler): string {
  return fileURLToPath(new URL(`../dist/${handler.name}/`, import.meta.url));
}

/** True when this module runs from its TypeScript source rather than from a build. */
export const RUNNING_FROM_SOURCE = import.meta.url.endsWith(".ts");

/** The export condition that resolves Cacheplane packages to their TypeScript sources. */
export const SOURCE_CONDITION = "@cacheplane/source";

/** esbuild options of the handler bundles, shared by synth-time bundling and the package build. */
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

const LOCK_FILES = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock"];

/** The nearest lock file above `from` (esbuild bundling needs one). */
export function findLockFile(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    for (const name of LOCK_FILES) if (existsSync(join(dir, name))) return join(dir, name);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The function running `handler`: bundled at synth time from source, or from the prebuilt bundle
 * when installed (with a clear error when the installed package lacks it).
 */
export function handlerFunction(
  scope: Construct,
  id: string,
  handler: PackagedHandler,
  props: Omit<lambda.FunctionProps, "code" | "handler">,
): lambda.Function {
  if (!RUNNING_FROM_SOURCE) {
    const dir = prebuiltHandlerDir(handler);
    if (!existsSync(join(dir, PREBUILT_HANDLER_FILE))) {
      throw new Error(
        `@cacheplane/cdk: the ${handler.name} bundle ${join(dir, PREBUILT_HANDLER_FILE)} is missing; ` +
          "reinstall @cacheplane/cdk (in the Cacheplane repository, run `npm run build`)",
      );
    }
    return new lambda.Function(scope, id, {
      ...props,
      code: lambda.Code.fromAsset(dir),
      handler: "index.handler", // PREBUILT_HANDLER_FILE
    });
  }
  const lockFile = findLockFile(dirname(handler.entry));
  return new nodejs.NodejsFunction(scope, id, {
    ...props,
    entry: handler.entry,
    handler: "handler",
    ...(lockFile ? { depsLockFilePath: lockFile } : {}),
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: HANDLER_BUNDLING.target,
      minify: HANDLER_BUNDLING.minify,
      sourceMap: false,
      externalModules: [...HANDLER_BUNDLING.external],
      banner: HANDLER_BUNDLING.banner,
      esbuildArgs: { "--conditions": SOURCE_CONDITION },
      forceDockerBundling: false,
    },
  });
}

/** How long the package's Lambda functions keep their log events. */
export const HANDLER_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/**
 * One of the package's functions with its own managed log group (retention above, removed with the
 * stack): ARM64, Node.js 24, 256 MB.
 */
export function packagedFunction(
  scope: Construct,
  handler: PackagedHandler,
  props: { timeout: Duration; description: string },
): { function: lambda.Function; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, "Logs", {
    retention: HANDLER_LOG_RETENTION,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fn = handlerFunction(scope, "Function", handler, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: props.timeout,
    logGroup,
    description: props.description,
  });
  return { function: fn, logGroup };
}

/** The construct `id` at the root of `scope`'s stack, created by `create` on first use. */
export function stackSingleton<T extends Construct>(
  scope: Construct,
  id: string,
  create: (stack: Stack, id: string) => T,
): T {
  const stack = Stack.of(scope);
  return (stack.node.tryFindChild(id) as T | undefined) ?? create(stack, id);
}
