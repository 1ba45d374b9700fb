// Runs every ```ts block of the package README against a real redis-server, so the examples stay true.
// Blocks fenced as ```ts no-run are skipped (the cluster example; test/cluster.test.ts covers it).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startRedis, stopAll } from "@cacheplane/testkit";

after(() => stopAll());

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(packageDir, "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const resolveFrom = createRequire(join(packageDir, "package.json"));

/** The block with bare imports replaced by file URLs, so it runs from a temp directory. */
function runnable(code: string): string {
  return code.replace(/from "([^".][^"]*)"/g, (all, specifier: string) =>
    specifier.startsWith("node:") ? all : `from "${pathToFileURL(resolveFrom.resolve(specifier)).href}"`,
  );
}

test("the README has runnable examples", () => {
  assert.ok(blocks.length >= 5, `found ${blocks.length} blocks`);
});

test("every README example runs against a real server", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const work = await mkdtemp(join(tmpdir(), "cacheplane-readme-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const saved = { ...process.env };
  const log = console.log;
  t.after(() => {
    process.env = saved;
    console.log = log;
  });
  process.env.CACHEPLANE_ADMIN_URL = server.url;
  for (const [i, code] of blocks.entries()) {
    process.env.SECRETS_DIR = join(work, `secrets-${i}`);
    const file = join(work, `example-${i}.mts`);
    await writeFile(file, runnable(code));
    const output: string[] = [];
    console.log = (...args: unknown[]) => void output.push(args.map(String).join(" "));
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      throw new Error(`README example #${i + 1} failed: ${(error as Error).message}\n${output.join("\n")}`);
    } finally {
      console.log = log;
    }
    assert.ok(
      !output.join("\n").includes(server.admin.password),
      `example #${i + 1} printed the admin password`,
    );
  }
});
