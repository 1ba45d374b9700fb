// The platform's scanner identity (issue 11 item 2, `scanner: true`): provisioned with its own secret
// next to the services' users, verified on the server before it is written (it may SCAN and nothing
// else), idempotent, and pruned with its secret when the config drops it. The test also pins down
// what its credential shows if it leaks: every tenant's key names (and types through SCAN TYPE),
// never a value.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, test } from "node:test";
import {
  ConfigError,
  parseConfig,
  SCANNER_NAME,
  scannerAccessString,
  scannerForbiddenProbes,
  scannerUserId,
} from "@cacheplane/core";
import { stopAll } from "@cacheplane/testkit";
import { applyPlatform, planAgainst } from "../src/index.js";
import { connectAs, readSecretFile, standaloneProvisioning } from "./helpers.js";

after(() => stopAll());

const services = [
  { name: "svc-a", keyspace: "a", access: "read-write" as const },
  { name: "svc-b", keyspace: "b", access: "read-only" as const },
];
const withScanner = parseConfig({ stage: "test", region: "local", scanner: true, services });
const withoutScanner = parseConfig({ stage: "test", region: "local", services });

describe("the scanner identity", () => {
  const fx = standaloneProvisioning();

  test("apply creates it with its own secret; a second plan has nothing to do", async () => {
    const result = await applyPlatform(withScanner, fx.target, fx.store);
    const created = result.applied
      .filter((a) => a.type === "create-user")
      .map((a) => ("userId" in a ? a.userId : ""));
    assert.deepEqual(created.sort(), [scannerUserId(), "svca", "svcb"].sort());
    const path = result.secrets[SCANNER_NAME]!;
    assert.ok(path.endsWith(`${SCANNER_NAME}.json`));
    const secret = await readSecretFile(path);
    assert.equal(secret.username, scannerUserId());
    const acl = String(await fx.admin.call("ACL", "GETUSER", scannerUserId()));
    assert.ok(acl.length > 0);
    assert.deepEqual((await planAgainst(withScanner, fx.target, fx.store)).actions, []);
  });

  test("it may SCAN (every tenant's names: what a leaked credential shows) and nothing else", async (t) => {
    await fx.admin.set("a:one", "value-of-a");
    await fx.admin.hset("b:two", "f", "value-of-b");
    const secret = await readSecretFile(fx.store.locate({ name: SCANNER_NAME } as never));
    const scanner = await connectAs(fx.server.host, fx.server.port, secret.username, secret.password);
    t.after(() => scanner.disconnect());
    const [, names] = (await scanner.scan("0", "COUNT", 1000)) as [string, string[]];
    assert.ok(names.includes("a:one") && names.includes("b:two"), "SCAN lists every tenant's key names");
    const [, hashes] = (await scanner.scan("0", "COUNT", 1000, "TYPE", "hash")) as [string, string[]];
    assert.deepEqual(hashes, ["b:two"]);
    assert.equal(await scanner.ping(), "PONG");
    for (const command of [
      ["GET", "a:one"],
      ["HGETALL", "b:two"],
      ["TYPE", "a:one"],
      ["PTTL", "a:one"],
      ["DUMP", "a:one"],
      ["SET", "a:one", "x"],
      ["DEL", "a:one"],
      ["KEYS", "*"],
      ["DBSIZE"],
      ["RANDOMKEY"],
      ["INFO"],
      ["CLIENT", "LIST"],
      ["PUBSUB", "CHANNELS"],
      ["SUBSCRIBE", "a:news"],
      ["PUBLISH", "a:news", "x"],
      ["EVAL", "return redis.call('GET', 'a:one')", "0"],
      ["FCALL", "f", "0"],
      ["CONFIG", "GET", "*"],
      ["ACL", "LIST"],
      ["FLUSHALL"],
      ["MONITOR"],
    ]) {
      const fresh = await connectAs(fx.server.host, fx.server.port, secret.username, secret.password);
      await assert.rejects(
        () => fresh.call(command[0]!, ...command.slice(1)),
        /NOPERM|no permissions/,
        command.join(" "),
      );
      fresh.disconnect();
    }
    assert.equal(await fx.admin.get("a:one"), "value-of-a");
  });

  test("the server verifies its access string: a loosened one is reported before anything is written", async () => {
    const check = (accessString: string) =>
      fx.target.verifyAccess([
        {
          service: SCANNER_NAME,
          userId: scannerUserId(),
          keyspace: SCANNER_NAME,
          accessString,
          probes: scannerForbiddenProbes(SCANNER_NAME),
        },
      ]);
    assert.deepEqual(await check(scannerAccessString()), []);
    const loosened = await check(`${scannerAccessString()} ~* +get +keys`);
    const commands = new Set(loosened.map((f) => f.command.split(" ")[0]));
    assert.ok(commands.has("get") && commands.has("keys"), JSON.stringify(loosened));
  });

  test("no service may take its name or user", () => {
    for (const name of [SCANNER_NAME, "Cacheplane Scanner"]) {
      assert.throws(
        () => parseConfig({ stage: "t", region: "local", services: [{ name, access: "read-only" }] }),
        (error: unknown) =>
          error instanceof ConfigError && /reserved for the platform's scanner identity/.test(error.message),
      );
    }
  });

  test("dropped from the config, apply --prune deletes the user and its secret", async () => {
    const path = fx.store.locate({ name: SCANNER_NAME } as never);
    assert.ok(existsSync(path));
    const kept = await planAgainst(withoutScanner, fx.target, fx.store);
    assert.deepEqual(kept.actions, [], "without prune the scanner stays");
    const pruned = await applyPlatform(withoutScanner, fx.target, fx.store, { prune: true });
    assert.deepEqual(
      pruned.applied.map((a) => a.type),
      ["delete-user"],
    );
    assert.ok(!existsSync(path));
    assert.ok(!((await fx.admin.call("ACL", "USERS")) as string[]).includes(scannerUserId()));
  });
});
