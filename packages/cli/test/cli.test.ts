import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { cli, tempDir, writeConfig } from "./helpers.js";

const execFileAsync = promisify(execFile);
const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const bin = join(repoRoot, "packages/cli/bin/cacheplane.js");

async function runBinary(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [bin, ...args], { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("--help lists every command; --version prints the version", async () => {
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  for (const command of ["plan", "apply", "rotate", "doctor", "migrate", "dev"]) {
    assert.match(help.stdout, new RegExp(`^ {2}${command} `, "m"));
  }
  const version = await cli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, "0.1.0\n");
  const planHelp = await cli(["plan", "--help"]);
  assert.match(planHelp.stdout, /--detailed-exitcode/);
  assert.match(planHelp.stdout, /\$CACHEPLANE_TARGET/);
});

test("usage errors are one line and exit 2: unknown command, unknown option, missing option, no command", async () => {
  const unknown = await cli(["plna"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command 'plna' \(did you mean plan\?\)\n$/);
  const option = await cli(["migrate", "--service", "x", "--bogus"]);
  assert.equal(option.code, 2);
  assert.equal(option.stderr, "error: unknown option '--bogus'\n");
  const missing = await cli(["migrate"]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, "error: required option '--service <name>' not specified\n");
  const nothing = await cli([]);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /^Usage: cacheplane/);
});

test("the real binary runs from source: migrate with a .ts config, and a bad config exits 2", async (t) => {
  const ok = await runBinary(["migrate", "--config", "cacheplane.config.ts", "--service", "orders-api"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^Migration checklist for service "orders-api" \(dev, local\)$/m);
  assert.match(ok.stdout, /Redis user: ordersapi/);

  const dir = await tempDir(t);
  const bad = await writeConfig(dir, { stage: "Dev!", region: "local", services: [] });
  const failed = await runBinary(["migrate", "--config", bad, "--service", "x"]);
  assert.equal(failed.code, 2);
  assert.equal(failed.stdout, "");
  assert.match(
    failed.stderr,
    /^error: .*cacheplane\.config\.mjs: Invalid Cacheplane config \(1 problem\):\n {2}- stage: /,
  );
  assert.doesNotMatch(failed.stderr, /\bat .*\.ts:\d+/, "no stack trace");
});
