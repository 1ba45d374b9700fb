import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadConfig, readConfigFile } from "../src/config-loader.js";
import { UsageError } from "../src/errors.js";
import { SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

test("loads a TypeScript config (default export with type annotations)", async (t) => {
  const dir = await tempDir(t);
  await writeFile(
    join(dir, "platform.ts"),
    `type Access = "read-write" | "read-only";\nconst access: Access = "read-write";\nexport default { stage: "dev", region: "local", services: [{ name: "orders", access }] };\n`,
  );
  const config = await loadConfig("platform.ts", dir);
  assert.equal(config.services[0]?.userId, "orders");
  assert.equal(config.engine, "valkey");
});

test("loads .mjs (named `config` export) and .json configs", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "named.mjs"), `export const config = ${JSON.stringify(SAMPLE_CONFIG)};\n`);
  const named = await loadConfig(join(dir, "named.mjs"));
  assert.deepEqual(
    named.services.map((s) => s.userId),
    ["ordersapi", "catalog", "sessions"],
  );
  const json = await loadConfig(await writeConfig(dir, SAMPLE_CONFIG, "platform.json"));
  assert.equal(json.services.length, 3);
});

test("reloads a config file that changed (no module cache between loads)", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "live.ts");
  await writeFile(file, `export default { stage: "dev", region: "local", services: [] };\n`);
  assert.equal((await loadConfig(file)).services.length, 0);
  await writeFile(
    file,
    `export default { stage: "dev", region: "local", services: [{ name: "a", access: "read-only" }] };\n`,
  );
  assert.equal((await loadConfig(file)).services.length, 1);
});

test("the repository's example cacheplane.config.ts is valid and has several services", async () => {
  const config = await loadConfig("cacheplane.config.ts", repoRoot);
  assert.equal(config.stage, "dev");
  assert.equal(config.region, "local");
  assert.equal(config.engine, "valkey");
  assert.ok(config.services.length >= 2);
  const orders = config.services.find((s) => s.name === "orders-api");
  assert.equal(orders?.keyspace, "orders");
  assert.deepEqual(orders?.sharedKeyspaces, ["common"]);
});

test("errors name the file: missing, bad JSON, syntax error, no export, invalid config", async (t) => {
  const dir = await tempDir(t);
  const expectUsage = async (path: string, pattern: RegExp) => {
    await assert.rejects(loadConfig(path, dir), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, pattern);
      return true;
    });
  };
  await expectUsage("nope.ts", /config file nope\.ts not found/);
  await writeFile(join(dir, "bad.json"), "{ nope");
  await expectUsage("bad.json", /^bad\.json: not valid JSON/);
  await writeFile(join(dir, "syntax.ts"), "export default { a: ;\n");
  await expectUsage("syntax.ts", /^syntax\.ts: could not load the config module/);
  await writeFile(join(dir, "empty.mjs"), "export const other = 1;\n");
  await expectUsage("empty.mjs", /^empty\.mjs: exports no config/);
  await writeFile(join(dir, "conf.yaml"), "stage: dev\n");
  await expectUsage("conf.yaml", /unsupported config file type/);
  await writeConfig(dir, { stage: "dev", region: "local", engine: "memcached", services: [] }, "engine.mjs");
  await expectUsage("engine.mjs", /^engine\.mjs: Invalid Cacheplane config \(1 problem\):\n {2}- engine: /);
});

test("readConfigFile returns the raw object without validating", async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(dir, { anything: true });
  assert.deepEqual(await readConfigFile(file), { anything: true });
});
