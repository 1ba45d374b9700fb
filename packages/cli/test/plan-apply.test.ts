import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { aclUsers, cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("plan, apply, then plan --json prints [] against a real ACL redis-server", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const flags = ["--config", config, "--target", server.url, "--secrets-dir", secrets];

  const first = await cli(["plan", ...flags]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^\+ create user catalog \(service catalog, keyspace catalog:\*\)$/m);
  assert.match(first.stdout, /^\+ create user ordersapi \(service orders-api, keyspace orders:\*\)$/m);
  assert.match(first.stdout, /^\+ load script library cacheplane_[0-9a-f]{10} on 127\.0\.0\.1:\d+ /m);
  assert.match(first.stdout, /^Plan: 1 load-script-library, 3 create-user\.$/m);

  const detailed = await cli(["plan", ...flags, "--detailed-exitcode"]);
  assert.equal(detailed.code, 2, "changes pending");

  const json = await cli(["plan", ...flags, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const actions = JSON.parse(json.stdout) as Array<{ type: string; userId?: string; node?: string }>;
  assert.deepEqual(
    actions.map((a) => `${a.type} ${a.userId ?? a.node}`),
    [
      `load-script-library 127.0.0.1:${server.port}`,
      "create-user catalog",
      "create-user ordersapi",
      "create-user sessions",
    ],
  );
  assert.deepEqual(await aclUsers(server.client()), ["admin", "default"], "plan changes nothing");

  const applied = await cli(["apply", ...flags]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(
    applied.stderr,
    /^\[1\/4\] load-script-library cacheplane_\w+ on 127\.0\.0\.1:\d+ \.\.\. done$/m,
  );
  assert.match(applied.stderr, /^\[2\/4\] create-user catalog \(catalog\) \.\.\. done$/m);
  assert.match(applied.stderr, /^\[4\/4\] create-user sessions \(sessions\) \.\.\. done$/m);
  assert.match(applied.stdout, /^Applied 4 changes: 1 load-script-library, 3 create-user\.$/m);
  const secretFile = join(secrets, "orders-api.json");
  assert.match(
    applied.stdout,
    new RegExp(`^ {2}orders-api {2}${secretFile.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"),
  );
  assert.deepEqual(await aclUsers(server.client()), ["admin", "catalog", "default", "ordersapi", "sessions"]);

  const secret = JSON.parse(await readFile(secretFile, "utf8")) as Record<string, unknown>;
  assert.equal(secret.username, "ordersapi");
  assert.equal(secret.port, server.port);
  assert.equal((await stat(secretFile)).mode & 0o777, 0o600);

  const again = await cli(["plan", ...flags, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "[]\n");
  const unchanged = await cli(["plan", ...flags, "--detailed-exitcode"]);
  assert.equal(unchanged.code, 0);
  assert.match(unchanged.stdout, /^No changes\./);
  const reapply = await cli(["apply", ...flags]);
  assert.equal(reapply.code, 0, reapply.stderr);
  assert.match(reapply.stdout, /^No changes\./);

  // Neither the admin password nor any service password was ever printed.
  const everything = [first, detailed, json, applied, again, unchanged, reapply]
    .map((r) => r.stdout + r.stderr)
    .join("\n");
  assert.ok(!everything.includes(server.admin.password), "admin password printed");
  assert.ok(!everything.includes(String(secret.password)), "service password printed");
  assert.match(first.stderr, /redis:\/\/admin:\*\*\*@127\.0\.0\.1:/);
});

test("a hand edit on the server shows up as modify-user, and apply restores the declared access", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  // The target comes from the environment, so the admin password need not be on the command line.
  const env = { PATH: process.env.PATH, CACHEPLANE_TARGET: server.url };
  const flags = ["--config", config, "--secrets-dir", join(dir, "secrets")];
  assert.equal((await cli(["apply", ...flags], { env })).code, 0);

  const admin = server.client();
  await admin.call("ACL", "SETUSER", "catalog", "~*", "+flushall");
  const drift = await cli(["plan", ...flags], { env });
  assert.equal(drift.code, 0, drift.stderr);
  assert.match(drift.stdout, /^~ modify user catalog \(service catalog\): access$/m);
  assert.match(drift.stdout, /^ {4}- .*~\*.*$/m);
  assert.match(drift.stdout, /^Plan: 1 modify-user\.$/m);
  const json = JSON.parse((await cli(["plan", ...flags, "--json"], { env })).stdout) as Array<{
    type: string;
  }>;
  assert.deepEqual(
    json.map((a) => a.type),
    ["modify-user"],
  );

  const fixed = await cli(["apply", ...flags], { env });
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stderr, /^\[1\/1\] modify-user catalog \(catalog: access\) \.\.\. done$/m);
  const rules = (await admin.call("ACL", "GETUSER", "catalog")) as unknown[];
  assert.ok(!JSON.stringify(rules).includes("flushall"), "hand-added grant removed");
  assert.equal((await cli(["plan", ...flags, "--json"], { env })).stdout, "[]\n");
});

test("apply --json prints {applied, secrets}; a wrong admin password fails with exit 1 and is never printed", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const flags = ["--config", config, "--secrets-dir", join(dir, "secrets")];
  const applied = await cli(["apply", ...flags, "--target", server.url, "--json"]);
  assert.equal(applied.code, 0, applied.stderr);
  const result = JSON.parse(applied.stdout) as { applied: unknown[]; secrets: Record<string, string> };
  assert.equal(result.applied.length, 4, "the script library and three users");
  assert.equal(result.secrets.catalog, join(dir, "secrets", "catalog.json"));

  const wrong = `redis://admin:not-the-password-4242@127.0.0.1:${server.port}`;
  const refused = await cli(["plan", ...flags, "--target", wrong]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error: /m);
  assert.ok(!refused.stderr.includes("not-the-password-4242"), refused.stderr);
  assert.equal(refused.stdout, "");
});

test("flag errors exit 2 with one line: no target, bad URL scheme, missing --secrets-dir", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const noTarget = await cli(["plan", "--config", config, "--secrets-dir", dir]);
  assert.equal(noTarget.code, 2);
  assert.equal(
    noTarget.stderr,
    "error: no target: pass --target redis://<user>:<password>@<host>:<port> or set $CACHEPLANE_TARGET\n",
  );
  const http = await cli([
    "plan",
    "--config",
    config,
    "--secrets-dir",
    dir,
    "--target",
    "http://u:hunter22pw@h",
  ]);
  assert.equal(http.code, 2);
  assert.match(http.stderr, /must start with redis:\/\/ or rediss:\/\//);
  assert.ok(!http.stderr.includes("hunter22pw"));
  const noDir = await cli(["apply", "--config", config, "--target", "redis://h:1"]);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /required option '--secrets-dir <dir>' not specified/);
});
