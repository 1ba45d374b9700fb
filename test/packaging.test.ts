/**
 * The packages as users install them (docs/decisions/0011). Builds and packs every public package,
 * installs the tarballs into a fresh project outside the repository with `npm install` (dependencies
 * from the registry, no workspace links) and uses them there as users do: plain `node` (ES modules and
 * `require`), `tsc` against the installed types, the `cacheplane` binary with a `cacheplane.config.ts`
 * against a real redis-server, the gateway's console and operator view, an esbuild Lambda bundle of
 * examples/lambda-handlers invoked against that server, and a CDK synth that needs the prebuilt
 * custom-resource handler. Each step is a subtest named after what it checks; after a failed step the
 * later ones are skipped, so the first failure is the one reported.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import { build } from "esbuild";

const repo = fileURLToPath(new URL("..", import.meta.url));
const fixtures = join(repo, "test/packaging");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

interface PackageJson {
  name: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

/** The public workspace packages, as their package.json says. */
function publicPackages(): PackageJson[] {
  return readdirSync(join(repo, "packages"))
    .map((name) => join(repo, "packages", name, "package.json"))
    .filter((file) => existsSync(file))
    .map((file) => readJson<PackageJson>(file))
    .filter((pkg) => !pkg.private);
}

/**
 * The environment of commands run in the fresh project: the repository's `@cacheplane/source`
 * condition (NODE_OPTIONS, set by scripts/run-tests.mjs) and npm's per-script variables stay out, so
 * the project sees the packages as any user would.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      key === "NODE_OPTIONS" ||
      key === "INIT_CWD" ||
      key.startsWith("npm_") ||
      key.startsWith("NODE_TEST")
    ) {
      continue;
    }
    env[key] = value;
  }
  return { ...env, ...extra };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its output whatever the exit code. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const tail = (text: string, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** Runs a command that must exit 0; the error names the command and shows the end of its output. */
async function mustRun(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; expectCode?: number },
): Promise<RunResult> {
  const result = await run(command, args, options);
  const expected = options.expectCode ?? 0;
  if (result.code !== expected) {
    throw new Error(
      `\`${[command, ...args].join(" ")}\` in ${options.cwd} exited ${result.code} (expected ${expected})\n` +
        `--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
    );
  }
  return result;
}

/** The package a bare specifier names (`@aws-sdk/client-x/sub` -> `@aws-sdk/client-x`). */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

const isBuiltin = (specifier: string) =>
  specifier.startsWith("node:") || builtinModules.includes(packageName(specifier));

/** Every file path an `exports` value points at, with the condition path that leads to it. */
function exportTargets(value: unknown, conditions: string[] = []): { conditions: string[]; path: string }[] {
  if (typeof value === "string") return [{ conditions, path: value }];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => exportTargets(inner, [...conditions, key]));
}

/** Bare specifiers the JavaScript reachable from `entries` loads (static, dynamic and `require`). */
async function runtimeImports(entries: string[]): Promise<Set<string>> {
  const result = await build({
    entryPoints: entries,
    bundle: true,
    write: false,
    outdir: join(tmpdir(), "cacheplane-packaging-scan"),
    platform: "node",
    format: "esm",
    packages: "external",
    metafile: true,
    logLevel: "silent",
  });
  const found = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) if (imported.external) found.add(imported.path);
  }
  return found;
}

/** The declaration file of a relative JavaScript specifier (`./a.js` -> `./a.d.ts`). */
const declarationOf = (specifier: string) =>
  specifier
    .replace(/\.js$/, ".d.ts")
    .replace(/\.cjs$/, ".d.cts")
    .replace(/\.mjs$/, ".d.mts");

/** Bare specifiers the declaration files reachable from `entries` import. */
function typeImports(entries: string[]): Set<string> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const pending = [...entries];
  const pattern = /(?:from\s+|import\s*\(\s*|reference\s+types=)["']([^"']+)["']/g;
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) {
        pending.push(resolve(dirname(file), declarationOf(specifier)));
      } else {
        found.add(specifier);
      }
    }
  }
  return found;
}

/** Problems with one installed package's declared dependencies: imports it does not declare. */
async function undeclaredDependencies(installed: string): Promise<string[]> {
  const pkg = readJson<PackageJson>(join(installed, "package.json"));
  const declared = new Set([
    pkg.name,
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const targets = exportTargets(pkg.exports).filter((t) => !t.conditions.includes("@cacheplane/source"));
  const js = targets.filter((t) => !t.conditions.includes("types")).map((t) => join(installed, t.path));
  const dts = targets.filter((t) => t.conditions.includes("types")).map((t) => join(installed, t.path));
  for (const bin of Object.values(pkg.bin ?? {})) js.push(join(installed, bin));
  const problems: string[] = [];
  for (const specifier of await runtimeImports(js)) {
    const name = packageName(specifier);
    if (!isBuiltin(specifier) && !declared.has(name)) {
      problems.push(`${pkg.name} loads "${specifier}" at run time but does not declare ${name}`);
    }
  }
  for (const specifier of typeImports(dts)) {
    const name = packageName(specifier);
    const typesPackage = `@types/${name.replace(/^@/, "").replace("/", "__")}`;
    if (!isBuiltin(specifier) && !declared.has(name) && !declared.has(typesPackage)) {
      problems.push(
        `${pkg.name}'s types import "${specifier}" but it declares neither ${name} nor ${typesPackage}`,
      );
    }
  }
  return problems;
}

/** Files a published tarball may hold. */
const SHIPPED = [
  /^package\.json$/,
  /^README\.md$/,
  /^CHANGELOG\.md$/,
  /^LICENSE$/,
  /^dist\//,
  /^dist-cjs\//,
  /^src\//,
  /^bin\//,
  /^console\//,
  /^operator\//,
  /^schema\.graphql$/,
];
const NEVER_SHIPPED =
  /(^|\/)(test|tests|__tests__|fixtures)\/|\.test\.[cm]?[jt]s$|\.tsbuildinfo$|(^|\/)tsconfig[^/]*\.json$/;

interface PackedFile {
  path: string;
}
interface PackResult {
  name: string;
  filename: string;
  files: PackedFile[];
}

test("packages work when installed from their tarballs into a fresh project", {
  timeout: 15 * 60_000,
}, async (t) => {
  const project = await mkdtemp(join(tmpdir(), "cacheplane-packaging-"));
  t.after(() => rm(project, { recursive: true, force: true }));
  let redis: RedisServer | undefined;
  t.after(() => stopAll());
  const packages = publicPackages();
  const rootPackage = readJson<PackageJson>(join(repo, "package.json"));
  let packed: PackResult[] = [];
  const secrets = join(project, ".cacheplane/secrets");

  let failed: string | undefined;
  const step = async (name: string, fn: () => Promise<void>) => {
    await t.test(name, { skip: failed ? `an earlier step failed: ${failed}` : false }, async () => {
      try {
        await fn();
      } catch (error) {
        failed = name;
        throw error;
      }
    });
  };

  await step("build: npm run build", async () => {
    await mustRun(npm, ["run", "build"], { cwd: repo, env: process.env });
  });

  await step("pack: npm pack of every public package ships what the package.json points at", async () => {
    const destination = join(project, "tarballs");
    mkdirSync(destination);
    const workspaces = packages.flatMap((pkg) => ["-w", pkg.name]);
    const { stdout } = await mustRun(
      npm,
      ["pack", "--json", "--ignore-scripts", "--pack-destination", destination, ...workspaces],
      { cwd: repo, env: process.env },
    );
    packed = JSON.parse(stdout) as PackResult[];
    assert.deepEqual(packed.map((p) => p.name).sort(), packages.map((p) => p.name).sort());
    for (const result of packed) {
      const pkg = packages.find((p) => p.name === result.name)!;
      const files = new Set(result.files.map((f) => f.path));
      const stray = [...files].filter((f) => !SHIPPED.some((re) => re.test(f)) || NEVER_SHIPPED.test(f));
      assert.deepEqual(stray, [], `${pkg.name}: files that should not ship`);
      const pointedAt = [
        ...exportTargets(pkg.exports).map((target) => target.path),
        ...Object.values(pkg.bin ?? {}),
        ...(pkg.main ? [pkg.main] : []),
        ...(pkg.types ? [pkg.types] : []),
      ].map((path) => path.replace(/^\.\//, ""));
      const missing = pointedAt.filter((path) => !files.has(path));
      assert.deepEqual(missing, [], `${pkg.name}: package.json points at files the tarball lacks`);
      if (pkg.name === "@cacheplane/gateway") {
        // The operator page's chart library ships in the tarball (copied from uplot by the build).
        for (const file of [
          "operator/vendor/uPlot.iife.min.js",
          "operator/vendor/uPlot.min.css",
          "operator/vendor/uPlot.LICENSE",
        ])
          assert.ok(files.has(file), `@cacheplane/gateway: the tarball lacks ${file}`);
      }
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
        assert.ok(
          !dep.startsWith("@cacheplane/") || packages.some((p) => p.name === dep),
          `${pkg.name} depends on ${dep}, which is not published`,
        );
      }
    }
  });

  await step(
    "install: npm install of the tarballs into a fresh project (registry dependencies)",
    async () => {
      writeFileSync(
        join(project, "package.json"),
        `${JSON.stringify({ name: "cacheplane-packaging-check", private: true, type: "module" }, null, 2)}\n`,
      );
      const tarballs = packed.map((p) => `./tarballs/${p.filename}`);
      const typesNode = `@types/node@${rootPackage.devDependencies?.["@types/node"] ?? "20"}`;
      // What the Lambda example imports besides Cacheplane (Powertools Metrics and Logger).
      const example = JSON.parse(
        readFileSync(join(repo, "examples/lambda-handlers/package.json"), "utf8"),
      ) as PackageJson;
      const exampleDeps = Object.entries(example.dependencies ?? {})
        .filter(([name]) => !name.startsWith("@cacheplane/"))
        .map(([name, range]) => `${name}@${range}`);
      await mustRun(
        npm,
        ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs, typesNode, ...exampleDeps],
        { cwd: project },
      );
      for (const pkg of packages) {
        const dir = join(project, "node_modules", pkg.name);
        assert.ok(
          lstatSync(dir).isDirectory() && !lstatSync(dir).isSymbolicLink(),
          `${pkg.name} is a real copy`,
        );
      }
    },
  );

  await step("dependencies: every import of the installed packages is a declared dependency", async () => {
    const problems = (
      await Promise.all(
        packages.map((pkg) => undeclaredDependencies(join(project, "node_modules", pkg.name))),
      )
    ).flat();
    assert.deepEqual(problems, []);
  });

  await step("node: plain node imports every package (ES modules) and requires them (CommonJS)", async () => {
    for (const file of ["runtime-esm.mjs", "runtime-commonjs.cjs"])
      copyFileSync(join(fixtures, file), join(project, file));
    const esm = await mustRun(process.execPath, ["runtime-esm.mjs"], { cwd: project });
    assert.match(esm.stdout, /esm ok/);
    const cjs = await mustRun(process.execPath, ["runtime-commonjs.cjs"], { cwd: project });
    assert.match(cjs.stdout, /commonjs ok/);
  });

  await step("tsc: a consumer type-checks against the installed types (ESM and CommonJS)", async () => {
    for (const file of ["consumer.ts", "consumer-commonjs.cts"])
      copyFileSync(join(fixtures, file), join(project, file));
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          // Third-party declarations are not ours to check (aws-cdk-lib alone triples the time); the
          // dependencies step checks that everything our declarations import is declared.
          skipLibCheck: true,
          types: ["node"],
        },
        files: ["consumer.ts", "consumer-commonjs.cts"],
      }),
    );
    await mustRun(process.execPath, [join(repo, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
      cwd: project,
    });
  });

  await step("cli: npx cacheplane --help", async () => {
    const help = await mustRun("npx", ["--no", "--", "cacheplane", "--help"], { cwd: project });
    assert.match(help.stdout, /Usage: cacheplane/);
    assert.match(help.stdout, /plan/);
  });

  await step(
    "cli: cacheplane plan/apply/plan with cacheplane.config.ts against a local redis-server",
    async () => {
      redis = await startRedis();
      copyFileSync(join(fixtures, "cacheplane.config.ts"), join(project, "cacheplane.config.ts"));
      const env = userEnv({ CACHEPLANE_TARGET: redis.url });
      const flags = ["--config", "cacheplane.config.ts", "--secrets-dir", ".cacheplane/secrets"];
      const plan = await mustRun("npx", ["--no", "--", "cacheplane", "plan", ...flags, "--json"], {
        cwd: project,
        env,
      });
      const actions = JSON.parse(plan.stdout) as { type: string }[];
      assert.ok(
        actions.some((action) => action.type === "create-user"),
        `plan creates the service user: ${plan.stdout}`,
      );
      await mustRun("npx", ["--no", "--", "cacheplane", "apply", ...flags], { cwd: project, env });
      const again = await mustRun(
        "npx",
        ["--no", "--", "cacheplane", "plan", ...flags, "--detailed-exitcode"],
        {
          cwd: project,
          env,
        },
      );
      assert.match(again.stdout, /No changes/);
      assert.ok(existsSync(join(secrets, "orders-api.json")), "apply wrote the service's secret");
    },
  );

  await step(
    "gateway: serves its console and operator view (charts included), runs commands (ESM and CommonJS)",
    async () => {
      copyFileSync(join(fixtures, "gateway-check.mjs"), join(project, "gateway-check.mjs"));
      // uPlot is no runtime dependency: what the operator page loads comes from the gateway's tarball.
      assert.ok(!existsSync(join(project, "node_modules/uplot")), "uplot was installed");
      const result = await mustRun(process.execPath, ["gateway-check.mjs"], {
        cwd: project,
        env: userEnv({ OPERATOR_TARGET: redis!.url }),
      });
      assert.match(result.stdout, /gateway ok/);
    },
  );

  await step(
    "esbuild: Lambda bundle of examples/lambda-handlers from the installed packages runs",
    async () => {
      const source = join(repo, "examples/lambda-handlers/src");
      const target = join(project, "lambda/src");
      mkdirSync(target, { recursive: true });
      for (const file of readdirSync(source)) copyFileSync(join(source, file), join(target, file));
      const outfile = join(project, "lambda/handler.mjs");
      const result = await build({
        entryPoints: [join(target, "handler.ts")],
        absWorkingDir: project,
        outfile,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        external: ["@aws-sdk/*"],
        banner: {
          js: "import { createRequire as __cpRequire } from 'node:module'; const require = __cpRequire(import.meta.url);",
        },
        metafile: true,
        logLevel: "warning",
      });
      const cacheplaneInputs = Object.keys(result.metafile.inputs).filter((input) =>
        input.includes("@cacheplane/"),
      );
      assert.ok(cacheplaneInputs.length > 0, "the bundle holds @cacheplane/client");
      const notBuilt = cacheplaneInputs.filter(
        (input) => !/node_modules\/@cacheplane\/[a-z]+\/dist\//.test(input),
      );
      assert.deepEqual(notBuilt, [], "every Cacheplane module in the bundle comes from an installed dist/");
      copyFileSync(join(fixtures, "lambda-invoke.mjs"), join(project, "lambda-invoke.mjs"));
      const invoked = await mustRun(process.execPath, ["lambda-invoke.mjs", "lambda/handler.mjs"], {
        cwd: project,
        env: userEnv({
          REDIS_SECRET_FILE: join(secrets, "orders-api.json"),
          POWERTOOLS_METRICS_DISABLED: "true",
          POWERTOOLS_LOG_LEVEL: "ERROR",
        }),
      });
      assert.match(invoked.stdout, /lambda ok/);
      const keys = (await redis!.client().keys("orders:*")) as string[];
      assert.ok(
        keys.some((key) => key.includes("product:42")),
        `the handler cached product 42 in redis-server: ${keys.join(", ")}`,
      );
    },
  );

  await step(
    "cdk: synth with the installed constructs packages the prebuilt handlers (ESM and CommonJS)",
    async () => {
      copyFileSync(join(fixtures, "cdk-synth.mjs"), join(project, "cdk-synth.mjs"));
      const result = await mustRun(process.execPath, ["cdk-synth.mjs"], { cwd: project });
      assert.match(result.stdout, /cdk ok/);
    },
  );
});
