// `cacheplane apply` issues gateway tokens; `cacheplane gateway` serves them (the command-line contract of issue 4).
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { getFreePort, startRedis, stopAll } from "@cacheplane/testkit";
import { Redis as UpstashRedis } from "@upstash/redis";
import { cli, SAMPLE_CONFIG, startServing, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("apply writes <service>.token.json; gateway serves those tokens as each service's own user", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const flags = ["--config", config, "--secrets-dir", secrets];

  const applied = await cli(["apply", ...flags, "--target", server.url]);
  assert.equal(applied.code, 0, applied.stderr);
  const tokenFile = join(secrets, "orders-api.token.json");
  const tokens = JSON.parse(await readFile(tokenFile, "utf8")) as Record<string, string>;
  assert.deepEqual(Object.keys(tokens).sort(), [
    "namespacedReadOnly",
    "namespacedReadWrite",
    "readOnly",
    "readWrite",
  ]);
  assert.ok(tokens.readWrite!.length >= 32 && tokens.readOnly!.length >= 32);
  assert.notEqual(tokens.readWrite, tokens.readOnly);
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  assert.ok(applied.stdout.includes(tokenFile), "the token file is named");
  assert.ok(!applied.stdout.includes(tokens.readWrite!) && !applied.stderr.includes(tokens.readWrite!));

  // A second apply keeps the tokens (scripts rely on them staying put).
  const again = await cli(["apply", ...flags, "--target", server.url, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).tokens["orders-api"], tokenFile);
  assert.deepEqual(JSON.parse(await readFile(tokenFile, "utf8")), tokens);

  // `cacheplane gateway` on a free port, stopped through the stop signal as Ctrl-C would.
  const probe = await cli(["gateway", ...flags, "--port", "0"], { stopSignal: AbortSignal.abort() }).catch(
    (e) => e,
  );
  assert.notEqual((probe as { code?: number }).code, 0, "--port 0 is not a TCP port for the command line");

  const port = String(await getFreePort());
  // Up to 30 s: the gateway's worker processes (--workers, default: the CPUs) load on a busy machine.
  const gateway = await startServing(
    t,
    ["gateway", ...flags, "--target", `redis://127.0.0.1:${server.port}`, "--port", port],
    { cwd: dir },
  );
  const stdout = gateway.output.stdout;
  assert.ok(!stdout.includes(tokens.readWrite!), "tokens are never printed");
  const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
  assert.ok(url, stdout);

  const orders = new UpstashRedis({ url: url!, token: tokens.readWrite!, enableTelemetry: false });
  assert.equal(await orders.set("orders:cli", { ok: true }), "OK");
  assert.deepEqual(await orders.get("orders:cli"), { ok: true });
  await assert.rejects(
    orders.set("catalog:cli", 1),
    /NOPERM|permission/i,
    "another service's keys are refused",
  );
  const readOnly = new UpstashRedis({ url: url!, token: tokens.readOnly!, enableTelemetry: false });
  assert.deepEqual(await readOnly.get("orders:cli"), { ok: true });
  await assert.rejects(readOnly.set("orders:cli", 2));
  const anonymous = await fetch(`${url}/get/orders:cli`);
  assert.equal(anonymous.status, 401);

  gateway.stop();
  assert.equal(await gateway.running, 0);
});
