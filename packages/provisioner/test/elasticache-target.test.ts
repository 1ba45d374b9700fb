import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "@cacheplane/core";
import { ElastiCacheTargetError } from "../src/elasticache-errors.js";
import { ElastiCacheTarget, type ElastiCacheTargetOptions } from "../src/elasticache-target.js";
import { awsError, FakeElastiCache, fakeClock, throttled } from "./elasticache-fake.js";

const config = parseConfig({
  stage: "dev",
  region: "eu-west-1",
  engine: "valkey",
  services: [
    { name: "orders", access: "read-write" },
    { name: "catalog", access: "read-only" },
  ],
});
const GROUP = config.userGroupId;
const PW1 = "Aa1".repeat(10) + "PASSWORDone";
const PW2 = "Bb2".repeat(10) + "PASSWORDtwo";

function setup(options: Partial<ElastiCacheTargetOptions> = {}) {
  const fake = new FakeElastiCache();
  const clock = fakeClock();
  fake.addGroup({ UserGroupId: GROUP, UserIds: [] });
  const target = new ElastiCacheTarget({ client: fake.client, clock, ...options });
  return { fake, clock, target };
}

const orders = config.services.find((s) => s.name === "orders")!;
const createOrders = {
  type: "create-user" as const,
  service: orders.name,
  userId: orders.userId,
  userName: orders.userName,
  keyspace: orders.keyspace,
  accessString: orders.accessString,
};

describe("ElastiCacheTarget.readActual", () => {
  it("pages through DescribeUsers, tells managed users by tag or id, and reads the group", async () => {
    const { fake, target } = setup({ userGroupId: GROUP });
    fake.pageSize = 2;
    fake.addUser({ UserId: "default", UserName: "default", Engine: "redis" });
    fake.addUser({
      UserId: "orders",
      AccessString: "on   ~orders:*  -@all",
      tags: [{ Key: "cacheplane:managed", Value: "true" }],
    });
    fake.addUser({ UserId: "catalog" });
    fake.addUser({ UserId: "legacy", tags: [{ Key: "team", Value: "x" }] });
    fake.addUser({ UserId: "cfnowned", tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }] });
    fake.addUser({ UserId: "goingaway", Status: "deleting", pollsLeft: 5 });
    fake.groups.get(GROUP)!.UserIds = ["default", "orders"];
    fake.groups.get(GROUP)!.pending = { UserIdsToAdd: ["catalog"] };

    const actual = await target.readActual(config, new Set(["catalog"]));

    assert.deepEqual(
      actual.users.map((u) => [u.userId, u.managed]),
      [
        ["catalog", true],
        ["cfnowned", false],
        ["default", false],
        ["legacy", false],
        ["orders", true],
      ],
    );
    assert.equal(
      actual.users.find((u) => u.userId === "orders")!.accessString,
      "on ~orders:* resetchannels -@all",
    );
    assert.equal(actual.users.find((u) => u.userId === "orders")!.passwordHashes, undefined);
    assert.deepEqual(actual.userGroup, { groupId: GROUP, userIds: ["catalog", "default", "orders"] });
    assert.ok(
      fake.callsOf("DescribeUsers").some((c) => c.Marker === "2"),
      "second page requested",
    );
    const tagged = fake.callsOf("ListTagsForResource").map((c) => String(c.ResourceName).split(":").pop());
    assert.ok(
      !tagged.includes("default") && !tagged.includes("catalog"),
      "no tag reads for default or known ids",
    );
  });

  it("names the missing user group and the fix", async () => {
    const { fake, target } = setup();
    fake.groups.clear();
    await assert.rejects(target.readActual(config, new Set()), (err: Error) => {
      assert.ok(err instanceof ElastiCacheTargetError);
      assert.match(err.message, new RegExp(`group ${GROUP}`));
      assert.match(err.message, /CachePlatform/);
      return true;
    });
  });

  it("canonicalises access strings by meaning (white space, case, key order, implicit defaults)", async () => {
    const { target } = setup();
    assert.deepEqual(await target.canonicalizeAccess(["  on ~b:* ~a:*   +GET  ", "off"]), [
      "on ~a:* ~b:* resetchannels -@all +get",
      "off resetchannels -@all",
    ]);
  });
});

describe("ElastiCacheTarget.createUser", () => {
  it("creates with the config's engine, access string, passwords and managed tags, then waits for active", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 2;
    await target.readActual(
      parseConfig({ stage: "dev", region: "eu-west-1", engine: "redis", services: [] }),
      new Set(),
    );
    await target.createUser(createOrders, [PW1]);
    const [call] = fake.callsOf("CreateUser");
    assert.deepEqual(call, {
      UserId: "orders",
      UserName: "orders",
      Engine: "redis",
      AccessString: orders.accessString,
      AuthenticationMode: { Type: "password", Passwords: [PW1] },
      Tags: [
        { Key: "cacheplane:managed", Value: "true" },
        { Key: "cacheplane:userId", Value: "orders" },
        { Key: "cacheplane:service", Value: "orders" },
      ],
    });
    assert.equal(fake.users.get("orders")!.Status, "active");
    assert.ok(fake.callsOf("DescribeUsers").length >= 3, "polled until active");
  });

  it("retries throttling with growing delays and succeeds", async () => {
    const { fake, target, clock } = setup({ retry: { baseDelayMs: 100, maxDelayMs: 10_000 } });
    fake.transitionPolls = 0;
    fake.fail("CreateUser", throttled, 3);
    await target.createUser(createOrders, [PW1]);
    assert.equal(fake.callsOf("CreateUser").length, 4);
    assert.deepEqual(clock.sleeps, [75, 150, 300], "equal-jitter exponential backoff (random fixed at 0.5)");
    assert.ok(fake.users.has("orders"));
  });

  it("gives up after maxAttempts throttled calls with an error naming the user and code", async () => {
    const { fake, target } = setup({ retry: { maxAttempts: 3 } });
    fake.fail("CreateUser", throttled, 10);
    await assert.rejects(target.createUser(createOrders, [PW1]), (err: Error) => {
      assert.ok(err instanceof ElastiCacheTargetError);
      assert.equal(err.code, "Throttling");
      assert.match(err.message, /CreateUser \(user orders\)/);
      assert.ok(!err.message.includes(PW1), "no password in the message");
      return true;
    });
    assert.equal(fake.callsOf("CreateUser").length, 3);
  });

  it("treats an already existing managed user as success and converges it", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 0;
    fake.addUser({
      UserId: "orders",
      AccessString: "on ~old:* -@all",
      passwords: ["stale-password-0123456789"],
      tags: [{ Key: "cacheplane:managed", Value: "true" }],
    });
    await target.createUser(createOrders, [PW1, PW2]);
    assert.equal(fake.callsOf("CreateUser").length, 1);
    assert.equal(fake.users.get("orders")!.AccessString, orders.accessString);
    assert.deepEqual(fake.users.get("orders")!.passwords, [PW1, PW2]);
  });

  it("refuses to take over an existing user Cacheplane did not create", async () => {
    const { fake, target } = setup();
    fake.addUser({ UserId: "orders", tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }] });
    await assert.rejects(target.createUser(createOrders, [PW1]), /did not create/);
    assert.equal(fake.callsOf("ModifyUser").length, 0);
  });

  it("reports a user name taken by another user id (DuplicateUserNameFault)", async () => {
    const { fake, target } = setup();
    fake.addUser({ UserId: "someoneelse", UserName: "orders" });
    await assert.rejects(target.createUser(createOrders, [PW1]), /belongs to another user id/);
  });

  it("rejects passwords ElastiCache would refuse without showing them", async () => {
    const { fake, target } = setup();
    const bad = "has a space in it, 123456";
    await assert.rejects(target.createUser(createOrders, [bad]), (err: Error) => {
      assert.match(err.message, /not acceptable/);
      assert.ok(!err.message.includes(bad));
      return true;
    });
    await assert.rejects(target.createUser(createOrders, [PW1, PW2, PW1]), /1 or 2 passwords/);
    assert.equal(fake.callsOf("CreateUser").length, 0);
  });
});

describe("ElastiCacheTarget.modifyUser", () => {
  it("waits for a modifying user, then changes access and/or passwords", async () => {
    const { fake, target } = setup();
    fake.addUser({ UserId: "orders", Status: "modifying", pollsLeft: 2 });
    await target.modifyUser("orders", { accessString: orders.accessString });
    assert.deepEqual(fake.callsOf("ModifyUser"), [{ UserId: "orders", AccessString: orders.accessString }]);
    await target.modifyUser("orders", { passwords: [PW2] });
    assert.deepEqual(fake.callsOf("ModifyUser")[1], {
      UserId: "orders",
      AuthenticationMode: { Type: "password", Passwords: [PW2] },
    });
    assert.equal(fake.users.get("orders")!.Status, "active");
  });

  it("retries InvalidUserStateFault after waiting and does nothing for an empty change", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 0;
    fake.addUser({ UserId: "orders" });
    fake.fail("ModifyUser", () => awsError("InvalidUserStateFault", "User is modifying"), 1);
    await target.modifyUser("orders", { accessString: "on ~orders:* -@all +get" });
    assert.equal(fake.callsOf("ModifyUser").length, 2);
    await target.modifyUser("orders", {});
    assert.equal(fake.callsOf("ModifyUser").length, 2);
  });
});

describe("ElastiCacheTarget group membership", () => {
  it("waits for the group to leave modifying, adds, and waits again", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 1;
    fake.addUser({ UserId: "orders" });
    Object.assign(fake.groups.get(GROUP)!, { Status: "modifying", pollsLeft: 2 });
    await target.addToGroup(GROUP, "orders");
    assert.deepEqual(fake.callsOf("ModifyUserGroup"), [{ UserGroupId: GROUP, UserIdsToAdd: ["orders"] }]);
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
    assert.equal(fake.groups.get(GROUP)!.Status, "active");
  });

  it("is idempotent: no call when already a member / already removed", async () => {
    const { fake, target } = setup();
    fake.addUser({ UserId: "orders" });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    await target.addToGroup(GROUP, "orders");
    await target.removeFromGroup(GROUP, "catalog");
    assert.equal(fake.callsOf("ModifyUserGroup").length, 0);
  });

  it("re-reads and retries when another deployment changed the group concurrently", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 0;
    fake.addUser({ UserId: "orders" });
    fake.fail("ModifyUserGroup", () => awsError("InvalidUserGroupStateFault", "User group is modifying"), 2);
    await target.addToGroup(GROUP, "orders");
    assert.equal(fake.callsOf("ModifyUserGroup").length, 3);
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
  });

  it("keeps retrying conflicts with jittered pauses for its whole budget, then names the cause", async () => {
    let draw = 0;
    const draws = [0.1, 0.9, 0.4, 0.7];
    const clock = { ...fakeClock(), random: () => draws[draw++ % draws.length]! };
    const { fake, target } = setup({ clock, membership: { budgetMs: 10 * 60_000 } });
    fake.transitionPolls = 0;
    fake.addUser({ UserId: "orders" });
    const busy = () => awsError("InvalidUserGroupStateFault", "User group is modifying");
    fake.fail("ModifyUserGroup", busy, 15);
    await target.addToGroup(GROUP, "orders");
    assert.equal(fake.callsOf("ModifyUserGroup").length, 16, "15 conflicts are not the end");
    const pauses = clock.sleeps;
    assert.ok(pauses.length >= 15);
    assert.ok(
      new Set(pauses.slice(0, 4)).size === 4,
      "pauses are drawn at random (jitter), not in lock-step",
    );
    assert.ok(
      pauses.every((ms) => ms <= 30_000),
      "each pause is capped",
    );

    const shortClock = fakeClock();
    const short = setup({ clock: shortClock, membership: { budgetMs: 60_000 } });
    short.fake.transitionPolls = 0;
    short.fake.addUser({ UserId: "orders" });
    short.fake.fail("ModifyUserGroup", busy, 1000);
    await assert.rejects(short.target.addToGroup(GROUP, "orders"), (err: Error) => {
      assert.match(err.message, /still being changed by other deployments after \d+ attempts/);
      assert.match(err.message, /deploy again/);
      return true;
    });
    assert.ok(shortClock.sleeps.length > 1, "it did retry");
    assert.ok(shortClock.now() - 1_700_000_000_000 <= 60_000, "never past the budget");
  });

  it("removes a member, and treats a missing group as nothing to remove", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 0;
    fake.addUser({ UserId: "orders" });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    await target.removeFromGroup(GROUP, "orders");
    assert.deepEqual(fake.callsOf("ModifyUserGroup"), [{ UserGroupId: GROUP, UserIdsToRemove: ["orders"] }]);
    await target.removeFromGroup("no-such-group", "orders");
    assert.equal(fake.callsOf("ModifyUserGroup").length, 1);
  });

  it("times out with the last state when the group never settles", async () => {
    const { fake, target } = setup({ wait: { timeoutMs: 60_000 } });
    fake.addUser({ UserId: "orders" });
    Object.assign(fake.groups.get(GROUP)!, { Status: "modifying", pollsLeft: 1_000 });
    await assert.rejects(target.addToGroup(GROUP, "orders"), (err: Error) => {
      assert.ok(err instanceof ElastiCacheTargetError);
      assert.match(err.message, /group dev-shared-users/);
      assert.match(err.message, /last state: modifying/);
      return true;
    });
    assert.equal(fake.callsOf("ModifyUserGroup").length, 0);
  });

  it("stops waiting at the deadline (e.g. a Lambda's remaining time)", async () => {
    const clock = fakeClock();
    const { fake, target } = setup({ clock, deadline: clock.now() + 5_000 });
    fake.addUser({ UserId: "orders" });
    Object.assign(fake.groups.get(GROUP)!, { Status: "modifying", pollsLeft: 1_000 });
    await assert.rejects(target.addToGroup(GROUP, "orders"), /Timed out/);
    assert.ok(clock.now() <= 1_700_000_000_000 + 5_000);
  });
});

describe("ElastiCacheTarget.deleteUser", () => {
  it("deletes a managed user and waits until it is gone", async () => {
    const { fake, target } = setup();
    fake.transitionPolls = 2;
    fake.addUser({ UserId: "orders", tags: [{ Key: "cacheplane:managed", Value: "true" }] });
    await target.deleteUser("orders");
    assert.deepEqual(fake.callsOf("DeleteUser"), [{ UserId: "orders" }]);
    assert.equal(fake.users.has("orders"), false);
    await target.deleteUser("orders");
    assert.equal(fake.callsOf("DeleteUser").length, 1, "already gone: no second call");
  });

  it("never deletes users without the managed tag, nor reserved users", async () => {
    const { fake, target } = setup();
    fake.addUser({ UserId: "legacy" });
    fake.addUser({ UserId: "cfn", tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }] });
    await assert.rejects(target.deleteUser("legacy"), /refusing to delete a user this target did not create/);
    await assert.rejects(target.deleteUser("cfn"), /refusing/);
    await assert.rejects(target.deleteUser("default"), /reserved/);
    assert.equal(fake.callsOf("DeleteUser").length, 0);
  });
});

describe("ElastiCacheTarget ownerTag", () => {
  it("creates and deletes only users with its own managed tag value", async () => {
    const { fake, target } = setup({ ownerTag: "cloudformation" });
    fake.transitionPolls = 0;
    await target.createUser(createOrders, [PW1]);
    assert.deepEqual(fake.users.get("orders")!.tags[0], {
      Key: "cacheplane:managed",
      Value: "cloudformation",
    });
    fake.addUser({ UserId: "cliowned", tags: [{ Key: "cacheplane:managed", Value: "true" }] });
    await assert.rejects(target.deleteUser("cliowned"), /no cacheplane:managed=cloudformation tag/);
    await target.deleteUser("orders");
    assert.equal(fake.users.has("orders"), false);
    const cli = new ElastiCacheTarget({ client: fake.client, clock: fakeClock() });
    fake.addUser({ UserId: "stackowned", tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }] });
    await assert.rejects(cli.deleteUser("stackowned"), /refusing/);
    const actual = await cli.readActual(config, new Set());
    assert.equal(
      actual.users.find((u) => u.userId === "stackowned")!.managed,
      false,
      "never pruned by the CLI",
    );
  });
});

describe("ElastiCacheTarget.connectionInfo", () => {
  it("defaults to TLS and cluster mode on 6379, and explains a missing endpoint", async () => {
    const { target } = setup({ endpoint: { host: "shared.serverless.euw1.cache.amazonaws.com" } });
    assert.deepEqual(target.connectionInfo(), {
      host: "shared.serverless.euw1.cache.amazonaws.com",
      port: 6379,
      tls: true,
      cluster: true,
    });
    const { target: bare } = setup();
    assert.throws(() => bare.connectionInfo(), /pass `endpoint`/);
  });
});
