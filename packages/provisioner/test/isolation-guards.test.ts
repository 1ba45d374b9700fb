// The provisioner's isolation guards against real redis-server processes: every access string is
// verified with ACL DRYRUN on every node before anything is written (a loosened string is refused
// with a typed error naming the service, the node and the command), services with allowDangerous are
// reported loudly, and the platform's script library is loaded on every master, including masters
// that joined later, while older versions stay until pruned.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildAccessString, type PlatformConfig } from "@cacheplane/core";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { type RedisCluster, type RedisServer, startCluster, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  AccessVerificationError,
  applyPlatform,
  FileSecretStore,
  planAgainst,
  RedisAclTarget,
  sampleUsage,
} from "../src/index.js";
import { standaloneProvisioning, tempDir, testConfig } from "./helpers.js";

after(() => stopAll());

/** `config` with the access string of `service` replaced (a hand-written or future-Redis string). */
function withAccess(config: PlatformConfig, service: string, accessString: string): PlatformConfig {
  return {
    ...config,
    services: config.services.map((s) => (s.name === service ? { ...s, accessString } : s)),
  };
}

/** The read-write string of keyspace `a` with `rule` removed from the safety tail, or `extra` appended. */
function loosened(remove: string[], extra: string[] = []): string {
  const rules = buildAccessString({ keyspace: "a", access: "read-write" })
    .split(" ")
    .filter((r) => !remove.includes(r));
  return [...rules, ...extra].join(" ");
}

async function libraries(admin: Redis): Promise<string[]> {
  const reply = (await admin.call("FUNCTION", "LIST", "LIBRARYNAME", "cacheplane_*")) as unknown[][];
  return reply.map((l) => String(l[1])).sort();
}

describe("access verification and the script library on a standalone server", () => {
  const fx = standaloneProvisioning();

  test("a string that would allow an enumeration command is refused before anything is written", async () => {
    const config = withAccess(testConfig(), "svc-a", loosened(["-scan", "-client|tracking"]));
    await assert.rejects(applyPlatform(config, fx.target, fx.store), (error: unknown) => {
      assert.ok(error instanceof AccessVerificationError, String(error));
      const found = error.violations.map((v) => `${v.service} ${v.node} ${v.command}`).sort();
      assert.deepEqual(found, [
        `svc-a 127.0.0.1:${fx.server.port} client|tracking`,
        `svc-a 127.0.0.1:${fx.server.port} scan`,
      ]);
      assert.match(error.message, /service "svc-a" \(user svca\) may run SCAN on 127\.0\.0\.1:\d+/);
      assert.match(error.message, /CLIENT TRACKING/);
      assert.ok(!error.message.includes(fx.server.admin.password));
      return true;
    });
    assert.equal(await fx.admin.call("ACL", "GETUSER", "svca"), null, "no user was created");
    assert.equal(await fx.admin.call("ACL", "GETUSER", "svcb"), null, "nor any other");
    assert.deepEqual(await fx.store.listManagedUserIds(), [], "no secret was written");
    assert.deepEqual(await libraries(fx.admin), [], "no library was loaded");
    await assert.rejects(
      planAgainst(config, fx.target, fx.store),
      AccessVerificationError,
      "plan refuses too",
    );
    const probes = ((await fx.admin.call("ACL", "USERS")) as string[]).filter((u) =>
      u.startsWith("cacheplane-probe"),
    );
    assert.deepEqual(probes, [], "verification leaves no probe user behind");
  });

  test("what the server itself lists as @admin is verified too, beyond core's deny list", async () => {
    // CLUSTER SETSLOT is in no deny list of core: only the node's own category table knows it.
    const config = withAccess(testConfig(), "svc-b", loosened([], ["+cluster|setslot", "+debug"]));
    await assert.rejects(applyPlatform(config, fx.target, fx.store), (error: unknown) => {
      assert.ok(error instanceof AccessVerificationError);
      const commands = error.violations.map((v) => v.command).sort();
      assert.deepEqual(commands, ["cluster|setslot", "debug"]);
      assert.match(error.message, /CLUSTER SETSLOT on 127\.0\.0\.1:\d+: .* lists it as @admin/);
      return true;
    });
  });

  test("write and script commands of a read-only service are verified as denied", async () => {
    const config = testConfig([{ name: "svc-r", keyspace: "r", access: "read-only" }]);
    const ro = config.services.find((s) => s.name === "svc-r")!;
    const widened = withAccess(config, "svc-r", `${ro.accessString} +set +eval_ro`);
    await assert.rejects(applyPlatform(widened, fx.target, fx.store), (error: unknown) => {
      assert.ok(error instanceof AccessVerificationError);
      assert.deepEqual(error.violations.map((v) => v.command).sort(), ["eval_ro", "set"]);
      return true;
    });
  });

  test("issue 8 item 1: explicit category grants cannot re-grant what the safety tail denies", async () => {
    const config = testConfig([
      {
        name: "svc-evil",
        keyspace: "evil",
        access: { preset: "read-only", commands: ["+@slow", "+@keyspace", "+@write", "+@connection"] },
      },
    ]);
    const result = await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(result.dangerous, []);
    const secret = (await fx.store.get(config.services.find((s) => s.name === "svc-evil")!))!.payload;
    const evil = fx.server.client({
      username: secret.username,
      password: secret.password,
      enableReadyCheck: false,
    });
    try {
      await fx.admin.set("a:secret", "alpha's value");
      for (const command of [
        ["ACL", "SETUSER", "evil2", "on", ">x", "~*", "&*", "+@all"],
        ["FLUSHALL"],
        ["FLUSHDB"],
        ["SWAPDB", "0", "1"],
        ["CLIENT", "KILL", "ID", "1"],
        ["CLIENT", "LIST"],
        ["CLIENT", "PAUSE", "1"],
        ["CLIENT", "TRACKING", "ON", "BCAST"],
        ["SCAN", "0"],
        ["KEYS", "*"],
        ["DBSIZE"],
        ["CONFIG", "GET", "*"],
        ["EVAL", "return 1", "0"],
      ]) {
        await assert.rejects(evil.call(command[0]!, ...command.slice(1)), /NOPERM/, command.join(" "));
      }
      await assert.rejects(evil.get("a:secret"), /NOPERM/);
      assert.equal(await fx.admin.call("ACL", "GETUSER", "evil2"), null);
      assert.equal(await evil.set("evil:mine", "1"), "OK", "the grants themselves work in the own keyspace");
    } finally {
      evil.disconnect();
    }
  });

  test("allowDangerous services are applied, and every dangerous command they can run is reported", async () => {
    const config = testConfig([
      {
        name: "svc-ops",
        keyspace: "ops",
        access: { preset: "read-write", commands: ["+flushall", "+keys", "+client|list"] },
        allowDangerous: true,
      },
    ]);
    const planned = await planAgainst(config, fx.target, fx.store);
    assert.equal(planned.accessVerified, true);
    assert.deepEqual([...new Set(planned.dangerous.map((f) => `${f.service} ${f.command}`))].sort(), [
      "svc-ops client|list",
      "svc-ops flushall",
      "svc-ops keys",
    ]);
    const result = await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(result.dangerous, planned.dangerous);
    assert.notEqual(await fx.admin.call("ACL", "GETUSER", "svcops"), null);
    assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);
  });

  test("the library is loaded once; a node that lost it gets a load action naming the node", async () => {
    const config = testConfig();
    await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(await libraries(fx.admin), [scriptLibrary().name]);
    assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);
    await fx.admin.call("FUNCTION", "DELETE", scriptLibrary().name);
    const { actions } = await planAgainst(config, fx.target, fx.store);
    assert.deepEqual(actions, [
      { type: "load-script-library", node: `127.0.0.1:${fx.server.port}`, library: scriptLibrary().name },
    ]);
    await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(await libraries(fx.admin), [scriptLibrary().name]);
  });

  test("older library versions stay loaded (old clients call them) until pruned explicitly", async () => {
    const config = testConfig();
    const old = scriptLibrary().code.replaceAll(scriptLibrary().version, "0000000000");
    await fx.admin.call("FUNCTION", "LOAD", old);
    await fx.admin.call(
      "FUNCTION",
      "LOAD",
      "#!lua name=mylib\nredis.register_function('mine', function() return 1 end)",
    );
    assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, [], "kept by default");
    await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(await libraries(fx.admin), ["cacheplane_0000000000", scriptLibrary().name]);
    const pruning = await planAgainst(config, fx.target, fx.store, { pruneScriptLibraries: true });
    assert.deepEqual(pruning.actions, [
      {
        type: "delete-script-library",
        node: `127.0.0.1:${fx.server.port}`,
        library: "cacheplane_0000000000",
      },
    ]);
    await applyPlatform(config, fx.target, fx.store, { pruneScriptLibraries: true });
    assert.deepEqual(await libraries(fx.admin), [scriptLibrary().name]);
    const all = (await fx.admin.call("FUNCTION", "LIST")) as unknown[][];
    assert.ok(
      all.some((l) => l[1] === "mylib"),
      "libraries that are not Cacheplane's are never touched",
    );
  });
});

describe("access verification and the script library on a 3-master cluster", () => {
  let cluster: RedisCluster;
  let target: RedisAclTarget;
  let store: FileSecretStore;
  let cleanup: () => Promise<void>;
  let extra: RedisServer | undefined;

  before(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
    target = await RedisAclTarget.connect({ urls: [cluster.url], cluster: true });
    const temp = await tempDir();
    cleanup = temp.cleanup;
    store = new FileSecretStore(temp.dir);
  });
  after(async () => {
    await target?.close();
    await extra?.stop();
    await cluster?.stop();
    await cleanup?.();
  });

  test("a loosened string is refused with every node named", async () => {
    const config = withAccess(testConfig(), "svc-a", loosened(["-dbsize"]));
    await assert.rejects(applyPlatform(config, target, store), (error: unknown) => {
      assert.ok(error instanceof AccessVerificationError);
      assert.deepEqual(
        error.violations.map((v) => `${v.command} ${v.node}`).sort(),
        cluster.nodes.map((n) => `dbsize 127.0.0.1:${n.port}`).sort(),
      );
      return true;
    });
  });

  test("apply loads the library on every master; replicas get it by replication", async () => {
    const config = testConfig();
    await applyPlatform(config, target, store);
    for (const node of cluster.nodes) {
      const admin = node.client();
      try {
        assert.deepEqual(await libraries(admin), [scriptLibrary().name], `${node.port}`);
      } finally {
        admin.disconnect();
      }
    }
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);
  });

  test("usage scans every master once (replicas are not counted twice) and counts connections everywhere", async () => {
    const client = cluster.client();
    for (let i = 0; i < 30; i++) await client.set(`a:usage-${i}`, "v");
    for (let i = 0; i < 12; i++) await client.set(`b:usage-${i}`, "v", "EX", 600);
    const report = await sampleUsage(target.adminNodes, testConfig(), { scanCount: 5 });
    const a = report.keyspaces.find((k) => k.keyspace === "a");
    const b = report.keyspaces.find((k) => k.keyspace === "b");
    assert.deepEqual([a?.keys, a?.keysWithoutTtl, b?.keys, b?.keysWithoutTtl], [30, 30, 12, 0]);
    assert.equal(report.nodes.length, 6);
    assert.ok(report.nodes.filter((n) => n.role === "replica").every((n) => n.scanned === 0));
    assert.equal(
      report.nodes.filter((n) => n.role === "master").reduce((sum, n) => sum + n.scanned, 0),
      report.nodes.filter((n) => n.role === "master").reduce((sum, n) => sum + n.keys, 0),
    );
    assert.ok(report.users.some((u) => u.user === "admin" && Object.keys(u.perNode).length >= 1));
  });

  test("a master that joined the cluster later gets the users and the library", async () => {
    const config = testConfig();
    extra = await startRedis({ cluster: true, admin: cluster.admin });
    const seed = cluster.masters[0]!.client();
    try {
      // testkit nodes use their own bus port, not port + 10000.
      await seed.call("CLUSTER", "MEET", "127.0.0.1", String(extra.port), String(extra.clusterPort));
      const newcomer = extra.client();
      try {
        const id = String(await newcomer.call("CLUSTER", "MYID"));
        for (let attempt = 0; ; attempt++) {
          const nodes = String(await seed.call("CLUSTER", "NODES"));
          const line = nodes.split("\n").find((l) => l.startsWith(id));
          if (line && !line.includes("handshake")) break;
          if (attempt > 200) throw new Error("the new node did not join");
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        newcomer.disconnect();
      }
    } finally {
      seed.disconnect();
    }
    const grown = await RedisAclTarget.connect({ urls: [cluster.url], cluster: true });
    try {
      assert.equal(grown.nodeAddresses.length, 7);
      const { actions } = await planAgainst(config, grown, store);
      const address = `127.0.0.1:${extra.port}`;
      assert.deepEqual(
        actions.map((a) => `${a.type} ${"node" in a ? a.node : a.type === "create-user" ? a.userId : ""}`),
        [`load-script-library ${address}`, "create-user svca", "create-user svcb"],
      );
      await applyPlatform(config, grown, store);
      const admin = extra.client();
      try {
        assert.deepEqual(await libraries(admin), [scriptLibrary().name]);
        assert.notEqual(await admin.call("ACL", "GETUSER", "svca"), null);
      } finally {
        admin.disconnect();
      }
      assert.deepEqual((await planAgainst(config, grown, store)).actions, []);
    } finally {
      await grown.close();
    }
  });
});
