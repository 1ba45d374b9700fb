/**
 * Access strings are compared by meaning on ElastiCache: a stored string ElastiCache might have
 * rewritten (docs/decisions/0007) is not drift, and a real change still is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { desiredStateFromConfig, parseConfig, plan } from "@cacheplane/core";
import { canonicalElastiCacheAccess, sameElastiCacheAccess } from "../src/elasticache-access.js";
import { ElastiCacheTarget } from "../src/elasticache-target.js";
import { FakeElastiCache, fakeClock } from "./elasticache-fake.js";

/** What ElastiCache could plausibly do to a string: the spelling `ACL LIST`-like servers use. */
function rewriteLikeAServer(access: string): string {
  const words = access.trim().split(/\s+/);
  const keys = words.filter((w) => w.startsWith("~")).reverse();
  const channels = words.filter((w) => w.startsWith("&"));
  const rest = words.filter(
    (w) => !w.startsWith("~") && !w.startsWith("&") && w !== "resetchannels" && w !== "on" && w !== "off",
  );
  const state = words.includes("off") ? "off" : "on";
  const commands = rest[0] === "-@all" ? rest.slice(1) : rest;
  return [
    state,
    ...keys.map((k) => (k === "~*" ? "allkeys" : k)),
    ...channels,
    ...commands.map((c) => c.toUpperCase()),
  ].join("  ");
}

describe("canonicalElastiCacheAccess", () => {
  it("spells equal meanings the same", () => {
    const pairs: [string, string][] = [
      ["on ~a:* ~b:* resetchannels -@all +get", "on ~b:* ~a:* +GET"],
      ["on allkeys allchannels allcommands", "on ~* &* +@all"],
      ["on %RW~a:* nocommands +get", "~a:* +get on"],
      ["on ~a:* resetkeys ~b:* +get +get", "on ~b:* +get"],
      ["on ~a:* +get -@all +set", "on ~a:* +set"],
      ["off ~a:* -set +get >secret", "off ~a:* +get"],
      ["on ~a:* +@read", "on ~a:* -@all -debug +@read"],
    ];
    for (const [a, b] of pairs) assert.ok(sameElastiCacheAccess(a, b), `${a} == ${b}`);
    assert.equal(
      canonicalElastiCacheAccess("on   ~b:*  ~a:* &c:* -@all +@READ -keys"),
      "on ~a:* ~b:* resetchannels &c:* -@all +@read -keys",
    );
  });

  it("keeps every real difference", () => {
    const pairs: [string, string][] = [
      ["on ~a:* +get", "off ~a:* +get"],
      ["on ~a:* +get", "on ~b:* +get"],
      ["on ~a:* +@read -get", "on ~a:* -get +@read"],
      ["on ~a:* +get", "on ~a:* &a:* +get"],
      ["on %R~a:* +get", "on ~a:* +get"],
      ["on ~a:* +get", "on ~a:* +get +set"],
      ["on ~a:* +@all -flushall", "on ~a:* +@all"],
    ];
    for (const [a, b] of pairs) assert.ok(!sameElastiCacheAccess(a, b), `${a} != ${b}`);
  });
});

describe("ElastiCache plan with rewritten access strings", () => {
  const config = parseConfig({
    stage: "dev",
    region: "eu-west-1",
    services: [
      { name: "catalog", access: "read-only" },
      { name: "orders", access: "read-write", sharedKeyspaces: ["common"] },
    ],
  });

  it("shows no drift for a stored string that means the same, and drift for one that does not", async () => {
    const fake = new FakeElastiCache();
    fake.storeAccessString = rewriteLikeAServer;
    fake.transitionPolls = 0;
    const target = new ElastiCacheTarget({ client: fake.client, clock: fakeClock() });
    fake.addGroup({ UserGroupId: config.userGroupId });
    for (const s of config.services) {
      await target.createUser(
        {
          type: "create-user",
          service: s.name,
          userId: s.userId,
          userName: s.userName,
          keyspace: s.keyspace,
          accessString: s.accessString,
        },
        ["Aa1".repeat(10) + "passwordOK"],
      );
      await target.addToGroup(config.userGroupId, s.userId);
    }
    const orders = config.services.find((s) => s.name === "orders")!;
    assert.notEqual(fake.users.get(orders.userId)!.AccessString, orders.accessString, "the fake rewrote it");

    const planNow = async () => {
      const passwordHashes = Object.fromEntries(config.services.map((s) => [s.name, ["hash"]]));
      const desired = desiredStateFromConfig(config, { passwordHashes, withUserGroup: true });
      const canonical = await target.canonicalizeAccess(desired.users.map((u) => u.accessString));
      desired.users.forEach((u, i) => {
        u.accessString = canonical[i]!;
      });
      return plan(desired, await target.readActual(config, new Set()), { prune: false });
    };
    assert.deepEqual(await planNow(), [], "a rewritten but equivalent string is not drift");

    fake.users.get(orders.userId)!.AccessString = `${fake.users.get(orders.userId)!.AccessString} +FLUSHALL`;
    const actions = await planNow();
    assert.deepEqual(
      actions.map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`),
      [`modify-user:${orders.userId}`],
    );
  });
});
