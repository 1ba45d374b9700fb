/**
 * The membership custom resource handler against CloudFormation's real event shapes
 * (@types/aws-lambda), with the provisioner's ElastiCache target on a mocked SDK client.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type {
  CloudFormationCustomResourceCreateEvent,
  CloudFormationCustomResourceDeleteEvent,
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
  CloudFormationCustomResourceUpdateEvent,
  Context,
} from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { ElastiCacheTarget } from "../../provisioner/src/elasticache-target.js";
import { awsError, FakeElastiCache, fakeClock } from "../../provisioner/test/elasticache-fake.js";
import { buildResponse, redactSecrets, sendResponse } from "../src/handler/cfn-response.js";
import { handler } from "../src/handler/index.js";
import { handleMembershipEvent, type MembershipDeps } from "../src/handler/membership.js";
import { parseMembershipProperties } from "../src/handler/properties.js";

const GROUP = "dev-shared-users";
const ACCESS = "on ~orders:* resetchannels &orders:* -@all +@connection +@read +@write -@dangerous";
const SECRET_ARN =
  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:/services/orders/redis/orders-AbCdEf";
const PASSWORD = "SecretFromSecretsManager0123456789ab";

const properties = (overrides: Record<string, string> = {}) => ({
  ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:Svc-CacheplaneMembershipHandler",
  UserGroupId: GROUP,
  UserId: "orders",
  Engine: "valkey",
  Service: "orders",
  Keyspace: "orders",
  AccessString: ACCESS,
  ManageUser: "false",
  ...overrides,
});

const base = {
  ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:Svc-CacheplaneMembershipHandler",
  ResponseURL:
    "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation?X-Amz-Signature=abc",
  StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Orders/4a2b0c40-0000-11ef-0000-0a1b2c3d4e5f",
  RequestId: "9b1f4c7e-1111-2222-3333-444455556666",
  LogicalResourceId: "OrdersCacheGroupMembership59AE0347",
  ResourceType: "Custom::CacheplaneUserGroupMembership",
};

function createEvent(props = properties()): CloudFormationCustomResourceCreateEvent {
  return { ...base, RequestType: "Create", ResourceProperties: props };
}
function updateEvent(props: ReturnType<typeof properties>, old: ReturnType<typeof properties>) {
  const event: CloudFormationCustomResourceUpdateEvent = {
    ...base,
    RequestType: "Update",
    PhysicalResourceId: old.UserId,
    ResourceProperties: props,
    OldResourceProperties: old,
  };
  return event;
}
function deleteEvent(
  props = properties(),
  physicalId = props.UserId,
): CloudFormationCustomResourceDeleteEvent {
  return { ...base, RequestType: "Delete", PhysicalResourceId: physicalId, ResourceProperties: props };
}

function setup() {
  const fake = new FakeElastiCache();
  fake.addGroup({ UserGroupId: GROUP, UserIds: [] });
  fake.addGroup({ UserGroupId: "prod-shared-users", UserIds: [] });
  const target = new ElastiCacheTarget({
    client: fake.client,
    clock: fakeClock(),
    ownerTag: "cloudformation",
  });
  const reads: string[] = [];
  const deps: MembershipDeps = {
    target,
    readPasswords: async (arn) => {
      reads.push(arn);
      return [PASSWORD];
    },
  };
  return { fake, deps, reads };
}

const run = (event: CloudFormationCustomResourceEvent, deps: MembershipDeps) =>
  handleMembershipEvent(event, deps);

describe("membership handler: Create", () => {
  it("adds the stack-owned user to the group and answers SUCCESS with the response fields", async () => {
    const { fake, deps, reads } = setup();
    fake.addUser({
      UserId: "orders",
      AccessString: ACCESS,
      tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }],
    });
    const response = await run(createEvent(), deps);
    assert.equal(response.Status, "SUCCESS");
    assert.equal(response.PhysicalResourceId, "orders");
    assert.equal(response.StackId, base.StackId);
    assert.equal(response.RequestId, base.RequestId);
    assert.equal(response.LogicalResourceId, base.LogicalResourceId);
    assert.deepEqual(response.Data, {
      UserId: "orders",
      UserGroupId: GROUP,
      Keyspace: "orders",
      PreExisting: "false",
    });
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
    assert.equal(fake.callsOf("CreateUser").length, 0);
    assert.equal(fake.callsOf("ModifyUser").length, 0, "access string already right");
    assert.deepEqual(reads, [], "no secret read for a stack-owned user");
  });

  it("does not rewrite an access string ElastiCache stored in another spelling of the same rules", async () => {
    const { fake, deps } = setup();
    // e.g. `resetchannels` and the leading `-@all` dropped, categories upper-cased, extra spaces.
    fake.addUser({
      UserId: "orders",
      AccessString: "on  ~orders:*  &orders:* +@CONNECTION +@READ +@WRITE -@DANGEROUS",
      tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }],
    });
    const response = await run(createEvent(), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.equal(fake.callsOf("ModifyUser").length, 0, "same meaning: no ModifyUser on every deploy");
  });

  it("fails with a useful reason when the stack-owned user does not exist", async () => {
    const { deps } = setup();
    const response = await run(createEvent(), deps);
    assert.equal(response.Status, "FAILED");
    assert.match(response.Reason!, /user orders does not exist/);
    assert.equal(response.PhysicalResourceId, "orders", "the rollback Delete only removes a membership");
  });

  it("creates a handler-owned user with the secret's password and managed tags, then adds it", async () => {
    const { fake, deps, reads } = setup();
    const response = await run(createEvent(properties({ ManageUser: "true", SecretArn: SECRET_ARN })), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.deepEqual(reads, [SECRET_ARN]);
    const [create] = fake.callsOf("CreateUser");
    assert.equal(create!.Engine, "valkey");
    assert.equal(create!.AccessString, ACCESS);
    assert.deepEqual(create!.AuthenticationMode, { Type: "password", Passwords: [PASSWORD] });
    assert.deepEqual(
      (create!.Tags as { Key: string; Value: string }[])[0],
      {
        Key: "cacheplane:managed",
        Value: "cloudformation",
      },
      "owned by the stack: `cacheplane apply --prune` leaves it alone",
    );
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
    assert.ok(!JSON.stringify(response).includes(PASSWORD), "the response never holds the password");
  });

  it("creates a handler-owned user with the engine of a Redis OSS platform's user group", async () => {
    const { fake, deps } = setup();
    // A Redis OSS platform: a redis user group, which must hold a `default` user and only takes redis users.
    fake.addUser({ UserId: "dev-shared-users-default", UserName: "default", Engine: "redis" });
    fake.addGroup({ UserGroupId: "redis-users", Engine: "redis", UserIds: ["dev-shared-users-default"] });
    const props = properties({
      UserGroupId: "redis-users",
      Engine: "redis",
      ManageUser: "true",
      SecretArn: SECRET_ARN,
    });
    const response = await run(createEvent(props), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.equal(fake.callsOf("CreateUser")[0]!.Engine, "redis");
    assert.equal(fake.users.get("orders")!.Engine, "redis");
    assert.deepEqual(fake.groups.get("redis-users")!.UserIds, ["dev-shared-users-default", "orders"]);
  });

  it("answers FAILED with the step and AWS error, redacting any password", async () => {
    const { fake, deps } = setup();
    fake.fail("CreateUser", () => awsError("InvalidParameterValueException", `Bad password ${PASSWORD}`), 1);
    const response = await run(createEvent(properties({ ManageUser: "true", SecretArn: SECRET_ARN })), deps);
    assert.equal(response.Status, "FAILED");
    assert.match(response.Reason!, /Create of the membership failed: ElastiCache CreateUser \(user orders\)/);
    assert.match(response.Reason!, /InvalidParameterValueException/);
    assert.ok(!response.Reason!.includes(PASSWORD));
    assert.equal(response.PhysicalResourceId, "orders", "rollback's Delete can clean up");
  });

  it("rejects bad properties without touching ElastiCache", async () => {
    const { fake, deps } = setup();
    const response = await run(createEvent(properties({ UserId: "Not_Valid", Engine: "memcached" })), deps);
    assert.equal(response.Status, "FAILED");
    assert.match(response.Reason!, /UserId "Not_Valid"/);
    assert.match(response.Reason!, /Engine must be/);
    assert.match(response.PhysicalResourceId, /^cacheplane-failed-create-/, "its Delete will be a no-op");
    assert.equal(fake.calls.length, 0);
  });
});

describe("membership handler: a membership that existed before the resource", () => {
  it("is recorded by Create, and its Delete leaves the member in the group", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: ACCESS });
    fake.groups.get(GROUP)!.UserIds = ["orders"]; // e.g. added by `cacheplane apply` earlier
    const created = await run(createEvent(), deps);
    assert.equal(created.Status, "SUCCESS", created.Reason);
    assert.equal(created.PhysicalResourceId, "orders|pre-existing");
    assert.equal(created.Data?.PreExisting, "true");

    const deleted = await run(deleteEvent(properties(), created.PhysicalResourceId), deps);
    assert.equal(deleted.Status, "SUCCESS");
    assert.match(deleted.Reason!, /already a member .* left there/);
    assert.deepEqual(
      fake.groups.get(GROUP)!.UserIds,
      ["orders"],
      "not removed: this resource did not add it",
    );
    assert.equal(fake.callsOf("ModifyUserGroup").length, 0);
  });

  it("a failed Create's rollback does not remove a member it did not add", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: "on ~orders:* -@all +@read" });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    fake.fail("ModifyUser", () => awsError("InvalidParameterValueException", "bad access string"), 1);
    const created = await run(createEvent(), deps);
    assert.equal(created.Status, "FAILED");
    assert.equal(created.PhysicalResourceId, "orders|pre-existing", "the rollback's Delete gets this id");
    const rollback = await run(deleteEvent(properties(), created.PhysicalResourceId), deps);
    assert.equal(rollback.Status, "SUCCESS");
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
  });

  it("a Create that added the member: its rollback removes it again", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: ACCESS });
    const created = await run(createEvent(), deps);
    assert.equal(created.PhysicalResourceId, "orders");
    await run(deleteEvent(properties(), created.PhysicalResourceId), deps);
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, []);
  });

  it("keeps the record across Updates of the same user and group", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: ACCESS });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const event = {
      ...updateEvent(properties(), properties({ Keyspace: "orders" })),
      PhysicalResourceId: "orders|pre-existing",
    };
    const updated = await run(event, deps);
    assert.equal(
      updated.PhysicalResourceId,
      "orders|pre-existing",
      "same id: CloudFormation deletes nothing",
    );
  });
});

describe("membership handler: Update", () => {
  it("corrects a changed access string in place and keeps the membership", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: "on ~orders:* -@all +@read" });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const response = await run(
      updateEvent(properties(), properties({ AccessString: "on ~orders:* -@all +@read" })),
      deps,
    );
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.equal(response.PhysicalResourceId, "orders", "same physical id: no replacement");
    assert.deepEqual(fake.callsOf("ModifyUser"), [{ UserId: "orders", AccessString: ACCESS }]);
    assert.equal(fake.callsOf("ModifyUserGroup").length, 0);
  });

  it("sets the user's passwords from the secret again when CloudFormation regenerated it", async () => {
    const { fake, deps, reads } = setup();
    fake.addUser({
      UserId: "orders",
      AccessString: ACCESS,
      passwords: ["OldGeneratedPassword0123456789abc"],
    });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const before = properties({ SecretArn: SECRET_ARN, SecretTemplate: '{"host":"old-endpoint"}' });
    const now = properties({ SecretArn: SECRET_ARN, SecretTemplate: '{"host":"new-endpoint"}' });
    const response = await run(updateEvent(now, before), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.deepEqual(reads, [SECRET_ARN]);
    assert.deepEqual(fake.users.get("orders")!.passwords, [PASSWORD]);
    assert.ok(!JSON.stringify(response).includes(PASSWORD));

    const unchanged = await run(updateEvent(now, now), deps);
    assert.equal(unchanged.Status, "SUCCESS");
    assert.equal(reads.length, 1, "same template: passwords left alone");
  });

  it("moves the user to a new group: adds to the new one, then removes from the old one", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: ACCESS });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const response = await run(
      updateEvent(properties({ UserGroupId: "prod-shared-users" }), properties()),
      deps,
    );
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.deepEqual(fake.callsOf("ModifyUserGroup"), [
      { UserGroupId: "prod-shared-users", UserIdsToAdd: ["orders"] },
      { UserGroupId: GROUP, UserIdsToRemove: ["orders"] },
    ]);
  });

  it("a new user id gets a new physical id (CloudFormation then deletes the old membership)", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "ordersv2", AccessString: ACCESS });
    const response = await run(updateEvent(properties({ UserId: "ordersv2" }), properties()), deps);
    assert.equal(response.PhysicalResourceId, "ordersv2");
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["ordersv2"]);
  });
});

describe("membership handler: Delete", () => {
  it("removes the user from the group, keeps the data and says so", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", AccessString: ACCESS });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const response = await run(deleteEvent(), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.deepEqual(fake.groups.get(GROUP)!.UserIds, []);
    assert.ok(fake.users.has("orders"), "a stack-owned user is deleted by its own resource, not here");
    assert.equal(response.Data?.DataRetained, "true");
    assert.match(response.Reason!, /Keys under "orders:\*" were kept/);
  });

  it("deletes a handler-owned user after removing it", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders", tags: [{ Key: "cacheplane:managed", Value: "cloudformation" }] });
    fake.groups.get(GROUP)!.UserIds = ["orders"];
    const response = await run(deleteEvent(properties({ ManageUser: "true", SecretArn: SECRET_ARN })), deps);
    assert.equal(response.Status, "SUCCESS", response.Reason);
    assert.equal(fake.users.has("orders"), false);
    assert.match(response.Reason!, /and deleted the user/);
  });

  it("keeps a user it did not create instead of failing the delete", async () => {
    const { fake, deps } = setup();
    fake.addUser({ UserId: "orders" });
    const response = await run(deleteEvent(properties({ ManageUser: "true", SecretArn: SECRET_ARN })), deps);
    assert.equal(response.Status, "SUCCESS");
    assert.match(response.Reason!, /the user was kept/);
    assert.ok(fake.users.has("orders"));
  });

  it("succeeds at once for a membership whose create failed, and when the group is gone", async () => {
    const { fake, deps } = setup();
    const never = await run(deleteEvent(properties(), "cacheplane-failed-create-9b1f"), deps);
    assert.equal(never.Status, "SUCCESS");
    assert.equal(fake.calls.length, 0);
    fake.groups.clear();
    const gone = await run(deleteEvent(), deps);
    assert.equal(gone.Status, "SUCCESS", gone.Reason);
  });
});

describe("properties and responses", () => {
  it("parses the resource properties", () => {
    assert.deepEqual(parseMembershipProperties(properties({ ManageUser: "true", SecretArn: SECRET_ARN })), {
      userGroupId: GROUP,
      userId: "orders",
      engine: "valkey",
      service: "orders",
      keyspace: "orders",
      accessString: ACCESS,
      manageUser: true,
      authentication: "password",
      secretArn: SECRET_ARN,
    });
    assert.throws(
      () => parseMembershipProperties({ ...properties(), ManageUser: "true" }),
      /SecretArn is required/,
    );
  });

  it("trims long reasons and redacts secrets", () => {
    const response = buildResponse(createEvent(), {
      status: "FAILED",
      physicalResourceId: "x",
      reason: "y".repeat(5000),
    });
    assert.equal(response.Reason!.length, 1000);
    assert.equal(redactSecrets(`a ${PASSWORD} b ${PASSWORD}`, [PASSWORD]), "a *** b ***");
  });
});

describe("Lambda entry (index.ts) end to end", () => {
  let server: ReturnType<typeof createServer>;
  let url = "";
  const received: { method?: string; contentType?: string; body: CloudFormationCustomResourceResponse }[] =
    [];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push({
          method: req.method,
          contentType: req.headers["content-type"],
          body: JSON.parse(body),
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response?X-Amz-Signature=abc`;
  });
  after(() => server.close());

  it("creates a handler-owned user from the secret and PUTs SUCCESS to the ResponseURL", async () => {
    // Every client the entry creates is served by the in-memory ElastiCache and a mocked Secrets Manager.
    const ecStub = mockClient(ElastiCacheClient);
    const smStub = mockClient(SecretsManagerClient);
    try {
      const fake = new FakeElastiCache(ecStub);
      fake.transitionPolls = 0;
      fake.addGroup({ UserGroupId: GROUP, UserIds: [] });
      smStub.on(GetSecretValueCommand).resolves({
        ARN: SECRET_ARN,
        Name: "/services/orders/redis/orders",
        SecretString: JSON.stringify({
          host: "dev-shared.serverless.euw1.cache.amazonaws.com",
          port: 6379,
          username: "orders",
          password: PASSWORD,
          keyspace: "orders",
          tls: true,
        }),
      });
      const event = {
        ...createEvent(properties({ ManageUser: "true", SecretArn: SECRET_ARN })),
        ResponseURL: url,
      };
      const context = { getRemainingTimeInMillis: () => 900_000 } as Context;
      const logged: string[] = [];
      const log = console.log;
      console.log = (...args: unknown[]) => logged.push(args.join(" "));
      try {
        await handler(event, context);
      } finally {
        console.log = log;
      }

      assert.equal(received.length, 1);
      assert.equal(received[0]!.method, "PUT");
      assert.equal(received[0]!.contentType, "", "S3 pre-signed URLs are signed without a content type");
      assert.equal(received[0]!.body.Status, "SUCCESS", received[0]!.body.Reason);
      assert.equal(received[0]!.body.PhysicalResourceId, "orders");
      assert.deepEqual(fake.groups.get(GROUP)!.UserIds, ["orders"]);
      assert.ok(!logged.join("\n").includes(PASSWORD), "the password is never logged");
      assert.ok(!logged.join("\n").includes("X-Amz-Signature"), "the pre-signed URL is never logged");
    } finally {
      ecStub.restore();
      smStub.restore();
    }
  });

  it("sendResponse retries a failing endpoint and gives up with an error", async () => {
    const sleeps: number[] = [];
    await assert.rejects(
      sendResponse(
        "http://127.0.0.1:1/closed",
        buildResponse(createEvent(), { status: "SUCCESS", physicalResourceId: "x" }),
        {
          attempts: 3,
          sleep: async (ms) => {
            sleeps.push(ms);
          },
        },
      ),
    );
    assert.deepEqual(sleeps, [500, 1000]);
  });
});
