import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";
import { getFreePort, type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { sameRulesIgnoringOrder } from "../src/acl-rules.js";
import {
  applyPlatform,
  type CreateUserAction,
  FileSecretStore,
  generatePassword,
  planAgainst,
  RedisAclTarget,
  TargetError,
} from "../src/index.js";
import { canAuthenticate, readSecretFile, tempDir, testConfig } from "./helpers.js";

after(() => stopAll());

/** Asserts `error` is a TargetError and that no secret appears in its message, stack or inspection. */
function assertSafeTargetError(error: unknown, secrets: string[], pattern: RegExp): true {
  assert.ok(error instanceof TargetError, `expected a TargetError, got ${String(error)}`);
  assert.match(error.message, pattern);
  const everything = [
    error.message,
    error.stack ?? "",
    inspect(error, { depth: 10 }),
    JSON.stringify(error),
  ].join("\n");
  for (const secret of secrets)
    assert.ok(!everything.includes(secret), `a secret leaked into: ${everything}`);
  return true;
}

function createAction(userId: string, accessString: string): CreateUserAction {
  return { type: "create-user", service: userId, userId, userName: userId, keyspace: userId, accessString };
}

describe("RedisAclTarget against a standalone ACL server", () => {
  let server: RedisServer;
  let admin: Redis;
  let target: RedisAclTarget;

  const probeUsers = async () =>
    ((await admin.call("ACL", "LIST")) as string[]).filter((l) => l.startsWith("user cacheplane-probe-"));

  before(async () => {
    server = await startRedis();
    admin = server.client();
    target = await RedisAclTarget.connect({ urls: [server.url] });
  });
  after(async () => {
    await target?.close();
    await server?.stop();
  });

  test("connection info and node list of a standalone server", () => {
    assert.deepEqual(target.connectionInfo(), {
      host: "127.0.0.1",
      port: server.port,
      tls: false,
      cluster: false,
    });
    assert.deepEqual(target.nodeAddresses, [`127.0.0.1:${server.port}`]);
    assert.equal(target.kind, "redis");
    assert.equal(target.supportsGroups, false);
  });

  test("canonicalizeAccess returns what readActual reports for a user with those rules, and leaves no probe", async () => {
    await admin.call("ACL", "SETUSER", "cacheplane-probe-leftover", "reset", "off", "+get");
    const config = testConfig([{ name: "svc-off", keyspace: "off", access: "read-only", enabled: false }]);
    const strings = config.services.map((s) => s.accessString);
    const canonical = await target.canonicalizeAccess(strings);
    assert.equal(canonical.length, 3);
    assert.match(canonical[0]!, /^on .*~a:\* .*-@all/);
    assert.match(canonical[2]!, /^off /, "a disabled service stays disabled in canonical form");
    assert.deepEqual(await probeUsers(), [], "probes (and the leftover from a crashed run) are deleted");

    for (const [i, service] of config.services.entries()) {
      await target.createUser(createAction(service.userId, strings[i]!), [generatePassword()]);
    }
    const actual = await target.readActual(config, new Set(["svca"]));
    for (const [i, service] of config.services.entries()) {
      const user = actual.users.find((u) => u.userId === service.userId);
      assert.equal(user?.accessString, canonical[i], service.name);
      assert.equal(user?.managed, service.userId === "svca");
      assert.equal(user?.passwordHashes?.length, 1);
    }
    const adminUser = actual.users.find((u) => u.userId === "admin");
    assert.equal(adminUser?.managed, false);
    // Canonical strings are a fixed point: setting them gives the same rules back (Redis 7.0 may list
    // per-command rules in another order: it follows its command dictionaries, which rehash).
    const again = await target.canonicalizeAccess(canonical);
    for (const [i, access] of again.entries())
      assert.ok(sameRulesIgnoringOrder(access, canonical[i]!), access);
  });

  test("access strings with password rules or unknown commands are refused without echoing secrets", async () => {
    const secret = "Sup3rSecretPasswordValue";
    await assert.rejects(target.canonicalizeAccess([`on ~x:* >${secret}`]), (e) =>
      assertSafeTargetError(e, [secret], /password rule/),
    );
    await assert.rejects(target.canonicalizeAccess(["on ~x:* nopass +get"]), /password rule/);
    await assert.rejects(target.canonicalizeAccess(["on ~x:* +nosuchcommand"]), (e) =>
      assertSafeTargetError(e, [], /rejects the access string "on ~x:\* \+nosuchcommand".*nosuchcommand/),
    );
    // The server's rejection of a create carries the password in ioredis' error: it must not leak.
    await assert.rejects(target.createUser(createAction("svcx", "on ~x:* +nosuchcommand"), [secret]), (e) =>
      assertSafeTargetError(e, [secret], /ACL SETUSER failed on 127\.0\.0\.1:\d+: ERR .*nosuchcommand/),
    );
    assert.equal(await admin.call("ACL", "GETUSER", "svcx"), null);
    assert.deepEqual(await probeUsers(), []);
  });

  test("createUser is exact and repeatable; modifyUser keeps what it is not told to change", async () => {
    const [access] = await target.canonicalizeAccess(["on ~m:* resetchannels -@all +get +set"]);
    const first = generatePassword();
    const second = generatePassword();
    await target.createUser(createAction("svcm", access!), [first, second]);
    await target.createUser(createAction("svcm", access!), [first, second]);
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", first), true);
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", second), true);

    // Access only: the passwords stay.
    const [narrower] = await target.canonicalizeAccess(["on ~m:* resetchannels -@all +get"]);
    await target.modifyUser("svcm", { accessString: narrower! });
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", first), true);
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", second), true);
    const line = () =>
      (admin.call("ACL", "LIST") as Promise<string[]>).then((l) => l.find((x) => x.startsWith("user svcm ")));
    assert.ok(!(await line())?.includes("+set"));

    // Passwords only: the rules stay.
    const third = generatePassword();
    const rulesBefore = (await line())?.replace(/#[0-9a-f]{64} /g, "");
    await target.modifyUser("svcm", { passwords: [third] });
    assert.equal((await line())?.replace(/#[0-9a-f]{64} /g, ""), rulesBefore);
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", first), false);
    assert.equal(await canAuthenticate(server.host, server.port, "svcm", third), true);

    await assert.rejects(
      target.modifyUser("svcmissing", { passwords: [third] }),
      /does not exist .*run apply/,
    );
    await assert.rejects(target.createUser(createAction("svcm", access!), []), /1 or 2 passwords/);
    await assert.rejects(
      target.createUser(createAction("svcm", access!), ["a", "b", "c"]),
      /1 or 2 passwords/,
    );
    await target.deleteUser("svcm");
    assert.equal(await admin.call("ACL", "GETUSER", "svcm"), null);
  });

  test("never touches the admin or default user; has no groups", async () => {
    await assert.rejects(target.deleteUser("admin"), /Refusing to change "admin"/);
    await assert.rejects(target.deleteUser("default"), /Refusing to change "default"/);
    await assert.rejects(target.modifyUser("admin", { passwords: ["x".repeat(20)] }), /Refusing/);
    await assert.rejects(target.addToGroup("g", "svca"), /no user groups/);
    await assert.rejects(target.removeFromGroup("g", "svca"), /no user groups/);
    assert.equal(await admin.call("ACL", "WHOAMI"), "admin");
  });

  test("aclSave false leaves the aclfile alone", async () => {
    const unsaved = await RedisAclTarget.connect({ urls: [server.url], aclSave: false });
    try {
      const [access] = await unsaved.canonicalizeAccess(["on ~u:* -@all +get"]);
      await unsaved.createUser(createAction("svcunsaved", access!), [generatePassword()]);
      assert.doesNotMatch(readFileSync(server.aclFile!, "utf8"), /svcunsaved/);
      await target.deleteUser("svcunsaved"); // aclSave "auto": saved
      assert.doesNotMatch(readFileSync(server.aclFile!, "utf8"), /svcunsaved/);
    } finally {
      await unsaved.close();
    }
  });

  test("a closed target refuses to work; close is idempotent", async () => {
    const other = await RedisAclTarget.connect({ urls: [server.url] });
    await other.close();
    await other.close();
    await assert.rejects(other.canonicalizeAccess(["on +get"]), /closed/);
  });
});

describe("RedisAclTarget connection errors never show the admin password", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(() => server?.stop());

  test("wrong admin password", async () => {
    const wrong = "Wr0ngPasswordForTheAdminUser";
    const url = `redis://admin:${wrong}@127.0.0.1:${server.port}`;
    await assert.rejects(RedisAclTarget.connect({ urls: [url] }), (e) => {
      assertSafeTargetError(
        e,
        [wrong, server.admin.password],
        /Cannot connect to 127\.0\.0\.1:\d+: WRONGPASS.*Check the admin user name and password/,
      );
      assert.equal((e as TargetError).node, `127.0.0.1:${server.port}`);
      return true;
    });
  });

  test("invalid URLs", async () => {
    const secret = "Th1sIsTheAdminPassword";
    const cases: [string, RegExp][] = [
      [`http://admin:${secret}@127.0.0.1:6390`, /scheme "http"/],
      [`redis://admin:${secret}@127.0.0.1:99999`, /Admin URL #1 is not a valid URL|invalid port/],
      [`redis://admin:${secret} with spaces@[::1`, /not a valid URL/],
      [`admin:${secret}@127.0.0.1`, /scheme|not a valid URL/],
    ];
    for (const [url, pattern] of cases) {
      await assert.rejects(RedisAclTarget.connect({ urls: [url] }), (e) =>
        assertSafeTargetError(e, [secret], pattern),
      );
    }
    await assert.rejects(RedisAclTarget.connect({ urls: [] }), /at least one admin URL/);
    await assert.rejects(
      RedisAclTarget.connect({ urls: [server.url], tls: { rejectUnauthorized: true } }),
      /use rediss:\/\/ to turn TLS on/,
    );
  });

  test("unreachable server", async () => {
    const port = await getFreePort();
    const url = `redis://admin:${server.admin.password}@127.0.0.1:${port}`;
    await assert.rejects(RedisAclTarget.connect({ urls: [url] }), (e) =>
      assertSafeTargetError(
        e,
        [server.admin.password],
        /Cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED.*Is the server running/,
      ),
    );
  });

  test("an admin without ACL permissions gets a hint", async () => {
    const admin = server.client();
    const password = generatePassword();
    await admin.call("ACL", "SETUSER", "weak", "on", `>${password}`, "~*", "+@all", "-acl");
    const weak = await RedisAclTarget.connect({
      urls: [`redis://weak:${password}@127.0.0.1:${server.port}`],
    });
    try {
      await assert.rejects(weak.canonicalizeAccess(["on ~w:* +get"]), (e) =>
        assertSafeTargetError(e, [password], /NOPERM.*lacks a permission/),
      );
    } finally {
      await weak.close();
    }
  });
});

describe("servers without an aclfile, and TLS", () => {
  test("aclSave auto skips ACL SAVE where there is no aclfile; aclSave true reports it", async (t) => {
    const server = await startRedis({ acl: false });
    t.after(() => server.stop());
    const url = `redis://127.0.0.1:${server.port}`;
    const temp = await tempDir();
    t.after(temp.cleanup);
    const store = new FileSecretStore(temp.dir);
    const config = testConfig();
    const target = await RedisAclTarget.connect({ urls: [url] });
    t.after(() => target.close());
    await applyPlatform(config, target, store);
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);

    const strict = await RedisAclTarget.connect({ urls: [url], aclSave: true });
    t.after(() => strict.close());
    await assert.rejects(strict.deleteUser("svcb"), /ACL SAVE failed .*not configured to use an ACL file/);
  });

  test("rediss:// with a private CA; secrets say tls: true", async (t) => {
    const server = await startRedis({ tls: true });
    t.after(() => server.stop());
    const temp = await tempDir();
    t.after(temp.cleanup);
    const store = new FileSecretStore(temp.dir);
    const config = testConfig();
    const target = await RedisAclTarget.connect({ urls: [server.url], tls: { ca: server.tls!.ca } });
    t.after(() => target.close());
    assert.equal(target.connectionInfo().tls, true);
    const result = await applyPlatform(config, target, store);
    assert.equal(result.applied.filter((a) => a.type === "create-user").length, 2);
    assert.equal((await readSecretFile(result.secrets["svc-a"]!)).tls, true);

    // Without the CA the server's certificate is not trusted.
    await assert.rejects(RedisAclTarget.connect({ urls: [server.url] }), (e) =>
      assertSafeTargetError(e, [server.admin.password], /Cannot connect to .*(certificate|self-signed|TLS)/i),
    );
  });
});
