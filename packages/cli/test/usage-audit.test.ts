// `cacheplane usage`, `cacheplane audit` and the loud allowDangerous warning of `plan`/`apply`,
// against a real ACL redis-server.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

async function serviceClient(secretsDir: string, service: string): Promise<Redis> {
  const secret = JSON.parse(await readFile(join(secretsDir, `${service}.json`), "utf8")) as {
    host: string;
    port: number;
    username: string;
    password: string;
  };
  const client = new Redis({ ...secret, enableReadyCheck: false, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  return client;
}

test("usage prints keyspaces, TTL-less keys, connections and warnings; --json for machines", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const env = { PATH: process.env.PATH, CACHEPLANE_TARGET: server.url };
  assert.equal((await cli(["apply", "--config", config, "--secrets-dir", secrets], { env })).code, 0);
  const orders = await serviceClient(secrets, "orders-api");
  t.after(() => orders.disconnect());
  for (let i = 0; i < 150; i++) await orders.set(`orders:forever:${i}`, "x".repeat(200));
  for (let i = 0; i < 20; i++) await orders.set(`orders:brief:${i}`, "x", "EX", 600);

  const text = await cli(["usage", "--config", config, "--count", "25"], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^ {2}orders +orders-api +170 +150 \(88%\) +\d/m);
  assert.match(text.stdout, /^ {2}ordersapi +orders-api +1 +1$/m);
  assert.match(
    text.stdout,
    /Warnings:\n.*keyspace "orders" \(orders-api\) holds 100% of the sampled memory and 88% of its keys have no TTL/,
  );
  assert.match(text.stdout, /has no maxmemory/);
  assert.ok(!(text.stdout + text.stderr).includes(server.admin.password));

  const json = await cli(["usage", "--config", config, "--json"], { env });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as {
    keyspaces: { keyspace: string; keys: number; keysWithoutTtl: number }[];
    warnings: string[];
  };
  assert.deepEqual(
    report.keyspaces.map((k) => [k.keyspace, k.keys, k.keysWithoutTtl]),
    [["orders", 170, 150]],
  );
  assert.ok(report.warnings.length >= 1);

  const bad = await cli(["usage", "--config", config, "--count", "0"], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--count 0 must be a positive integer/);
});

test("audit exports denials once per entry, with --state across runs and --follow until stopped", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const env = { PATH: process.env.PATH, CACHEPLANE_TARGET: server.url };
  assert.equal((await cli(["apply", "--config", config, "--secrets-dir", secrets], { env })).code, 0);
  const catalog = await serviceClient(secrets, "catalog");
  t.after(() => catalog.disconnect());
  await assert.rejects(catalog.get("orders:1"), /NOPERM/);
  await assert.rejects(catalog.call("SCAN", "0"), /NOPERM/);

  const state = join(dir, "audit-state.json");
  const first = await cli(["audit", "--config", config, "--state", state, "--set-max-len", "512"], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /127\.0\.0\.1:\d+ {2}catalog \(catalog\) {2}denied key {2}orders:1 {2}x1 {2}\[toplevel\]/,
  );
  assert.match(first.stdout, /catalog \(catalog\) {2}denied command {2}scan {2}x1/);
  assert.match(first.stderr, /acllog-max-len set to 512 on 1 node/);
  const admin = server.client();
  t.after(() => admin.disconnect());
  assert.deepEqual(await admin.call("CONFIG", "GET", "acllog-max-len"), ["acllog-max-len", "512"]);

  const second = await cli(["audit", "--config", config, "--state", state], { env });
  assert.equal(second.stdout, "", "the state file prevents repeats");
  assert.match(second.stderr, /audit: 0 new entries/);

  const stop = new AbortController();
  const following = cli(["audit", "--config", config, "--follow", "--interval", "0.05", "--json"], {
    env,
    stopSignal: stop.signal,
  });
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(catalog.call("FLUSHALL"), /NOPERM/);
  let seen = false;
  for (let i = 0; i < 100 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const log = (await admin.call("ACL", "LOG")) as unknown[];
    seen = log.length >= 3;
  }
  await new Promise((r) => setTimeout(r, 300));
  stop.abort();
  const followed = await following;
  assert.equal(followed.code, 0, followed.stderr);
  const events = followed.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { object: string; count: number; service: string });
  assert.deepEqual(events.map((e) => `${e.service} ${e.object} ${e.count}`).sort(), [
    "catalog flushall 1",
    "catalog orders:1 1",
    "catalog scan 1",
  ]);
});

test("plan and apply say loudly what an allowDangerous service can run", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, {
    ...SAMPLE_CONFIG,
    services: [
      ...SAMPLE_CONFIG.services,
      {
        name: "ops",
        access: { preset: "read-write", commands: ["+keys", "+flushall"] },
        allowDangerous: true,
      },
    ],
  });
  const env = { PATH: process.env.PATH, CACHEPLANE_TARGET: server.url };
  const flags = ["--config", config, "--secrets-dir", join(dir, "secrets")];
  const planned = await cli(["plan", ...flags], { env });
  assert.equal(planned.code, 0, planned.stderr);
  assert.match(planned.stdout, /^!! DANGEROUS ACCESS/m);
  assert.match(planned.stdout, /^!! {3}ops \(user ops\) on 1 node: FLUSHALL, KEYS$/m);
  const json = await cli(["plan", ...flags, "--json"], { env });
  assert.doesNotThrow(() => JSON.parse(json.stdout), "the JSON stays parseable");
  assert.match(json.stderr, /!! DANGEROUS ACCESS/);
  const applied = await cli(["apply", ...flags], { env });
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stderr, /!! {3}ops \(user ops\) on 1 node: FLUSHALL, KEYS/);
});

test("a config whose explicit rules would re-grant a denied command is refused before any server is asked", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, {
    stage: "test",
    region: "local",
    services: [{ name: "evil", access: { preset: "read-only", commands: ["+@slow", "+scan", "+acl"] } }],
  });
  const run = await cli([
    "plan",
    "--config",
    config,
    "--target",
    "redis://127.0.0.1:1",
    "--secrets-dir",
    dir,
  ]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /"scan" is dangerous on a shared cache/);
  assert.match(run.stderr, /"acl" is dangerous on a shared cache/);
  assert.doesNotMatch(run.stderr, /@slow/, "a category is fine: the safety tail comes after it");
});
