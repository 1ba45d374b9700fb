import assert from "node:assert/strict";
import { test } from "node:test";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

test("migrate prints the six steps with the service's user and secret names", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const run = await cli(["migrate", "--config", config, "--service", "orders-api"]);
  assert.equal(run.code, 0, run.stderr);
  const steps = run.stdout.split("\n").filter((l) => /^\d\d\. \[ \] /.test(l));
  assert.equal(steps.length, 6, run.stdout);
  assert.match(steps[0]!, /^01\. \[ \] Create the service's Redis user and generated secret$/);
  assert.match(steps[5]!, /^06\. \[ \] Remove the old Redis configuration/);
  assert.match(run.stdout, /Redis user: ordersapi \(keyspace orders:\*/);
  assert.match(run.stdout, /Secret: \/services\/orders-api\/redis\/orders/);
  assert.match(run.stdout, /REDIS_SECRET_ARN/);

  const json = await cli(["migrate", "--config", config, "--service", "orders-api", "--json"]);
  assert.equal(json.code, 0);
  const parsed = JSON.parse(json.stdout) as Array<{ title: string; detail: string[] }>;
  assert.equal(parsed.length, 6);
  assert.ok(parsed[2]!.detail.join(" ").includes("/services/orders-api/redis/orders"));
});
