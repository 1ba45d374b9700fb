// The attack matrix of issue 8: every attack, for every ordered pair of services (read-write,
// read-only, read-write with scripting: true), direct on a standalone server, direct on every master
// of a 3-master cluster, and through the gateway with read-write and read-only tokens. It must find
// 0 breaches and 0 leaks; what is inherent to a documented setting is listed as such. The meta-tests
// prove the matrix fails when an access string is loosened.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { buildAccessString, DENIED_COMMANDS } from "@cacheplane/core";
import { stopAll } from "@cacheplane/testkit";
import {
  clusterTarget,
  formatMatrix,
  gatewayTarget,
  type MatrixResult,
  type MatrixTarget,
  runMatrix,
  standaloneTarget,
  summarize,
} from "../src/index.js";

let standalone: MatrixTarget;
let cluster: MatrixTarget;
let gateway: MatrixTarget;
let namespaced: MatrixTarget;
const all: MatrixResult[] = [];

before(async () => {
  standalone = await standaloneTarget();
  gateway = await gatewayTarget(standalone);
  namespaced = await gatewayTarget(standalone, true);
  cluster = await clusterTarget();
});

after(async () => {
  if (all.length > 0) {
    console.log(`\nAttack matrix (attack | target | result per transport)\n${formatMatrix(all)}\n`);
    const file = process.env.ATTACK_MATRIX_REPORT;
    if (file) await writeFile(file, JSON.stringify(all, null, 2));
  }
  await gateway?.close();
  await namespaced?.close();
  await cluster?.close();
  await standalone?.close();
  await stopAll();
});

/** The results that are allowed to be `inherent`: only what scripting: true documents. */
function assertClean(results: MatrixResult[]): void {
  const bad = results.filter((r) => r.verdict === "breach" || r.verdict === "leak");
  assert.deepEqual(
    bad.map((r) => `${r.verdict} ${r.transport} ${r.attack} ${r.attacker} -> ${r.victim}: ${r.detail}`),
    [],
  );
  const inherent = results.filter((r) => r.verdict === "inherent");
  for (const r of inherent) {
    assert.equal(r.attack, "lua.freeze", `${r.attack} is not a documented inherent limit`);
    assert.ok(r.attacker.startsWith("gamma") && !r.attacker.includes("read-only"), r.attacker);
  }
  assert.ok(results.filter((r) => r.verdict === "blocked").length > 0);
}

describe("attack matrix: 0 breaches, 0 leaks", () => {
  test("direct on a standalone server", async () => {
    const results = await runMatrix(standalone);
    all.push(...results);
    assertClean(results);
    // Every attack ran for all 6 ordered pairs (or was not applicable to it).
    assert.equal(results.length % 6, 0);
  });

  test("direct on every master of a 3-master cluster", async () => {
    const results = await runMatrix(cluster);
    all.push(...results);
    assertClean(results);
  });

  test("through the gateway, with read-write and read-only tokens", async () => {
    const results = await runMatrix(gateway);
    all.push(...results);
    assertClean(results);
    // Read-only tokens of the scripting service run no Lua at all.
    assert.ok(
      results
        .filter((r) => r.attack === "lua.freeze" && r.attacker === "gamma (read-only token)")
        .every((r) => r.verdict === "blocked"),
    );
  });

  test("through the gateway with namespaced tokens (virtual databases), read-write and read-only", async () => {
    const results = await runMatrix(namespaced);
    all.push(...results);
    assertClean(results);
    // The namespaced attacks ran (they apply to namespaced tokens only) and were judged on evidence.
    for (const id of [
      "ns.escape-names",
      "ns.scan-crafted",
      "ns.keys-crafted",
      "ns.dbsize",
      "ns.flushdb",
      "ns.channels",
    ])
      assert.ok(
        results.some((r) => r.attack === id && r.verdict === "blocked"),
        `${id} ran through namespaced tokens`,
      );
    // And do not apply elsewhere.
    assert.ok(
      all
        .filter((r) => r.transport !== "gateway-namespaced" && r.attack.startsWith("ns."))
        .every((r) => r.verdict === "n/a"),
    );
  });

  test("the only inherent results are Lua for the service with scripting: true (documented)", () => {
    const inherent = all.filter((r) => r.verdict === "inherent");
    assert.ok(inherent.length > 0, "the scripting service can run Lua: that is what scripting: true means");
    assert.deepEqual([...new Set(inherent.map((r) => `${r.transport} ${r.attack} ${r.attacker}`))].sort(), [
      "cluster lua.freeze gamma",
      "gateway lua.freeze gamma",
      "gateway-namespaced lua.freeze gamma (namespaced token)",
      "standalone lua.freeze gamma",
    ]);
  });
});

describe("meta: the matrix fails when an access string is loosened", () => {
  /** Sets `user`'s rules by hand (as an admin or a buggy release could), runs `attacker`, restores. */
  async function loosened(target: MatrixTarget, service: string, rules: string): Promise<MatrixResult[]> {
    const userId = target.config.services.find((s) => s.name === service)!.userId;
    const secret = target.secrets[service]!;
    const loosen = async () => {
      for (const node of target.server.nodes)
        await node.call("ACL", "SETUSER", userId, "reset", ...rules.split(" "), `>${secret.password}`);
    };
    await loosen();
    try {
      return await runMatrix({
        ...target,
        // A breach makes the matrix restore the platform, which also repairs the loosened user: loosen again.
        server: {
          ...target.server,
          restore: async () => {
            await target.server.restore();
            await loosen();
          },
        },
        attackers: (id) => id.service.name === service,
      });
    } finally {
      await target.server.restore();
      for (const id of target.transport.identities(target.config.services)) await target.transport.reset(id);
    }
  }

  const flagged = (results: MatrixResult[]) =>
    new Set(results.filter((r) => r.verdict === "breach" || r.verdict === "leak").map((r) => r.attack));

  test("the pre-fix read-write preset (no enumeration denials in the tail) leaks key and channel names", async () => {
    const denied = new Set(DENIED_COMMANDS.map((c) => `-${c.name}`));
    const preFix = buildAccessString({ keyspace: "alpha", access: "read-write", scripting: true })
      .split(" ")
      .filter((rule) => !denied.has(rule) || ["-keys", "-randomkey", "-flushall", "-function"].includes(rule))
      .join(" ");
    const results = await loosened(standalone, "alpha", preFix);
    const found = flagged(results);
    for (const attack of [
      "scan",
      "dbsize",
      "pubsub.channels",
      "tracking.bcast",
      "tracking.redirect",
      "select",
      "lua.scan",
    ])
      assert.ok(found.has(attack), `${attack} must be reported: ${[...found].join(", ")}`);
    // What the remaining tail still denies stays blocked.
    for (const attack of ["acl.setuser", "config", "flushall", "read.get"])
      assert.ok(!found.has(attack), attack);
  });

  test("the issue's escalation (read-only + '+@slow' after the tail) is a breach: ACL SETUSER, CONFIG, FLUSHALL", async () => {
    const built = buildAccessString({ keyspace: "beta", access: "read-only" });
    const results = await loosened(standalone, "beta", `${built} +@slow`);
    const found = flagged(results);
    for (const attack of ["acl.setuser", "config", "flushall", "scan", "client.list", "monitor"])
      assert.ok(found.has(attack), `${attack} must be reported: ${[...found].join(", ")}`);
    const counts = summarize(results);
    assert.ok(counts.breach > 0 && counts.leak > 0, JSON.stringify(counts));
  });

  test("a wide-open user (~* &* +@all) breaches every data attack, also through the gateway and on the cluster", async () => {
    const open = "on ~* &* +@all";
    // Through the gateway its own policy still refuses admin commands and EVAL (alpha has no
    // scripting: true), so the data attacks the policy lets through are what the ACL alone guards.
    const viaGateway = flagged(await loosened(gateway, "alpha", open));
    for (const attack of [
      "read.get",
      "read.dump",
      "write.set",
      "delete.del",
      "copy.from",
      "fcall.victim-keys",
    ])
      assert.ok(viaGateway.has(attack), `gateway: ${attack} must be reported: ${[...viaGateway].join(", ")}`);
    const onCluster = flagged(await loosened(cluster, "alpha", open));
    for (const attack of [
      "read.get",
      "write.set",
      "delete.del",
      "copy.from",
      "eval.undeclared",
      "scan",
      "flushall",
      "acl.setuser",
    ])
      assert.ok(onCluster.has(attack), `cluster: ${attack} must be reported: ${[...onCluster].join(", ")}`);
  });
});
