import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { after, describe, test } from "node:test";
import { formatPlan, passwordHash } from "@cacheplane/core";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { stopAll } from "@cacheplane/testkit";
import {
  type ApplyProgress,
  accessRuleDiff,
  applyPlatform,
  describeAccessChanges,
  planAgainst,
} from "../src/index.js";
import {
  assertIsolated,
  canAuthenticate,
  connectAs,
  failingOnce,
  readSecretFile,
  standaloneProvisioning,
  testConfig,
} from "./helpers.js";

after(() => stopAll());

describe("applyPlatform on a standalone ACL server", () => {
  const fx = standaloneProvisioning();
  const config = testConfig([{ name: "svc-off", keyspace: "off", access: "read-only", enabled: false }]);

  test("first apply creates every user and writes 0600 secret files in a 0700 directory", async () => {
    const events: ApplyProgress[] = [];
    const result = await applyPlatform(config, fx.target, fx.store, { onProgress: (e) => events.push(e) });
    assert.deepEqual(
      result.applied.map((a) => [
        a.type,
        "userId" in a ? a.userId : a.type === "load-script-library" ? a.node : "",
      ]),
      [
        ["load-script-library", `127.0.0.1:${fx.server.port}`],
        ["create-user", "svca"],
        ["create-user", "svcb"],
        ["create-user", "svcoff"],
      ],
    );
    assert.deepEqual(
      events.map((e) => `${e.index}/${e.total} ${e.status}`),
      ["0/4 start", "0/4 done", "1/4 start", "1/4 done", "2/4 start", "2/4 done", "3/4 start", "3/4 done"],
    );
    assert.equal(result.accessVerified, true);
    assert.deepEqual(result.dangerous, []);
    const libraries = (await fx.admin.call("FUNCTION", "LIST", "LIBRARYNAME", "cacheplane_*")) as unknown[][];
    assert.deepEqual(
      libraries.map((l) => l[1]),
      [scriptLibrary().name],
      "apply loads the platform's script library",
    );
    assert.equal(statSync(fx.store.dir).mode & 0o777, 0o700);
    for (const service of config.services) {
      const path = result.secrets[service.name]!;
      assert.equal(path, fx.store.locate(service));
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const payload = await readSecretFile(path);
      assert.deepEqual(
        {
          host: payload.host,
          port: payload.port,
          username: payload.username,
          keyspace: payload.keyspace,
          tls: payload.tls,
        },
        {
          host: "127.0.0.1",
          port: fx.server.port,
          username: service.userId,
          keyspace: service.keyspace,
          tls: false,
        },
      );
      const reply = (await fx.admin.call("ACL", "GETUSER", service.userId)) as unknown[];
      const hashes = reply[reply.indexOf("passwords") + 1] as string[];
      assert.deepEqual(hashes, [passwordHash(payload.password)]);
    }
    // The disabled service exists but cannot log in.
    const off = await readSecretFile(result.secrets["svc-off"]!);
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, off.username, off.password), false);
    const a = await readSecretFile(result.secrets["svc-a"]!);
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, a.username, a.password), true);
    // aclSave "auto": the server has an aclfile, so the users were saved to it.
    assert.match(readFileSync(fx.server.aclFile!, "utf8"), /^user svca on /m);
  });

  test("applying twice changes nothing: the second plan is empty", async () => {
    assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);
    const again = await applyPlatform(config, fx.target, fx.store);
    assert.deepEqual(again.applied, []);
  });

  test("a hand edit shows up as exactly one modify-user (access) and the next apply restores it", async () => {
    const edits: [string, "onlyActual" | "onlyDesired", string][] = [
      // The server folds `+flushall` into the rules: it drops the `-flushall` the config declares.
      ["+flushall", "onlyDesired", "-flushall"],
      ["~*", "onlyActual", "~*"],
      ["nopass", "onlyActual", "nopass"],
    ];
    for (const [edit, side, rule] of edits) {
      await fx.admin.call("ACL", "SETUSER", "svca", edit);
      try {
        const { actions } = await planAgainst(config, fx.target, fx.store);
        const text = formatPlan(actions);
        assert.equal(actions.length, 1, text);
        const [action] = actions;
        assert.ok(action?.type === "modify-user", text);
        assert.equal(action.userId, "svca");
        // nopass also drops the passwords, so the plan resets them too.
        assert.deepEqual(action.changes, edit === "nopass" ? ["access", "passwords"] : ["access"]);
        assert.match(text, /~ modify user svca \(service svc-a\): access/);
        assert.ok(text.includes(`    - ${action.previousAccessString}`));
        assert.ok(text.includes(`    + ${action.accessString}`));
        assert.ok(
          accessRuleDiff(action.previousAccessString, action.accessString)[side].includes(rule),
          text,
        );
        assert.match(describeAccessChanges(actions), new RegExp(`^svca: .*${rule.replace(/[*+]/g, "\\$&")}`));
      } finally {
        await applyPlatform(config, fx.target, fx.store);
      }
      assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);
    }
    const a = await readSecretFile(fx.store.locate(config.services[0]!));
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, "svca", a.password), true);
    assert.equal(
      await canAuthenticate(fx.server.host, fx.server.port, "svca", "anything-else-at-all"),
      false,
    );
  });

  test("a password added or removed by hand shows up as modify-user (passwords)", async () => {
    await fx.admin.call("ACL", "SETUSER", "svcb", ">hand-added-password");
    let { actions } = await planAgainst(config, fx.target, fx.store);
    assert.deepEqual(
      actions.map((a) => (a.type === "modify-user" ? [a.userId, a.changes] : a.type)),
      [["svcb", ["passwords"]]],
    );
    await applyPlatform(config, fx.target, fx.store);
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, "svcb", "hand-added-password"), false);

    await fx.admin.call("ACL", "SETUSER", "svcb", "resetpass");
    ({ actions } = await planAgainst(config, fx.target, fx.store));
    assert.equal(actions.length, 1);
    await applyPlatform(config, fx.target, fx.store);
    const b = await readSecretFile(fx.store.locate(config.services[1]!));
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, "svcb", b.password), true);
  });

  test("isolation: a service reaches its own keyspace only", async () => {
    const a = await readSecretFile(fx.store.locate(config.services[0]!));
    const client = await connectAs(a.host, a.port, a.username, a.password);
    try {
      await assertIsolated(client, "a", "b");
      assert.equal(await client.call("PING"), "PONG");
    } finally {
      client.disconnect();
    }
  });

  test("a crash after the secret write is finished by the next apply, with the stored password", async () => {
    const grown = testConfig([
      { name: "svc-off", keyspace: "off", access: "read-only", enabled: false },
      { name: "svc-d", keyspace: "d", access: "read-only" },
    ]);
    const crashing = failingOnce(fx.target, "createUser", "svcd");
    await assert.rejects(applyPlatform(grown, crashing, fx.store), /simulated crash/);
    assert.equal(crashing.failures, 1);
    const service = grown.services.find((s) => s.name === "svc-d")!;
    const written = await readSecretFile(fx.store.locate(service));
    assert.equal(await fx.admin.call("ACL", "GETUSER", "svcd"), null);

    const { actions } = await planAgainst(grown, fx.target, fx.store);
    assert.deepEqual(
      actions.map((a) => a.type),
      ["create-user"],
    );
    const result = await applyPlatform(grown, fx.target, fx.store);
    assert.equal(result.applied.length, 1);
    const after = await readSecretFile(fx.store.locate(service));
    assert.equal(after.password, written.password, "the password written before the crash is kept");
    assert.equal(await canAuthenticate(fx.server.host, fx.server.port, "svcd", after.password), true);
    assert.deepEqual((await planAgainst(grown, fx.target, fx.store)).actions, []);
  });

  test("prune deletes managed users the config dropped, never unmanaged ones", async () => {
    await fx.admin.call("ACL", "SETUSER", "legacy", "on", ">legacy-password-1234", "~legacy:*", "+get");
    const shrunk = testConfig(
      [{ name: "svc-off", keyspace: "off", access: "read-only", enabled: false }],
      ["svc-b"],
    );
    const svcB = config.services.find((s) => s.name === "svc-b")!;

    const withoutPrune = await planAgainst(shrunk, fx.target, fx.store);
    assert.deepEqual(
      withoutPrune.actions.filter((a) => a.type === "delete-user"),
      [],
    );
    await applyPlatform(shrunk, fx.target, fx.store);
    assert.notEqual(await fx.admin.call("ACL", "GETUSER", "svcb"), null, "kept without prune");

    const pruned = await planAgainst(shrunk, fx.target, fx.store, { prune: true });
    assert.deepEqual(
      pruned.actions.map((a) => (a.type === "delete-user" ? `delete ${a.userId}` : a.type)),
      ["delete svcb", "delete svcd"],
    );
    await applyPlatform(shrunk, fx.target, fx.store, { prune: true });
    assert.equal(await fx.admin.call("ACL", "GETUSER", "svcb"), null);
    assert.equal(await fx.admin.call("ACL", "GETUSER", "svcd"), null);
    assert.equal(await fx.store.get(svcB), undefined, "the pruned user's secret is removed");
    assert.notEqual(await fx.admin.call("ACL", "GETUSER", "legacy"), null, "unmanaged user untouched");
    assert.equal(await fx.admin.call("ACL", "WHOAMI"), "admin");
    assert.equal(
      await canAuthenticate(fx.server.host, fx.server.port, "legacy", "legacy-password-1234"),
      true,
    );
    assert.deepEqual(await fx.store.listManagedUserIds(), ["svca", "svcoff"]);
    assert.deepEqual((await planAgainst(shrunk, fx.target, fx.store, { prune: true })).actions, []);
  });

  test("a secret pointing at an old endpoint is rewritten, keeping its password", async () => {
    const service = config.services[0]!;
    const before = await readSecretFile(fx.store.locate(service));
    await fx.store.put(service, { ...before, host: "old.example.com", port: 1234 });
    const shrunk = testConfig(
      [{ name: "svc-off", keyspace: "off", access: "read-only", enabled: false }],
      ["svc-b"],
    );
    const result = await applyPlatform(shrunk, fx.target, fx.store);
    assert.deepEqual(result.applied, []);
    const after = await readSecretFile(fx.store.locate(service));
    assert.deepEqual(after, before);
  });
});
