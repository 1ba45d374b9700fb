import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { aclUsers, cli, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("an invalid config exits 2 with one message per problem and applies nothing", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const before = await aclUsers(server.client());

  const config = await writeConfig(dir, {
    stage: "dev",
    region: "local",
    services: [
      { name: "orders", access: "read-write" },
      { name: "orders", access: "read-only" },
      { name: "pay-ments", keyspace: "payments", access: "read-write" },
      { name: "payments", keyspace: "shop", access: "read-write" },
      { name: "billing", keyspace: "orders", access: "read-write" },
      { name: "empty", keyspace: "::", access: "read-write" },
    ],
  });
  const flags = ["--config", config, "--target", server.url, "--secrets-dir", join(dir, "secrets")];
  for (const command of ["plan", "apply"]) {
    const run = await cli([command, ...flags]);
    assert.equal(run.code, 2, `${command}: ${run.stderr}`);
    assert.equal(run.stdout, "");
    const lines = run.stderr.trimEnd().split("\n");
    assert.match(lines[0]!, /^error: .*cacheplane\.config\.mjs: Invalid Cacheplane config \(4 problems\):$/);
    assert.equal(lines.length, 5, run.stderr);
    assert.match(run.stderr, /services\[1\]\.name: service name "orders" is used twice/);
    assert.match(run.stderr, /"pay-ments" and "payments" both become Redis user "payments"/);
    assert.match(run.stderr, /keyspace "orders" belongs to "orders" already/);
    assert.match(run.stderr, /services\[5\]\.keyspace: keyspace "::" is not allowed: only lowercase letters/);
  }
  assert.deepEqual(await aclUsers(server.client()), before, "server users unchanged");

  const engine = await writeConfig(
    dir,
    { stage: "dev", region: "local", engine: "memcached", services: [] },
    "engine.mjs",
  );
  const run = await cli([
    "apply",
    "--config",
    engine,
    "--target",
    server.url,
    "--secrets-dir",
    join(dir, "secrets"),
  ]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^ {2}- engine: engine must be "valkey" or "redis"$/m);
  assert.deepEqual(await aclUsers(server.client()), before, "server users unchanged");
});

test("an unknown service for migrate/rotate is one line naming the choices, exit 2", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, {
    stage: "dev",
    region: "local",
    services: [{ name: "a", access: "read-only" }],
  });
  const run = await cli(["migrate", "--config", config, "--service", "zzz"]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, 'error: no service "zzz"; the config has "a"\n');
});
