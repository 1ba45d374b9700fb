import assert from "node:assert/strict";
import { after, test } from "node:test";
import { keySlot, startCluster, stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { assertProcessGone } from "./process-helpers.js";

after(() => stopAll());

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();
}

test("3-master cluster: cluster_state ok everywhere, keys spread over every master", async (t) => {
  const cluster = await startCluster();
  t.after(() => cluster.stop());
  assert.equal(cluster.masters.length, 3);
  assert.equal(cluster.replicas.length, 0);
  assert.deepEqual(cluster.nodes, cluster.masters);
  assert.deepEqual(
    cluster.seeds,
    cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
  );
  assert.equal(cluster.url, cluster.masters[0]!.url);
  assert.ok(cluster.nodes.every((n) => n.admin.password === cluster.admin.password));
  const pids = cluster.nodes.map((n) => n.pid);

  for (const node of cluster.nodes) {
    const info = (await node.client().call("CLUSTER", "INFO")) as string;
    assert.equal(field(info, "cluster_state"), "ok", `node ${node.port}`);
    assert.equal(field(info, "cluster_known_nodes"), "3");
    assert.equal(field(info, "cluster_slots_assigned"), "16384");
  }

  // ACL is on for cluster nodes too.
  const anonymous = new Redis({
    host: "127.0.0.1",
    port: cluster.masters[0]!.port,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  anonymous.on("error", () => undefined);
  await anonymous.connect();
  await assert.rejects(anonymous.ping(), /NOAUTH/);
  anonymous.disconnect();

  const client = cluster.client();
  const keys = Array.from({ length: 60 }, (_, i) => `key:${i}`);
  for (const key of keys) await client.set(key, key);
  for (const key of keys) assert.equal(await client.get(key), key);

  const counts = await Promise.all(cluster.masters.map((m) => m.client().dbsize()));
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    keys.length,
  );
  for (const [i, count] of counts.entries()) assert.ok(count > 0, `master ${i} holds keys (${counts})`);

  // Each key lives on the master that owns its slot.
  const slotsOwner = (await cluster.masters[0]!.client().call("CLUSTER", "SLOTS")) as [
    number,
    number,
    [string, number],
  ][];
  for (const key of keys.slice(0, 10)) {
    const slot = keySlot(key);
    const owner = slotsOwner.find(([start, end]) => slot >= start && slot <= end)!;
    const master = cluster.masters.find((m) => m.port === owner[2][1])!;
    assert.equal(await master.client().call("GET", key), key);
  }

  await cluster.stop();
  for (const pid of pids) assertProcessGone(pid);
  assert.ok(
    ["close", "end"].includes(client.status),
    `tracked cluster client closed by stop(): ${client.status}`,
  );
});
