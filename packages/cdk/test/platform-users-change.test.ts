/**
 * What happens to the members a service's custom resource added when the platform's own user list
 * (`CachePlatform({ users })`) changes: the platform's `AWS::ElastiCache::UserGroup` lists only the
 * platform's users, never the services', and the same group is updated in place (not replaced).
 * CloudFormation then changes the group by the difference between the old and the new list (the
 * behaviour of the UserGroup resource handler; see docs/operations.md), so service members stay.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AccessControl, IamUser, UserEngine } from "@aws-cdk/aws-elasticache-alpha";
import { ModifyUserGroupCommand } from "@aws-sdk/client-elasticache";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { FakeElastiCache } from "../../provisioner/test/elasticache-fake.js";
import { CachePlatform, ServiceCacheAccess } from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };

function synth(withAdmin: boolean) {
  const app = new App({ builtinCloudFormationValidation: false, context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Platform", { env });
  const vpc = new ec2.Vpc(stack, "Vpc", {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: "cache", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  const users = withAdmin
    ? [
        new IamUser(stack, "Admin", {
          userId: "dev-admin",
          engine: UserEngine.REDIS,
          accessControl: AccessControl.fromAccessString("on ~* +@all"),
        }),
      ]
    : [];
  new CachePlatform(stack, "Cache", { stage: "dev", engine: "redis", vpc, users });
  const service = new Stack(app, "Orders", { env });
  new ServiceCacheAccess(service, "Cache", {
    platform: CachePlatform.fromSsmParameters(service, "Platform", { stage: "dev", engine: "redis" }),
    service: { name: "orders", access: "read-write" },
  });
  const groups = Template.fromStack(stack).findResources("AWS::ElastiCache::UserGroup");
  const [entry] = Object.entries(groups) as [string, { Properties: Record<string, unknown> }][];
  return { logicalId: entry![0], props: entry![1].Properties };
}

/** The platform's own user ids in the rendered UserIds (references resolved to their logical ids). */
function userIds(props: Record<string, unknown>): string[] {
  return (props.UserIds as unknown[]).map((u) => JSON.stringify(u));
}

describe("CachePlatform users change", () => {
  const before = synth(false);
  const after = synth(true);

  it("updates the same user group in place, and lists only the platform's own users", () => {
    assert.equal(after.logicalId, before.logicalId, "same resource: an update, not a replacement");
    assert.equal(after.props.UserGroupId, before.props.UserGroupId);
    assert.equal(userIds(before.props).length, 1, "the disabled default user only");
    assert.equal(userIds(after.props).length, 2, "default user + admin");
    for (const id of userIds(after.props))
      assert.doesNotMatch(id, /orders/, "services join through their own stacks");
  });

  it("a group update by list difference keeps the members services added", async () => {
    const fake = new FakeElastiCache();
    fake.transitionPolls = 0;
    fake.addUser({ UserId: "dev-shared-default", UserName: "default", Engine: "redis" });
    fake.addUser({ UserId: "dev-admin", Engine: "redis", authType: "iam" });
    fake.addUser({ UserId: "orders", Engine: "redis" });
    // Deployed platform (default user), then the orders stack's membership added its user.
    fake.addGroup({
      UserGroupId: "dev-shared-users",
      Engine: "redis",
      UserIds: ["dev-shared-default", "orders"],
    });
    // The platform update adds its new user: old list [default], new list [default, admin].
    await fake.client.send(
      new ModifyUserGroupCommand({ UserGroupId: "dev-shared-users", UserIdsToAdd: ["dev-admin"] }),
    );
    assert.deepEqual(fake.groups.get("dev-shared-users")!.UserIds.sort(), [
      "dev-admin",
      "dev-shared-default",
      "orders",
    ]);
  });
});
