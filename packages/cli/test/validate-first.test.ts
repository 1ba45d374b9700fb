// Every check that can fail runs before the first change: a config or a token registry that would
// stop `apply` half-way is refused up front, and the server, the secrets and the tokens stay as they
// were (zero changes). Real redis-server, real files.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { aclUsers, cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

async function setup(t: Parameters<typeof tempDir>[0]) {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const secrets = join(dir, "secrets");
  const admin = server.client();
  const before = await aclUsers(admin);
  return {
    server,
    dir,
    secrets,
    flags: (config: string) => ["--config", config, "--target", server.url, "--secrets-dir", secrets],
    async unchanged(context: string) {
      assert.deepEqual(await aclUsers(admin), before, `${context}: server users unchanged`);
    },
  };
}

test("service names that cannot be file names are refused before anything is created", async (t) => {
  const { dir, secrets, flags, unchanged } = await setup(t);
  for (const [i, name] of ["team/orders", ".orders", "o".repeat(1000), "../escape"].entries()) {
    const config = await writeConfig(
      dir,
      {
        stage: "dev",
        region: "local",
        services: [
          { name: "ok", access: "read-write" },
          { name, access: "read-write" },
        ],
      },
      `names-${i}.mjs`,
    );
    for (const command of ["plan", "apply"]) {
      const run = await cli([command, ...flags(config)]);
      assert.equal(run.code, 2, `${command} ${name}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /services\[1\]\.name: service name ".*" (is not allowed: start with a letter or digit|is 1000 characters long; use at most 64)/,
      );
    }
    await unchanged(name);
    assert.ok(!existsSync(secrets), "no secrets directory, no secret, no token");
  }
});

test("keyspaces that would be rewritten, and unknown access levels, are refused naming the allowed form", async (t) => {
  const { dir, secrets, flags, unchanged } = await setup(t);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [
      { name: "a", keyspace: "orders:eu", access: "read-write" },
      /keyspace "orders:eu" is not allowed; use "orders-eu": only lowercase letters/,
    ],
    [{ name: "a", keyspace: "ord*", access: "read-write" }, /keyspace "ord\*" is not allowed; use "ord"/],
    [
      { name: "a", keyspace: "ord{1}", access: "read-write" },
      /keyspace "ord\{1\}" is not allowed; use "ord-1"/,
    ],
    [
      { name: "a", access: "read-write", sharedKeyspaces: ["Common"] },
      /sharedKeyspaces\[0\]: keyspace "Common" is not allowed; use "common"/,
    ],
    [
      { name: "a", access: "admin" },
      /access "admin" is not an access level; use "read-write" or "read-only", or \{ preset\?: "read-write" \| "read-only" \| "none"/,
    ],
  ];
  for (const [i, [service, message]] of cases.entries()) {
    const config = await writeConfig(
      dir,
      { stage: "dev", region: "local", services: [service] },
      `case-${i}.mjs`,
    );
    const run = await cli(["apply", ...flags(config)]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, message);
  }
  await unchanged("bad keyspaces");
  assert.ok(!existsSync(secrets));
});

test("a corrupt token registry or token file stops apply before the server changes", async (t) => {
  const { dir, secrets, flags, unchanged } = await setup(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  await mkdir(secrets, { recursive: true });
  const registry = join(secrets, "gateway-tokens.json");

  await writeFile(registry, "{not json");
  const corrupt = await cli(["apply", ...flags(config)]);
  assert.equal(corrupt.code, 1, corrupt.stderr);
  assert.match(
    corrupt.stderr,
    /^error: Token registry .*gateway-tokens\.json is not valid JSON; fix it, or delete it: .*Nothing was changed\.$/m,
  );
  await unchanged("corrupt registry");
  assert.deepEqual(await readdir(secrets), ["gateway-tokens.json"], "no secret was written");

  await writeFile(registry, JSON.stringify({ version: 1 }));
  const shape = await cli(["apply", ...flags(config)]);
  assert.equal(shape.code, 1);
  assert.match(shape.stderr, /has no "tokens" array/);
  await unchanged("registry without tokens");

  await writeFile(registry, JSON.stringify({ version: 1, tokens: [] }));
  await writeFile(join(secrets, "catalog.token.json"), '{"readWrite": "short"}');
  const tokenFile = await cli(["apply", ...flags(config)]);
  assert.equal(tokenFile.code, 1);
  assert.match(
    tokenFile.stderr,
    /Token file .*catalog\.token\.json must hold \{"readWrite": "\.\.\.", "readOnly": "\.\.\.", "namespacedReadWrite"/,
  );
  await unchanged("malformed token file");
  assert.deepEqual((await readdir(secrets)).sort(), ["catalog.token.json", "gateway-tokens.json"]);

  // Fixed: apply goes through.
  await rm(join(secrets, "catalog.token.json"));
  const fixed = await cli(["apply", ...flags(config)]);
  assert.equal(fixed.code, 0, fixed.stderr);
});

test("a secrets directory that cannot be created stops apply before the server changes", async (t) => {
  const { dir, flags, unchanged } = await setup(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const blocker = join(dir, "not-a-dir");
  await writeFile(blocker, "a file where the secrets directory's parent should be");
  const run = await cli(["apply", ...flags(config).slice(0, -1), join(blocker, "secrets")]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(
    run.stderr,
    /^error: .*not-a-dir is not a directory; the tokens of .*not-a-dir\/secrets cannot be written\. Nothing was changed\.$/m,
  );
  await unchanged("blocked directory");
});

test("a secrets directory without write permission stops apply before the server changes", async (t) => {
  if (process.getuid?.() === 0) {
    t.skip("running as root: every directory is writable");
    return;
  }
  const { dir, secrets, flags, unchanged } = await setup(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  await mkdir(secrets);
  await chmod(secrets, 0o500);
  t.after(() => chmod(secrets, 0o700));
  const run = await cli(["apply", ...flags(config)]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(
    run.stderr,
    /^error: Cannot write to .*secrets: the gateway tokens need a writable .*; fix its permissions\. Nothing was changed\.$/m,
  );
  await unchanged("read-only directory");
});
