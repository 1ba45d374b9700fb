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

test("plan on a cluster names the node where a user is missing or differs", async (t) => {
  const cluster = await startCluster({ masters: 3 });
  t.after(() => cluster.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const flags = [
    "--config",
    config,
    "--target",
    cluster.url,
    "--cluster",
    "--secrets-dir",
    join(dir, "secrets"),
  ];
  assert.equal((await cli(["apply", ...flags])).code, 0);

  // A node that lacks a user (as one that joined after the last apply would), and a hand edit on another.
  const [, second, third] = cluster.masters;
  await second!.client().call("ACL", "DELUSER", "ordersapi");
  await third!.client().call("ACL", "SETUSER", "catalog", "+flushall");
  const secondAddress = `${second!.host}:${second!.port}`;
  const thirdAddress = `${third!.host}:${third!.port}`;

  const plan = await cli(["plan", ...flags]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(
    plan.stdout,
    new RegExp(
      `^\\+ create user ordersapi \\(service orders-api, keyspace orders:\\*\\)\\n {4}missing on node ${secondAddress}$`,
      "m",
    ),
  );
  assert.match(
    plan.stdout,
    new RegExp(
      `^~ modify user catalog \\(service catalog\\): access\\n {4}access differs on node ${thirdAddress}$`,
      "m",
    ),
  );
  const json = JSON.parse((await cli(["plan", ...flags, "--json"])).stdout) as Array<{
    userId: string;
    nodes?: unknown;
  }>;
  assert.deepEqual(
    json.map((a) => [a.userId, a.nodes]),
    [
      ["ordersapi", [{ node: secondAddress, difference: "missing" }]],
      ["catalog", [{ node: thirdAddress, difference: "access" }]],
    ],
  );
  assert.equal((await cli(["apply", ...flags])).code, 0);
  assert.equal((await cli(["plan", ...flags, "--json"])).stdout, "[]\n");
});
