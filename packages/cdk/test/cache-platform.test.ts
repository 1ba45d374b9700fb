/** CachePlatform and its imports. One app, synthesized once, shared by every assertion. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import { CachePlatform } from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };
const app = new App({
  builtinCloudFormationValidation: false,
  context: {
    "aws:cdk:bundling-stacks": [],
    "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  },
});

function isolatedVpc(stack: Stack, maxAzs = 2) {
  return new ec2.Vpc(stack, "Vpc", {
    maxAzs,
    natGateways: 0,
    subnetConfiguration: [{ name: "cache", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
}

// Default: Valkey, generated security group, retained.
const valkeyStack = new Stack(app, "Valkey", { env });
const valkey = new CachePlatform(valkeyStack, "Platform", { stage: "dev", vpc: isolatedVpc(valkeyStack) });

// Redis with every option.
const redisStack = new Stack(app, "Redis", { env });
const redisVpc = new ec2.Vpc(redisStack, "Vpc", { maxAzs: 3, natGateways: 1 });
const key = new kms.Key(redisStack, "Key", { enableKeyRotation: true });
const givenSg = new ec2.SecurityGroup(redisStack, "CacheSg", { vpc: redisVpc, allowAllOutbound: false });
const redis = new CachePlatform(redisStack, "Platform", {
  stage: "prod",
  cacheName: "main",
  engine: "redis",
  majorEngineVersion: "7",
  vpc: redisVpc,
  securityGroup: givenSg,
  usageLimits: {
    minDataStorageGb: 1,
    maxDataStorageGb: 50,
    minEcpuPerSecond: 1000,
    maxEcpuPerSecond: 20_000,
  },
  snapshotRetentionDays: 7,
  dailySnapshotTime: "03:30",
  finalSnapshotName: "prod-main-final",
  encryptionKey: key,
  removalPolicy: RemovalPolicy.DESTROY,
});

// Application stack importing both ways.
const appStack = new Stack(app, "Service", { env });
const fromSsm = CachePlatform.fromSsmParameters(appStack, "Imported", { stage: "dev" });
const fromAttrs = CachePlatform.fromAttributes(appStack, "Known", {
  stage: "dev",
  endpointAddress: "dev-shared-abc.serverless.euw1.cache.amazonaws.com",
  userGroupId: "dev-shared-users",
  securityGroupId: "sg-0123456789abcdef0",
  serverlessCacheName: "dev-shared",
});
const ssmValues = [fromSsm.endpointAddress, fromSsm.endpointPort, fromSsm.userGroupId, fromSsm.userGroupArn];

const valkeyTemplate = Template.fromStack(valkeyStack);
const redisTemplate = Template.fromStack(redisStack);
const appTemplate = Template.fromStack(appStack);

describe("CachePlatform (Valkey, defaults)", () => {
  it("creates one retained ElastiCache Serverless cache wired to its group, subnets and security group", () => {
    valkeyTemplate.resourceCountIs("AWS::ElastiCache::ServerlessCache", 1);
    valkeyTemplate.hasResource("AWS::ElastiCache::ServerlessCache", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        Engine: "valkey",
        ServerlessCacheName: "dev-shared",
        UserGroupId: "dev-shared-users",
        SubnetIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp("VpccacheSubnet1") })]),
        SecurityGroupIds: [{ "Fn::GetAtt": [Match.stringLikeRegexp("PlatformSecurityGroup"), "GroupId"] }],
      },
    });
    const cache = Object.values(valkeyTemplate.findResources("AWS::ElastiCache::ServerlessCache"))[0]!;
    assert.equal(cache.Properties.SubnetIds.length, 2);
    assert.equal(cache.Properties.MajorEngineVersion, undefined, "latest version");
    assert.equal(cache.Properties.KmsKeyId, undefined);
    assert.equal(cache.Properties.CacheUsageLimits, undefined);
  });

  it("creates a Valkey user group without a default user (Valkey needs none)", () => {
    valkeyTemplate.resourceCountIs("AWS::ElastiCache::User", 0);
    valkeyTemplate.hasResource("AWS::ElastiCache::UserGroup", {
      DeletionPolicy: "Retain",
      Properties: { Engine: "valkey", UserGroupId: "dev-shared-users", UserIds: [] },
    });
    assert.equal(valkey.defaultUser, undefined);
  });

  it("creates a security group without ingress or egress", () => {
    valkeyTemplate.hasResourceProperties("AWS::EC2::SecurityGroup", {
      GroupDescription: Match.stringLikeRegexp("Cacheplane shared cache dev/shared"),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: "255.255.255.255/32", Description: "Disallow all traffic" }),
      ],
    });
  });

  it("publishes endpoint, port, user group id/ARN, security group and cache name under core's export names", () => {
    const parameters = valkeyTemplate.findResources("AWS::SSM::Parameter");
    const byName = Object.fromEntries(
      Object.values(parameters).map((p) => [p.Properties.Name as string, p.Properties.Value]),
    );
    assert.deepEqual(Object.keys(byName).sort(), [
      "/platform/dev/eu-west-1/redis/shared/endpoint",
      "/platform/dev/eu-west-1/redis/shared/port",
      "/platform/dev/eu-west-1/redis/shared/securityGroupId",
      "/platform/dev/eu-west-1/redis/shared/serverlessCacheName",
      "/platform/dev/eu-west-1/redis/shared/userGroupArn",
      "/platform/dev/eu-west-1/redis/shared/userGroupId",
    ]);
    assert.deepEqual(byName["/platform/dev/eu-west-1/redis/shared/endpoint"], {
      "Fn::GetAtt": [valkeyLogicalId("ServerlessCache"), "Endpoint.Address"],
    });
    assert.deepEqual(byName["/platform/dev/eu-west-1/redis/shared/port"], {
      "Fn::GetAtt": [valkeyLogicalId("ServerlessCache"), "Endpoint.Port"],
    });
    assert.equal(byName["/platform/dev/eu-west-1/redis/shared/userGroupId"], "dev-shared-users");
    assert.deepEqual(byName["/platform/dev/eu-west-1/redis/shared/userGroupArn"], {
      "Fn::GetAtt": [valkeyLogicalId("UserGroup"), "Arn"],
    });
    assert.deepEqual(
      valkey.parameterNames.endpointParameter,
      "/platform/dev/eu-west-1/redis/shared/endpoint",
    );
  });

  it("adds CloudFormation outputs without exports (no hard cross-stack references)", () => {
    const outputs = valkeyTemplate.findOutputs("*");
    const described = Object.values(outputs).map((o) => o.Description);
    assert.deepEqual(described.sort(), [
      "Cache endpoint host",
      "Cache endpoint port",
      "Cache security group",
      "User group ARN",
      "User group id",
    ]);
    assert.ok(Object.values(outputs).every((o) => o.Export === undefined));
  });
});

function valkeyLogicalId(type: "ServerlessCache" | "UserGroup"): string {
  return Object.keys(valkeyTemplate.findResources(`AWS::ElastiCache::${type}`))[0]!;
}

describe("CachePlatform (Redis OSS, every option)", () => {
  it("adds a disabled default user (Redis user groups require one named default)", () => {
    redisTemplate.resourceCountIs("AWS::ElastiCache::User", 1);
    redisTemplate.hasResource("AWS::ElastiCache::User", {
      DeletionPolicy: "Delete",
      Properties: {
        UserName: "default",
        UserId: "prod-main-users-default",
        Engine: "redis",
        AccessString: "off -@all",
        AuthenticationMode: { Type: "no-password-required" },
      },
    });
    redisTemplate.hasResourceProperties("AWS::ElastiCache::UserGroup", {
      Engine: "redis",
      UserGroupId: "prod-main-users",
      UserIds: ["prod-main-users-default"],
    });
    assert.ok(redis.defaultUser);
  });

  it("renders engine version, usage limits, snapshots, KMS key and the given security group", () => {
    redisTemplate.hasResource("AWS::ElastiCache::ServerlessCache", {
      DeletionPolicy: "Delete",
      Properties: {
        Engine: "redis",
        MajorEngineVersion: "7",
        ServerlessCacheName: "prod-main",
        CacheUsageLimits: {
          DataStorage: { Unit: "GB", Minimum: 1, Maximum: 50 },
          ECPUPerSecond: { Minimum: 1000, Maximum: 20_000 },
        },
        SnapshotRetentionLimit: 7,
        DailySnapshotTime: "03:30",
        FinalSnapshotName: "prod-main-final",
        KmsKeyId: { Ref: Match.stringLikeRegexp("^Key") },
        SecurityGroupIds: [{ "Fn::GetAtt": [Match.stringLikeRegexp("^CacheSg"), "GroupId"] }],
      },
    });
    const cache = Object.values(redisTemplate.findResources("AWS::ElastiCache::ServerlessCache"))[0]!;
    assert.equal(cache.Properties.SubnetIds.length, 3, "private subnets with egress, one per AZ");
    assert.equal(redis.securityGroup, givenSg);
  });
});

describe("CachePlatform imports", () => {
  it("fromSsmParameters reads the exports at deploy time through SSM parameter types (no lookups)", () => {
    const parameters = appTemplate.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const ssm = Object.values(parameters).filter(
      (p) => p.Type === "AWS::SSM::Parameter::Value<String>" && p.Default.startsWith("/platform/"),
    );
    assert.deepEqual(
      ssm.map((p) => p.Default).sort(),
      [
        "/platform/dev/eu-west-1/redis/shared/endpoint",
        "/platform/dev/eu-west-1/redis/shared/port",
        "/platform/dev/eu-west-1/redis/shared/userGroupArn",
        "/platform/dev/eu-west-1/redis/shared/userGroupId",
      ],
      "only the values used are read",
    );
    assert.equal(ssmValues.length, 4);
    assert.equal(fromSsm.engine, "valkey");
    assert.equal(fromSsm.platformRegion, "eu-west-1");
    assert.equal(JSON.stringify(appTemplate.toJSON()).includes("Fn::ImportValue"), false);
  });

  it("fromAttributes builds ARNs in the platform's region", () => {
    assert.equal(fromAttrs.userGroupId, "dev-shared-users");
    assert.match(
      appStack.resolve(fromAttrs.userGroupArn)["Fn::Join"][1].join(""),
      /:elasticache:eu-west-1:123456789012:usergroup:dev-shared-users$/,
    );
    assert.match(
      appStack.resolve(fromAttrs.serverlessCacheArn)["Fn::Join"][1].join(""),
      /:serverlesscache:dev-shared$/,
    );
    assert.equal(fromAttrs.endpointPort, "6379");
  });
});
