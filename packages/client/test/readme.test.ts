/**
 * Runs every ```ts block of the README (blocks marked `ts needs-aws` are skipped) as its own module;
 * blocks marked `ts redis` run against a real redis-server (testkit) with `REDIS_SECRET` set to a
 * read-write service user's secret.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startRedis } from "@cacheplane/testkit";
import { closeAllRedisConnections } from "../src/index.js";
import { createServiceUser, secretFor } from "./helpers/redis.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const workDir = join(packageDir, "test-artifacts", `readme-${process.pid}`);

const readme = await readFile(join(packageDir, "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
const redisBlocks = [...readme.matchAll(/^```ts redis\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");

/** Imports `code` as a module written to the work dir, with console output captured. */
async function runBlock(name: string, code: string): Promise<string[]> {
  await mkdir(workDir, { recursive: true });
  const file = join(workDir, `${name}.ts`);
  await writeFile(file, code);
  const output: string[] = [];
  const log = console.log;
  const write = process.stdout.write;
  console.log = (...args: unknown[]) => void output.push(args.map(String).join(" "));
  process.stdout.write = ((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = log;
    process.stdout.write = write;
  }
  return output;
}

describe("README examples", () => {
  after(async () => {
    await closeAllRedisConnections();
    await rm(workDir, { recursive: true, force: true });
  });

  it("has runnable examples", () => {
    assert.ok(blocks.length >= 10, `found ${blocks.length} blocks`);
  });

  blocks.forEach((code, index) => {
    const firstLine = code.split("\n").find((line) => line.trim() !== "" && !line.startsWith("import")) ?? "";
    it(`block ${index + 1}: ${firstLine.slice(0, 60)}`, async () => {
      await runBlock(`block-${index + 1}`, code);
    });
  });
});

describe("README examples on a real redis-server (ts redis)", () => {
  it("has redis examples", () => {
    assert.ok(redisBlocks.length >= 1, `found ${redisBlocks.length} blocks`);
  });

  it("runs them with REDIS_SECRET set", async (t) => {
    const server = await startRedis({ acl: true, tls: false });
    const admin = server.client();
    const password = "Readme-Redis-Pw-0987654321";
    const saved = process.env.REDIS_SECRET;
    t.after(async () => {
      if (saved === undefined) delete process.env.REDIS_SECRET;
      else process.env.REDIS_SECRET = saved;
      await closeAllRedisConnections();
      admin.disconnect();
      await server.stop();
    });
    await createServiceUser(admin, "orders", password);
    process.env.REDIS_SECRET = JSON.stringify(secretFor(server, "orders", password));
    t.after(() => rm(workDir, { recursive: true, force: true }));
    for (const [index, code] of redisBlocks.entries()) {
      const output = await runBlock(`redis-block-${index + 1}`, code);
      assert.ok(!output.join("\n").includes(password), "a block printed the password");
      // `console.log(...); // 100: ...` lines: the printed number is the one the comment says.
      const expected = code
        .split("\n")
        .filter((line) => line.startsWith("console.log("))
        .map((line) => /\/\/ (-?\d+(?:\.\d+)?)\b/.exec(line)?.[1]);
      assert.equal(output.length, expected.length, `block ${index + 1}: one line per console.log`);
      expected.forEach((value, i) => {
        if (value !== undefined) assert.equal(output[i], value, `block ${index + 1}, console.log #${i + 1}`);
      });
    }
  });
});
