import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { formatPlan } from "@cacheplane/core";
import {
  getFreePort,
  keySlot,
  type RedisCluster,
  splitSlots,
  startCluster,
  stopAll,
} from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  accessRuleDiff,
  applyPlatform,
  FileSecretStore,
  PASSWORDS_DIFFER_BETWEEN_NODES,
  planAgainst,
  RedisAclTarget,
  TargetError,
} from "../src/index.js";
import {
  assertIsolated,
  canAuthenticate,
  clusterClientAs,
  readSecretFile,
  tempDir,
  testConfig,
} from "./helpers.js";

after(() => stopAll());

describe("RedisAclTarget on a 3-master cluster with a replica per master", () => {
  let cluster: RedisCluster;
  let admins: Redis[];
  let target: RedisAclTarget;
  let store: FileSecretStore;
  let cleanup: () => Promise<void>;
  const config = testConfig();

  /**
   * `ACL LIST` line of `user` on every node (undefined where it is missing), its rules sorted: Redis 7.0
   * lists per-command rules in the order of its command table, which is hashed with a per-process seed,
   * so identical users read in different orders on different nodes.
   */
  const linesOf = async (user: string) =>
    Promise.all(
      admins.map(async (admin) => {
        const line = ((await admin.call("ACL", "LIST")) as string[]).find((l) =>
          l.startsWith(`user ${user} `),
        );
        return line?.split(" ").sort().join(" ");
      }),
    );

  before(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
    admins = cluster.nodes.map((node) => node.client());
    target = await RedisAclTarget.connect({ urls: [cluster.url], cluster: true });
    const temp = await tempDir();
    cleanup = temp.cleanup;
    store = new FileSecretStore(temp.dir);
  });
  after(async () => {
    await target?.close();
    await cluster?.stop();
    await cleanup?.();
  });

  test("discovers every master and replica from one seed", () => {
    assert.equal(target.nodeAddresses.length, 6);
    assert.deepEqual(
      [...target.nodeAddresses].sort(),
      cluster.nodes.map((n) => `${n.host}:${n.port}`).sort(),
    );
    assert.deepEqual(
      target.clusterNodes.map((n) => n.role),
      ["master", "master", "master", "replica", "replica", "replica"],
    );
    assert.deepEqual(target.connectionInfo(), {
      host: "127.0.0.1",
      port: cluster.masters[0]!.port,
      tls: false,
      cluster: true,
    });
  });

  test("apply creates each user identically on every node; the second plan is empty", async () => {
    const result = await applyPlatform(config, target, store);
    assert.deepEqual(
      result.applied.map((a) => (a.type === "load-script-library" ? `${a.type} ${a.node}` : a.type)),
      [
        ...cluster.masters
          .map((m) => `load-script-library 127.0.0.1:${m.port}`)
          .sort((a, b) => a.localeCompare(b)),
        "create-user",
        "create-user",
      ],
    );
    for (const user of ["svca", "svcb"]) {
      const lines = await linesOf(user);
      assert.ok(lines[0], `${user} exists on the first node`);
      assert.deepEqual(
        lines,
        lines.map(() => lines[0]),
        `${user} is identical on every node`,
      );
    }
    const a = await readSecretFile(result.secrets["svc-a"]!);
    assert.equal(a.cluster, true);
    for (const node of cluster.nodes)
      assert.equal(await canAuthenticate(node.host, node.port, "svca", a.password), true);
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);
  });

  test("isolation through an ioredis Cluster client as the service user", async () => {
    const a = await readSecretFile(store.locate(config.services[0]!));
    const client = await clusterClientAs([{ host: a.host, port: a.port }], a.username, a.password);
    try {
      await assertIsolated(client, "a", "b");
      // Keys of the own keyspace land on every master, and each works there.
      const ranges = splitSlots(3);
      const mastersHit = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const key = `a:spread:${i}`;
        assert.equal(await client.set(key, String(i)), "OK");
        assert.equal(await client.get(key), String(i));
        const slot = keySlot(key);
        mastersHit.add(ranges.findIndex(([start, end]) => slot >= start && slot <= end));
      }
      assert.equal(mastersHit.size, 3);
    } finally {
      client.disconnect();
    }
  });

  test("a hand edit on one replica shows up in the plan, and apply fixes that node", async () => {
    const replica = admins[4]!;
    const replicaAddress = `${cluster.nodes[4]!.host}:${cluster.nodes[4]!.port}`;
    await replica.call("ACL", "SETUSER", "svca", "+flushall");
    const { actions } = await planAgainst(config, target, store);
    assert.equal(actions.length, 1, formatPlan(actions));
    const [action] = actions;
    assert.ok(action?.type === "modify-user");
    assert.equal(action.userId, "svca");
    assert.deepEqual(action.changes, ["access"]);
    assert.deepEqual(accessRuleDiff(action.previousAccessString, action.accessString).onlyDesired, [
      "-flushall",
    ]);
    assert.deepEqual(target.lastDisagreements, [
      { userId: "svca", node: replicaAddress, difference: "access" },
    ]);
    // The plan itself names the node, for the operator reviewing it.
    assert.deepEqual(action.nodes, [{ node: replicaAddress, difference: "access" }]);
    assert.match(formatPlan(actions), new RegExp(`^ {4}access differs on node ${replicaAddress}$`, "m"));

    await applyPlatform(config, target, store);
    const lines = await linesOf("svca");
    assert.deepEqual(
      lines,
      lines.map(() => lines[0]),
    );
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);
    assert.deepEqual(target.lastDisagreements, []);
  });

  test("a user deleted on one master, or a password added on one node, is restored everywhere", async () => {
    await admins[1]!.call("ACL", "DELUSER", "svcb");
    await admins[5]!.call("ACL", "SETUSER", "svca", ">only-on-one-node-password");
    const { actions, actual } = await planAgainst(config, target, store);
    assert.deepEqual(
      actions.map((a) =>
        a.type === "modify-user"
          ? `${a.type} ${a.userId} ${a.changes}`
          : `${a.type} ${"userId" in a ? a.userId : ""}`,
      ),
      ["create-user svcb", "modify-user svca passwords"],
    );
    const address = (i: number) => `${cluster.nodes[i]!.host}:${cluster.nodes[i]!.port}`;
    assert.deepEqual(
      actions.map((a) => ("nodes" in a ? a.nodes : undefined)),
      [[{ node: address(1), difference: "missing" }], [{ node: address(5), difference: "passwords" }]],
    );
    const text = formatPlan(actions);
    assert.match(text, new RegExp(`^\\+ create user svcb .*\\n {4}missing on node ${address(1)}$`, "m"));
    assert.match(text, new RegExp(`^ {4}passwords differ on node ${address(5)}$`, "m"));
    assert.ok(
      actual.users.find((u) => u.userId === "svca")?.passwordHashes?.includes(PASSWORDS_DIFFER_BETWEEN_NODES),
    );
    await applyPlatform(config, target, store);
    for (const user of ["svca", "svcb"]) {
      const lines = await linesOf(user);
      assert.ok(lines[0]);
      assert.deepEqual(
        lines,
        lines.map(() => lines[0]),
      );
    }
    const last = cluster.nodes[5]!;
    assert.equal(await canAuthenticate(last.host, last.port, "svca", "only-on-one-node-password"), false);
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);
  });

  test("prune deletes on every node; unmanaged users stay", async () => {
    await admins[0]!.call("ACL", "SETUSER", "legacy", "on", ">legacy-password-1234", "~legacy:*", "+get");
    await applyPlatform(testConfig([], ["svc-b"]), target, store, { prune: true });
    assert.deepEqual(
      await linesOf("svcb"),
      admins.map(() => undefined),
    );
    assert.ok((await linesOf("legacy"))[0]);
    assert.ok((await linesOf("admin")).every((l) => l !== undefined));
  });

  test("a cluster node opened as a standalone server is refused", async () => {
    await assert.rejects(RedisAclTarget.connect({ urls: [cluster.url] }), (error: unknown) => {
      assert.ok(error instanceof TargetError);
      assert.match(error.message, /is a Redis Cluster node.*cluster: true/s);
      assert.ok(!error.message.includes(cluster.admin.password));
      return true;
    });
  });

  test("an unreachable first seed is skipped", async () => {
    const dead = `redis://admin:${cluster.admin.password}@127.0.0.1:${await getFreePort()}`;
    const other = await RedisAclTarget.connect({ urls: [dead, cluster.replicas[0]!.url] });
    try {
      assert.equal(other.nodeAddresses.length, 6);
    } finally {
      await other.close();
    }
  });
});
