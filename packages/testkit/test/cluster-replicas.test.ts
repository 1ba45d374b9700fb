import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startCluster, stopAll } from "@cacheplane/testkit";
import { assertProcessGone } from "./process-helpers.js";

after(() => stopAll());

test("cluster with 1 replica per master: replicas show up as slaves and receive writes", async (t) => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  t.after(() => cluster.stop());
  assert.equal(cluster.nodes.length, 6);
  assert.equal(cluster.masters.length, 3);
  assert.equal(cluster.replicas.length, 3);
  assert.deepEqual(cluster.nodes, [...cluster.masters, ...cluster.replicas]);
  const pids = cluster.nodes.map((n) => n.pid);

  for (const [i, replica] of cluster.replicas.entries()) {
    const master = cluster.masterOf(replica);
    assert.equal(master, cluster.masters[i]);
    const masterId = cluster.nodeIds[cluster.nodes.indexOf(master)]!;
    const replicaId = cluster.nodeIds[cluster.nodes.indexOf(replica)]!;
    assert.equal(await replica.client().call("CLUSTER", "MYID"), replicaId);

    const nodes = (await master.client().call("CLUSTER", "NODES")) as string;
    const line = nodes.split("\n").find((l) => l.startsWith(`${replicaId} `));
    assert.ok(line, `master knows replica ${replicaId}`);
    const [, address, flags, replicaOf] = line.split(" ");
    assert.ok(flags!.split(",").includes("slave"), line);
    assert.equal(replicaOf, masterId);
    assert.match(address!, new RegExp(`^127\\.0\\.0\\.1:${replica.port}@`));

    const role = (await replica.client().call("ROLE")) as [string, string, number, string];
    assert.equal(role[0], "slave");
    assert.equal(role[2], master.port);
    assert.equal(role[3], "connected");
  }

  // Writes through the cluster client reach the replicas (masteruser/masterauth let them sync).
  const client = cluster.client();
  await client.set("{replicated}key", "value");
  const readers = cluster.replicas.map((r) => r.client());
  await Promise.all(readers.map((r) => r.call("READONLY")));
  const deadline = Date.now() + 5_000;
  const values = async () =>
    Promise.all(readers.map((r) => r.call("GET", "{replicated}key").catch(() => null)));
  let seen = await values();
  while (!seen.includes("value") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = await values();
  }
  assert.equal(seen.filter((v) => v === "value").length, 1, `exactly one replica serves the key: ${seen}`);

  await cluster.stop();
  for (const pid of pids) assertProcessGone(pid);
});
