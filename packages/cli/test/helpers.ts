// Shared test helpers: run the CLI in-process with captured output, temp dirs, config files.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A long-running `cacheplane` command started in-process (see {@link startServing}). */
export interface ServingCli {
  /** What it printed so far (grows while it runs). */
  output: { stdout: string; stderr: string };
  /** Its exit code once stopped. */
  running: Promise<number>;
  /** Stops it as Ctrl-C would (also done when the test ends). */
  stop(): void;
}

/**
 * Starts `cacheplane <argv>` (e.g. `gateway`) in-process, stopped when the test ends, and resolves
 * once it printed `readyLine`; fails with its output after `timeoutMs` (worker processes load slowly
 * on a busy machine).
 */
export async function startServing(
  t: TestContext,
  argv: string[],
  options: { cwd: string; readyLine?: string; timeoutMs?: number },
): Promise<ServingCli> {
  const { runCli } = await import("../src/main.js");
  const controller = new AbortController();
  t.after(() => controller.abort());
  const output = { stdout: "", stderr: "" };
  const running = runCli(argv, {
    stdout: (text) => {
      output.stdout += text;
    },
    stderr: (text) => {
      output.stderr += text;
    },
    env: { PATH: process.env.PATH },
    cwd: options.cwd,
    stopSignal: controller.signal,
  });
  const readyLine = options.readyLine ?? "cacheplane gateway: ready";
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!output.stdout.includes(readyLine)) {
    if (Date.now() > deadline) {
      throw new Error(`no "${readyLine}" in time\n${output.stdout}\n${output.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { output, running, stop: () => controller.abort() };
}

/** Runs `cacheplane <argv>` in-process with captured streams. `env` replaces the environment entirely. */
export async function cli(
  argv: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; stopSignal?: AbortSignal } = {},
): Promise<CliRun> {
  // Imported lazily so that tests of single modules do not load every command.
  const { runCli } = await import("../src/main.js");
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: options.env ?? { PATH: process.env.PATH },
    cwd: options.cwd ?? process.cwd(),
    ...(options.stopSignal ? { stopSignal: options.stopSignal } : {}),
  });
  return { code, stdout, stderr };
}

/** A fresh temp dir removed after the test. */
export async function tempDir(t: TestContext, prefix = "cacheplane-cli-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `config` as a `.mjs` module (plain object, no imports) and returns its path. */
export async function writeConfig(
  dir: string,
  config: unknown,
  name = "cacheplane.config.mjs",
): Promise<string> {
  const file = join(dir, name);
  const body = name.endsWith(".json")
    ? JSON.stringify(config, null, 2)
    : `export default ${JSON.stringify(config, null, 2)};\n`;
  await writeFile(file, body);
  return file;
}

/** The platform most tests use: three services, one with a shared keyspace, one read-only. */
export const SAMPLE_CONFIG = {
  stage: "test",
  region: "local",
  services: [
    { name: "orders-api", keyspace: "orders", access: "read-write", sharedKeyspaces: ["common"] },
    { name: "catalog", access: "read-only" },
    { name: "sessions", access: "read-write" },
  ],
};

/** Service user names present on a server (admin view), sorted. */
export async function aclUsers(client: { call(...args: string[]): Promise<unknown> }): Promise<string[]> {
  return ((await client.call("ACL", "USERS")) as string[]).sort();
}
