#!/usr/bin/env node
// Runs every test file of the repository with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [path-prefix ...]   e.g. `npm run test:only -- packages/core`
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const roots = ["packages", "examples", "bench", "test"];
const skip = new Set(["node_modules", "dist", "dist-cjs", "cdk.out", ".cacheplane"]);

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (skip.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) yield* walk(full);
    else if (/\.test\.ts$/.test(name) && /[/\\]test[/\\]/.test(full)) yield full;
  }
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => [...walk(join(root, r))])
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(p)))
  .sort();

if (files.length === 0) {
  console.error(`run-tests: no test files match ${filters.join(" ") || "(all)"}`);
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const args = [
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${concurrency}`,
  // Per test file. test/packaging.test.ts (build, npm install, CDK synth) is the long one: about two
  // minutes alone, more on a loaded machine.
  "--test-timeout=600000",
  ...(process.env.TEST_REPORTER
    ? [`--test-reporter=${process.env.TEST_REPORTER}`]
    : ["--test-reporter=spec"]),
  ...files,
];
// Tests run the TypeScript sources: the `@cacheplane/source` export condition resolves every
// `@cacheplane/*` import to its package's src/ (docs/decisions/0011). NODE_OPTIONS carries it into the
// processes tests start themselves (the CLI binary, workers).
const sourceCondition = "--conditions=@cacheplane/source";
const nodeOptions = [process.env.NODE_OPTIONS, sourceCondition].filter(Boolean).join(" ");
console.log(`run-tests: ${files.length} files, concurrency ${concurrency}`);
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, NODE_OPTIONS: nodeOptions },
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
