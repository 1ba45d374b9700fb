/**
 * Partial failure and resume against the ElastiCache target: an apply that stops mid-plan is finished
 * by the next run, with no user created twice, and a third plan is empty. The apply loop here is a
 * minimal stand-in for the provisioner's `applyPlatform` (secret first, then server, per decision 0004).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  desiredStateFromConfig,
  type PlanAction,
  type PlatformConfig,
  parseConfig,
  passwordHash,
  plan,
} from "@cacheplane/core";
import { applyPlatform } from "../src/apply.js";
import { sameElastiCacheAccess } from "../src/elasticache-access.js";
import { ElastiCacheTarget } from "../src/elasticache-target.js";
import { SecretsManagerStore } from "../src/secrets-manager-store.js";
import { awsError, FakeElastiCache, fakeClock, throttled } from "./elasticache-fake.js";
import { fakeSecretsManager } from "./secrets-manager-fake.js";

const config = parseConfig({
  stage: "prod",
  region: "eu-west-1",
  services: [
    { name: "catalog", access: "read-only" },
    { name: "orders", access: "read-write" },
    { name: "reports", access: { preset: "read-only", commands: ["+hset"] } },
  ],
});

/** Service name -> passwords in its "secret". */
type Secrets = Map<string, string[]>;

let counter = 0;
const newPassword = () => `Generated${String(++counter).padStart(4, "0")}PasswordForTestsOnly0123`;

async function applyOnce(target: ElastiCacheTarget, cfg: PlatformConfig, secrets: Secrets, prune = false) {
  const managed = new Set(cfg.services.filter((s) => secrets.has(s.name)).map((s) => s.userId));
  const actual = await target.readActual(cfg, managed);
  const hashes = Object.fromEntries([...secrets].map(([name, pws]) => [name, pws.map(passwordHash)]));
  const desired = desiredStateFromConfig(cfg, { withUserGroup: true, passwordHashes: hashes });
  const canonical = await target.canonicalizeAccess(desired.users.map((u) => u.accessString));
  desired.users.forEach((u, i) => {
    u.accessString = canonical[i]!;
  });
  const actions = plan(desired, actual, { prune });
  const applied: PlanAction[] = [];
  for (const action of actions) {
    switch (action.type) {
      case "create-user": {
        if (!secrets.has(action.service)) secrets.set(action.service, [newPassword()]);
        await target.createUser(action, secrets.get(action.service)!);
        break;
      }
      case "modify-user": {
        let passwords: string[] | undefined;
        if (action.changes.includes("passwords")) {
          passwords = [newPassword()];
          secrets.set(action.service, passwords);
        }
        await target.modifyUser(action.userId, {
          ...(action.changes.includes("access") ? { accessString: action.accessString } : {}),
          ...(passwords ? { passwords } : {}),
        });
        break;
      }
      case "add-to-group":
        await target.addToGroup(action.groupId, action.userId);
        break;
      case "remove-from-group":
        await target.removeFromGroup(action.groupId, action.userId);
        break;
      case "delete-user":
        await target.deleteUser(action.userId);
        break;
    }
    applied.push(action);
  }
  return applied;
}

function setup() {
  const fake = new FakeElastiCache();
  fake.addUser({ UserId: "default", UserName: "default", Engine: "redis", AccessString: "off -@all" });
  fake.addGroup({ UserGroupId: config.userGroupId, UserIds: ["default"] });
  const target = new ElastiCacheTarget({ client: fake.client, clock: fakeClock() });
  return { fake, target };
}

const creates = (fake: FakeElastiCache, userId: string) =>
  fake.callsOf("CreateUser").filter((c) => c.UserId === userId).length;

describe("ElastiCache apply: partial failure and resume", () => {
  it("a failure mid-plan, then a re-run completes with no duplicate creates; the third plan is empty", async () => {
    const { fake, target } = setup();
    const secrets: Secrets = new Map();
    fake.fail(
      "CreateUser",
      () => awsError("InvalidParameterValueException", "simulated outage"),
      1,
      (i) => i.UserId === "reports",
    );
    fake.fail("ModifyUserGroup", throttled, 3);

    await assert.rejects(applyOnce(target, config, secrets), /CreateUser \(user reports\)/);
    assert.deepEqual([...fake.users.keys()].sort(), ["catalog", "default", "orders"]);
    assert.ok(secrets.has("reports"), "the secret was written before the server (decision 0004)");

    const second = await applyOnce(target, config, secrets);
    assert.deepEqual(
      second.map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`),
      ["create-user:reports", "add-to-group:catalog", "add-to-group:orders", "add-to-group:reports"],
    );
    assert.equal(creates(fake, "catalog"), 1);
    assert.equal(creates(fake, "orders"), 1);
    assert.equal(creates(fake, "reports"), 2, "one failed attempt, one success");
    assert.deepEqual(
      fake.users.get("reports")!.passwords,
      secrets.get("reports"),
      "server got the secret's password",
    );
    assert.deepEqual([...fake.groups.get(config.userGroupId)!.UserIds].sort(), [
      "catalog",
      "default",
      "orders",
      "reports",
    ]);

    const third = await applyOnce(target, config, secrets);
    assert.deepEqual(third, [], "nothing left to do");
    assert.equal(fake.callsOf("CreateUser").length, 4);
  });

  it("a CreateUser whose response was lost is not repeated: the retry adopts the same managed user", async () => {
    const { fake, target } = setup();
    const secrets: Secrets = new Map();
    fake.fail(
      "CreateUser",
      () => awsError("ServiceUnavailable", "connection reset"),
      1,
      (i) => i.UserId === "orders",
      true,
    );

    await applyOnce(target, config, secrets);
    // The SDK-level retry hit UserAlreadyExistsFault and converged the user instead of failing.
    assert.equal(creates(fake, "orders"), 2);
    assert.ok(
      sameElastiCacheAccess(fake.users.get("orders")!.AccessString, config.services[1]!.accessString),
    );
    assert.deepEqual(fake.users.get("orders")!.passwords, secrets.get("orders"));
    assert.deepEqual(await applyOnce(target, config, secrets), []);
  });

  it("a crash after CreateUser (before add-to-group) resumes with group additions only", async () => {
    const { fake, target } = setup();
    const secrets: Secrets = new Map();
    fake.fail("ModifyUserGroup", () => awsError("AccessDenied", "not allowed"), 1);
    await assert.rejects(applyOnce(target, config, secrets), /ModifyUserGroup/);
    const resumed = await applyOnce(target, config, secrets);
    assert.deepEqual(new Set(resumed.map((a) => a.type)), new Set(["add-to-group"]));
    assert.equal(fake.callsOf("CreateUser").length, 3);
  });

  it("prunes only with prune, and only managed users; removal from the group comes first", async () => {
    const { fake, target } = setup();
    const secrets: Secrets = new Map();
    await applyOnce(target, config, secrets);
    fake.addUser({ UserId: "handmade" });
    fake.groups.get(config.userGroupId)!.UserIds.push("handmade");
    const smaller = parseConfig({
      stage: "prod",
      region: "eu-west-1",
      services: [{ name: "catalog", access: "read-only" }],
    });

    assert.deepEqual(await applyOnce(target, smaller, new Map([["catalog", secrets.get("catalog")!]])), []);
    assert.equal(fake.callsOf("DeleteUser").length, 0, "never deletes without prune");

    const pruned = await applyOnce(target, smaller, new Map([["catalog", secrets.get("catalog")!]]), true);
    assert.deepEqual(
      pruned.map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`),
      ["remove-from-group:orders", "remove-from-group:reports", "delete-user:orders", "delete-user:reports"],
    );
    assert.ok(fake.users.has("handmade") && fake.users.has("default"), "unmanaged users stay");
  });
});

describe("applyPlatform with ElastiCacheTarget and SecretsManagerStore (all AWS calls mocked)", () => {
  it("resumes after a failure mid-plan without creating any user twice", async () => {
    const { fake } = setup();
    const sm = fakeSecretsManager();
    const store = new SecretsManagerStore({ client: sm.client, clock: fakeClock() });
    const endpointTarget = new ElastiCacheTarget({
      client: fake.client,
      clock: fakeClock(),
      endpoint: { host: "dev-shared-abc.serverless.euw1.cache.amazonaws.com" },
    });
    fake.fail(
      "ModifyUserGroup",
      () => awsError("InvalidParameterValueException", "simulated"),
      1,
      (i) => (i.UserIdsToAdd as string[] | undefined)?.includes("orders") === true,
    );

    await assert.rejects(applyPlatform(config, endpointTarget, store), /ModifyUserGroup/);
    assert.equal(sm.secrets.size, 3, "every secret was written before its user");

    const second = await applyPlatform(config, endpointTarget, store);
    assert.deepEqual(
      second.applied.map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`),
      ["add-to-group:orders", "add-to-group:reports"],
    );
    for (const id of ["catalog", "orders", "reports"])
      assert.equal(creates(fake, id), 1, `${id} created once`);
    const ordersSecret = JSON.parse(sm.secrets.get("/services/orders/redis/orders")!.SecretString);
    assert.deepEqual(fake.users.get("orders")!.passwords, [ordersSecret.password]);
    assert.equal(ordersSecret.host, "dev-shared-abc.serverless.euw1.cache.amazonaws.com");
    assert.equal(ordersSecret.cluster, true);

    const third = await applyPlatform(config, endpointTarget, store);
    assert.deepEqual(third.applied, []);
  });
});
