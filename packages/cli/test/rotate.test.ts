import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

async function canAuth(port: number, username: string, password: string): Promise<boolean> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    username,
    password,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

test("rotate, then rotate --finish, through the CLI", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secretsDir = join(dir, "secrets");
  const flags = ["--config", config, "--target", server.url, "--secrets-dir", secretsDir];
  assert.equal((await cli(["apply", ...flags])).code, 0);
  const file = join(secretsDir, "orders-api.json");
  const read = async () =>
    JSON.parse(await readFile(file, "utf8")) as { password: string; previousPassword?: string };
  const original = await read();

  const started = await cli(["rotate", "--service", "orders-api", ...flags]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /^Rotation started for orders-api \(user ordersapi\)\.$/m);
  assert.match(started.stdout, /Deploy or restart every client of orders-api/);
  assert.match(started.stdout, /cacheplane rotate --service orders-api --finish .*--target <admin-url>/);
  const during = await read();
  assert.notEqual(during.password, original.password);
  assert.equal(during.previousPassword, original.password);
  assert.ok(await canAuth(server.port, "ordersapi", during.password), "new password works");
  assert.ok(await canAuth(server.port, "ordersapi", original.password), "old password still works");
  // A plan during a rotation shows no changes: the server holds both of the secret's passwords.
  assert.equal((await cli(["plan", ...flags, "--json"])).stdout, "[]\n");

  const finished = await cli(["rotate", "--service", "orders-api", "--finish", ...flags]);
  assert.equal(finished.code, 0, finished.stderr);
  assert.match(
    finished.stdout,
    /^Rotation finished for orders-api \(user ordersapi\): the previous password no longer works\.$/m,
  );
  const after = await read();
  assert.equal(after.password, during.password);
  assert.equal(after.previousPassword, undefined);
  assert.ok(await canAuth(server.port, "ordersapi", after.password));
  assert.ok(!(await canAuth(server.port, "ordersapi", original.password)), "old password revoked");

  const json = await cli(["rotate", "--service", "orders-api", "--finish", "--json", ...flags]);
  assert.equal(json.code, 0);
  assert.equal((JSON.parse(json.stdout) as { status: string }).status, "already-finished");

  const outputs = [started, finished, json].map((r) => r.stdout + r.stderr).join("\n");
  for (const pw of [original.password, during.password]) assert.ok(!outputs.includes(pw), "password printed");
});

test("rotate before apply fails with one line and exit 1", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const run = await cli([
    "rotate",
    "--service",
    "catalog",
    "--config",
    config,
    "--target",
    server.url,
    "--secrets-dir",
    join(dir, "s"),
  ]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: Service "catalog" has no secret at .*; run apply first/m);
});
