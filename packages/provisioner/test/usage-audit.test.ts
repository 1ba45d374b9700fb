// Noisy neighbours made visible: usage per keyspace and user (SCAN steps, sampled MEMORY USAGE,
// never KEYS), and the ACL LOG exported incrementally so that no denial is lost when the log wraps.
// Real redis-server processes.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  AclLogFollower,
  NO_KEYSPACE,
  parseAclLog,
  sampleUsage,
  setAclLogMaxLen,
  type UsageProgress,
} from "../src/index.js";
import { connectAs, readSecretFile, standaloneProvisioning, testConfig } from "./helpers.js";

after(() => stopAll());

const config = testConfig([
  { name: "svc-c", keyspace: "c", access: "read-only" },
  { name: "svc-s", keyspace: "s", access: "read-write", sharedKeyspaces: ["common"] },
]);

describe("usage and audit on a standalone server", () => {
  const tenants: Redis[] = [];
  after(() => {
    for (const t of tenants) t.disconnect();
  });
  const fx = standaloneProvisioning({ apply: config });

  const as = async (service: string): Promise<Redis> => {
    const secret = await readSecretFile(fx.store.locate(config.services.find((s) => s.name === service)!));
    const client = await connectAs(secret.host, secret.port, secret.username, secret.password);
    tenants.push(client);
    return client;
  };
  const commandCalls = async (command: string) =>
    Number(
      new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(String(await fx.admin.info("commandstats")))?.[1] ??
        0,
    );

  test("counts keys, TTL-less keys, memory and connections per keyspace and user", async () => {
    const pipeline = fx.admin.pipeline();
    for (let i = 0; i < 50; i++) pipeline.set(`a:k${i}`, "x", "EX", 600);
    for (let i = 0; i < 10; i++) pipeline.set(`a:forever${i}`, "x");
    for (let i = 0; i < 30; i++) pipeline.set(`b:big${i}`, "y".repeat(4000));
    for (let i = 0; i < 4; i++) pipeline.set(`common:k${i}`, "z", "EX", 600);
    for (let i = 0; i < 5; i++) pipeline.set(`zz:k${i}`, "z");
    pipeline.set("nocolon", "1");
    await pipeline.exec();
    await as("svc-a");
    await as("svc-a");
    await as("svc-b");
    const keysBefore = await commandCalls("keys");
    const progress: UsageProgress[] = [];
    const report = await sampleUsage(fx.target.adminNodes, config, {
      scanCount: 7,
      memorySamples: 5,
      onProgress: (p) => progress.push(p),
    });
    const byKeyspace = new Map(report.keyspaces.map((k) => [k.keyspace, k]));
    assert.deepEqual(
      [...byKeyspace.values()]
        .map((k) => [k.keyspace, k.service, k.keys, k.keysWithoutTtl, k.estimated])
        .sort(),
      [
        [NO_KEYSPACE, undefined, 1, 1, false],
        ["a", "svc-a", 60, 10, false],
        ["b", "svc-b", 30, 30, false],
        ["common", undefined, 4, 0, false],
        ["zz", undefined, 5, 5, false],
      ],
    );
    assert.deepEqual(byKeyspace.get("common")!.sharedBy, ["svc-s"]);
    assert.equal(report.keyspaces[0]!.keyspace, "b", "largest memory first");
    assert.ok(byKeyspace.get("b")!.memoryBytes > 30 * 4000);
    assert.ok(byKeyspace.get("a")!.memoryBytes > 0);
    assert.equal(byKeyspace.get("a")!.memorySampled, 5, "only a sample gets MEMORY USAGE");
    assert.ok(progress.length > 10, "one progress event per SCAN step");
    assert.equal(progress.at(-1)!.scanned, 100);
    assert.equal(await commandCalls("keys"), keysBefore, "never KEYS");
    const users = new Map(report.users.map((u) => [u.user, u]));
    assert.equal(users.get("svca")?.connections, 2);
    assert.equal(users.get("svca")?.service, "svc-a");
    assert.equal(users.get("svcb")?.connections, 1);
    const [node] = report.nodes;
    assert.equal(node?.keys, 100);
    assert.ok(node!.usedMemoryBytes > 0);
    assert.ok(node!.maxClients > 0);
    assert.equal(node!.complete, true);
  });

  test("a scan cut short extrapolates from DBSIZE and says so", async () => {
    const report = await sampleUsage(fx.target.adminNodes, config, { scanCount: 10, maxKeysPerNode: 20 });
    assert.ok(report.keyspaces.every((k) => k.estimated));
    const total = report.keyspaces.reduce((n, k) => n + k.keys, 0);
    assert.ok(Math.abs(total - 100) <= report.keyspaces.length, `extrapolated ${total} of 100`);
    assert.equal(report.nodes[0]!.complete, false);
  });

  test("audit reports each denial once, by service, and follows growth of a group", async () => {
    await fx.admin.call("ACL", "LOG", "RESET");
    const follower = new AclLogFollower(
      fx.target.adminNodes.map((n) => n.connection),
      config,
    );
    const a = await as("svc-a");
    for (let i = 0; i < 3; i++) await assert.rejects(a.get("b:secret"), /NOPERM/);
    await assert.rejects(a.call("FLUSHALL"), /NOPERM/);
    let poll = await follower.poll();
    assert.deepEqual(poll.events.map((e) => [e.service, e.username, e.reason, e.object, e.count]).sort(), [
      ["svc-a", "svca", "command", "flushall", 1],
      ["svc-a", "svca", "key", "b:secret", 3],
    ]);
    assert.deepEqual((await follower.poll()).events, [], "nothing new, nothing reported");
    for (let i = 0; i < 2; i++) await assert.rejects(a.get("b:secret"), /NOPERM/);
    poll = await follower.poll();
    assert.deepEqual(
      poll.events.map((e) => [e.object, e.count]),
      [["b:secret", 2]],
      "only the new occurrences of a growing group",
    );
    // A later run (e.g. cron) continues from the saved state without repeating anything.
    const next = new AclLogFollower(
      fx.target.adminNodes.map((n) => n.connection),
      config,
      follower.snapshot(),
    );
    assert.deepEqual((await next.poll()).events, []);
  });

  test("polling keeps every denial although the log wraps; a missed wrap is reported", async () => {
    const nodes = fx.target.adminNodes.map((n) => n.connection);
    await setAclLogMaxLen(nodes, 4);
    try {
      await fx.admin.call("ACL", "LOG", "RESET");
      const follower = new AclLogFollower(nodes, config);
      const b = await as("svc-b");
      const seen: string[] = [];
      for (let burst = 0; burst < 4; burst++) {
        for (let i = 0; i < 3; i++) await assert.rejects(b.get(`a:k-${burst}-${i}`), /NOPERM/);
        const poll = await follower.poll();
        assert.deepEqual(poll.possiblyLost, []);
        seen.push(...poll.events.map((e) => `${e.object}x${e.count}`));
      }
      assert.equal(seen.length, 12, seen.join(" "));
      assert.equal(new Set(seen).size, 12, "each exactly once");
      // Ten denials between two polls with room for four: the follower says entries may be lost.
      for (let i = 0; i < 10; i++) await assert.rejects(b.get(`a:flood-${i}`), /NOPERM/);
      const flooded = await follower.poll();
      assert.deepEqual(flooded.possiblyLost, [`127.0.0.1:${fx.server.port}`]);
      assert.equal(flooded.events.length, 4, "what the log still held is reported");
    } finally {
      await setAclLogMaxLen(nodes, 128);
    }
  });

  test("drain reads and resets each log atomically: exact counts on any version", async () => {
    const nodes = fx.target.adminNodes.map((n) => n.connection);
    await fx.admin.call("ACL", "LOG", "RESET");
    const follower = new AclLogFollower(nodes, config);
    const c = await as("svc-c");
    for (let i = 0; i < 2; i++) await assert.rejects(c.set("c:x", "1"), /NOPERM/);
    const poll = await follower.poll({ drain: true });
    assert.deepEqual(
      poll.events.map((e) => [e.service, e.reason, e.object, e.count]),
      [["svc-c", "command", "set", 2]],
    );
    assert.deepEqual(await fx.admin.call("ACL", "LOG"), [], "the log was reset");
    await assert.rejects(c.set("c:x", "1"), /NOPERM/);
    assert.deepEqual(
      (await follower.poll({ drain: true })).events.map((e) => e.count),
      [1],
    );
  });
});

test("parseAclLog reads Redis 7.0 entries (age only) and 7.2+/Valkey entries (entry id, timestamps)", () => {
  const now = 1_700_000_000_000;
  const v70 = [
    [
      "count",
      2,
      "reason",
      "key",
      "context",
      "toplevel",
      "object",
      "b:x",
      "username",
      "svca",
      "age-seconds",
      "1.5",
      "client-info",
      "id=7 addr=10.0.0.9:5555 laddr=10.0.0.1:6379 fd=8 name= user=svca",
    ],
  ];
  assert.deepEqual(parseAclLog(v70, "n:1", now), [
    {
      node: "n:1",
      count: 2,
      reason: "key",
      context: "toplevel",
      object: "b:x",
      username: "svca",
      lastSeen: now - 1500,
      clientAddress: "10.0.0.9:5555",
    },
  ]);
  const v72 = [
    [
      "count",
      1,
      "reason",
      "command",
      "context",
      "lua",
      "object",
      "scan",
      "username",
      "svcb",
      "age-seconds",
      "0.2",
      "client-info",
      "id=9 addr=10.0.0.8:1 user=svcb",
      "entry-id",
      41,
      "timestamp-created",
      now - 900,
      "timestamp-last-updated",
      now - 200,
    ],
  ];
  const [entry] = parseAclLog(v72, "n:2", now);
  assert.equal(entry?.entryId, 41);
  assert.equal(entry?.createdAt, now - 900);
  assert.equal(entry?.lastSeen, now - 200, "the server's own timestamp wins over the age");
  assert.deepEqual(parseAclLog("not a list", "n", now), []);
});
