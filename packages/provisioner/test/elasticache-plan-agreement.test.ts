/**
 * The same config, the same situation, two targets: a local (Redis-like) actual state and what the
 * ElastiCache target reads from the API. Core's `plan` must ask for the same user actions on both;
 * ElastiCache adds only the group actions plain Redis has no use for. Pure: no Redis, no AWS.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ActualState,
  desiredStateFromConfig,
  type PlanAction,
  parseConfig,
  passwordHash,
  plan,
} from "@cacheplane/core";
import { ElastiCacheTarget } from "../src/elasticache-target.js";
import { FakeElastiCache, fakeClock } from "./elasticache-fake.js";

const config = parseConfig({
  stage: "dev",
  region: "eu-west-1",
  services: [
    { name: "catalog", access: "read-only" },
    { name: "orders", access: "read-write" },
    { name: "payments", access: "read-write" },
    { name: "search", access: { preset: "read-only", commands: ["+hset"] } },
  ],
});
const svc = (name: string) => config.services.find((s) => s.name === name)!;
const password = "LocalSecretPassword0123456789abcd";

/**
 * The situation: catalog is up to date, orders has a stale access string, payments is missing,
 * search is up to date; `retired` is a managed user the config no longer declares.
 */
function localActual(): ActualState {
  const user = (userId: string, accessString: string) => ({
    userId,
    userName: userId,
    accessString,
    passwordHashes: [passwordHash(password)],
    managed: true,
  });
  return {
    users: [
      user("catalog", svc("catalog").accessString),
      user("orders", "on ~orders:* resetchannels -@all +@read"),
      user("search", svc("search").accessString),
      user("retired", "on ~retired:* -@all +@read"),
    ],
  };
}

function seedElastiCache(fake: FakeElastiCache): void {
  const managed = [{ Key: "cacheplane:managed", Value: "true" }];
  fake.addUser({ UserId: "default", UserName: "default", Engine: "redis", AccessString: "off -@all" });
  fake.addUser({ UserId: "catalog", AccessString: svc("catalog").accessString, tags: managed });
  fake.addUser({ UserId: "orders", AccessString: "on ~orders:* resetchannels -@all +@read", tags: managed });
  fake.addUser({ UserId: "search", AccessString: svc("search").accessString, tags: managed });
  fake.addUser({ UserId: "retired", AccessString: "on ~retired:* -@all +@read", tags: managed });
  // search is not in the group yet; retired still is.
  fake.addGroup({ UserGroupId: config.userGroupId, UserIds: ["default", "catalog", "orders", "retired"] });
}

const userActions = (actions: PlanAction[]) =>
  actions
    .filter((a) => a.type !== "add-to-group" && a.type !== "remove-from-group")
    .map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`);

describe("ElastiCache target and a local plan agree", () => {
  it("plans the same user actions for the same config and situation", async () => {
    const hashes = Object.fromEntries(
      ["catalog", "orders", "search"].map((name) => [name, [passwordHash(password)]]),
    );

    const localPlan = plan(desiredStateFromConfig(config, { passwordHashes: hashes }), localActual(), {
      prune: true,
    });

    const fake = new FakeElastiCache();
    seedElastiCache(fake);
    const target = new ElastiCacheTarget({ client: fake.client, clock: fakeClock() });
    const actual = await target.readActual(config, new Set());
    // As planAgainst does: declared strings in the target's canonical form.
    const desired = desiredStateFromConfig(config, { passwordHashes: hashes, withUserGroup: true });
    const canonical = await target.canonicalizeAccess(desired.users.map((u) => u.accessString));
    desired.users.forEach((u, i) => {
      u.accessString = canonical[i]!;
    });
    const awsPlan = plan(desired, actual, { prune: true });

    assert.deepEqual(userActions(awsPlan), userActions(localPlan));
    assert.deepEqual(userActions(localPlan), [
      "create-user:payments",
      "modify-user:orders",
      "delete-user:retired",
    ]);
    const modify = awsPlan.find((a) => a.type === "modify-user");
    assert.deepEqual(
      modify?.type === "modify-user" && modify.changes,
      ["access"],
      "ElastiCache cannot compare passwords",
    );
    assert.deepEqual(
      awsPlan
        .filter((a) => a.type === "add-to-group" || a.type === "remove-from-group")
        .map((a) => `${a.type}:${a.userId}`),
      ["add-to-group:payments", "add-to-group:search", "remove-from-group:retired"],
    );
    assert.ok(!localPlan.some((a) => a.type === "add-to-group"), "no groups on plain Redis");
  });
});
