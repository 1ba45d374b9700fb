/**
 * The hand-written ElastiCache fake enforces the AWS rules the code above it must respect. These tests
 * pin each rule (through the real SDK client, as the target calls it), so a fake that forgets one fails.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CreateServerlessCacheCommand,
  CreateUserCommand,
  CreateUserGroupCommand,
  DeleteUserCommand,
  ModifyUserGroupCommand,
} from "@aws-sdk/client-elasticache";
import { FakeElastiCache } from "./elasticache-fake.js";

const PW = "Aa1".repeat(10) + "passwordOK";

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  return "ok";
}

function fresh() {
  const fake = new FakeElastiCache();
  fake.transitionPolls = 0;
  const createUser = (UserId: string, Engine: string, extra: Record<string, unknown> = {}) =>
    fake.client.send(
      new CreateUserCommand({
        UserId,
        UserName: UserId,
        Engine,
        AccessString: "on ~x:* -@all +get",
        AuthenticationMode: { Type: "password", Passwords: [PW] },
        ...extra,
      }),
    );
  return { fake, createUser };
}

describe("ElastiCache fake: engines", () => {
  it("a redis user group refuses valkey users; a valkey group takes both", async () => {
    const { fake, createUser } = fresh();
    await createUser("def", "redis", {
      UserName: "default",
      AuthenticationMode: { Type: "no-password-required" },
    });
    await createUser("v1", "valkey");
    await createUser("r1", "redis");
    await fake.client.send(
      new CreateUserGroupCommand({ UserGroupId: "rg", Engine: "redis", UserIds: ["def"] }),
    );
    await fake.client.send(new CreateUserGroupCommand({ UserGroupId: "vg", Engine: "valkey", UserIds: [] }));
    const add = (group: string, id: string) =>
      code(fake.client.send(new ModifyUserGroupCommand({ UserGroupId: group, UserIdsToAdd: [id] })));
    assert.equal(await add("rg", "v1"), "InvalidParameterCombinationException");
    assert.equal(await add("rg", "r1"), "ok");
    assert.equal(await add("vg", "v1"), "ok");
    assert.equal(await add("vg", "r1"), "ok");
  });

  it("a Redis OSS cache refuses a valkey user group", async () => {
    const { fake } = fresh();
    await fake.client.send(new CreateUserGroupCommand({ UserGroupId: "vg", Engine: "valkey", UserIds: [] }));
    const create = (engine: string) =>
      code(
        fake.client.send(
          new CreateServerlessCacheCommand({
            ServerlessCacheName: `c-${engine}`,
            Engine: engine,
            UserGroupId: "vg",
          }),
        ),
      );
    assert.equal(await create("redis"), "InvalidParameterCombinationException");
    assert.equal(await create("valkey"), "ok");
  });
});

describe("ElastiCache fake: default and no-password users", () => {
  it("a redis user group needs a user named default, from creation on", async () => {
    const { fake, createUser } = fresh();
    await createUser("r1", "redis");
    const group = (UserIds: string[]) =>
      code(
        fake.client.send(
          new CreateUserGroupCommand({ UserGroupId: `g${UserIds.length}`, Engine: "redis", UserIds }),
        ),
      );
    assert.equal(await group(["r1"]), "DefaultUserRequired");
    await createUser("mydefault", "redis", { UserName: "default" });
    assert.equal(await group(["mydefault", "r1"]), "ok");
    const remove = code(
      fake.client.send(new ModifyUserGroupCommand({ UserGroupId: "g2", UserIdsToRemove: ["mydefault"] })),
    );
    assert.equal(await remove, "DefaultUserRequired");
    assert.equal(
      await code(fake.client.send(new DeleteUserCommand({ UserId: "mydefault" }))),
      "DefaultUserRequired",
    );
  });

  it("a valkey user group refuses users without a password", async () => {
    const { fake, createUser } = fresh();
    await createUser("open", "valkey", { AuthenticationMode: { Type: "no-password-required" } });
    assert.equal(
      await code(
        fake.client.send(
          new CreateUserGroupCommand({ UserGroupId: "vg", Engine: "valkey", UserIds: ["open"] }),
        ),
      ),
      "InvalidParameterValueException",
    );
    await fake.client.send(new CreateUserGroupCommand({ UserGroupId: "vg", Engine: "valkey", UserIds: [] }));
    assert.equal(
      await code(fake.client.send(new ModifyUserGroupCommand({ UserGroupId: "vg", UserIdsToAdd: ["open"] }))),
      "InvalidParameterValueException",
    );
  });
});

describe("ElastiCache fake: quotas", () => {
  it("holds at most 100 users per group, the default user included", async () => {
    const { fake, createUser } = fresh();
    await createUser("mydefault", "redis", { UserName: "default" });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      await createUser(`u${i}`, "redis");
      ids.push(`u${i}`);
    }
    await fake.client.send(
      new CreateUserGroupCommand({
        UserGroupId: "rg",
        Engine: "redis",
        UserIds: ["mydefault", ...ids.slice(0, 98)],
      }),
    );
    const add = (id: string) =>
      code(fake.client.send(new ModifyUserGroupCommand({ UserGroupId: "rg", UserIdsToAdd: [id] })));
    assert.equal(await add("u98"), "ok", "default + 99 = 100");
    assert.equal(await add("u99"), "UserGroupQuotaExceededFault", "the 101st member");
  });

  it("holds at most 1,000 users and 100 user groups per account", async () => {
    const { fake, createUser } = fresh();
    fake.quotas.usersPerAccount = 3;
    fake.quotas.userGroupsPerAccount = 2;
    for (const id of ["a", "b", "c"]) assert.equal(await code(createUser(id, "valkey")), "ok");
    assert.equal(await code(createUser("d", "valkey")), "UserQuotaExceededFault");
    const group = (id: string) =>
      code(fake.client.send(new CreateUserGroupCommand({ UserGroupId: id, Engine: "valkey", UserIds: [] })));
    assert.equal(await group("g1"), "ok");
    assert.equal(await group("g2"), "ok");
    assert.equal(await group("g3"), "UserGroupQuotaExceededFault");
    assert.deepEqual(new FakeElastiCache().quotas, {
      usersPerAccount: 1000,
      userGroupsPerAccount: 100,
      usersPerGroup: 100,
    });
  });

  it("refuses ModifyUserGroup while the group is modifying", async () => {
    const { fake, createUser } = fresh();
    fake.transitionPolls = 2;
    await createUser("a", "valkey");
    await createUser("b", "valkey");
    fake.users.get("a")!.Status = "active";
    fake.users.get("b")!.Status = "active";
    fake.addGroup({ UserGroupId: "vg" });
    await fake.client.send(new ModifyUserGroupCommand({ UserGroupId: "vg", UserIdsToAdd: ["a"] }));
    assert.equal(
      await code(fake.client.send(new ModifyUserGroupCommand({ UserGroupId: "vg", UserIdsToAdd: ["b"] }))),
      "InvalidUserGroupStateFault",
    );
  });
});
