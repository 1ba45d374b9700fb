import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { startCluster, stopAll } from "@cacheplane/testkit";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("apply --cluster provisions every master; doctor connects in cluster mode from the secret", async (t) => {
  const cluster = await startCluster({ masters: 3 });
  t.after(() => cluster.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const flags = ["--config", config, "--target", cluster.url, "--cluster", "--secrets-dir", secrets];

  const applied = await cli(["apply", ...flags]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stderr, /\(cluster\)/);
  for (const node of cluster.masters) {
    const users = (await node.client().call("ACL", "USERS")) as string[];
    assert.ok(users.includes("ordersapi"), `ordersapi on ${node.port}`);
  }
  assert.equal((await cli(["plan", ...flags, "--json"])).stdout, "[]\n");

  const secretFile = join(secrets, "orders-api.json");
  const secret = JSON.parse(await readFile(secretFile, "utf8")) as { cluster?: boolean };
  assert.equal(secret.cluster, true);
  const doctor = await cli(["doctor", "--secret", secretFile]);
  assert.equal(doctor.code, 0, doctor.stdout);
  assert.match(doctor.stdout, /^✓ cluster: cluster mode: 3 master\(s\) discovered$/m);
  assert.match(doctor.stdout, /^All 10 checks passed\.$/m);
});
