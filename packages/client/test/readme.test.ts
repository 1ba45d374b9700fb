/** Runs every ```ts block of the README (blocks marked `ts needs-aws` are skipped) as its own module. */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { closeAllRedisConnections } from "../src/index.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const workDir = join(packageDir, "test-artifacts", `readme-${process.pid}`);

const readme = await readFile(join(packageDir, "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");

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
      await mkdir(workDir, { recursive: true });
      const file = join(workDir, `block-${index + 1}.ts`);
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
    });
  });
});
