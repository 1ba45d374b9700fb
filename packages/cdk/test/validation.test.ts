/**
 * Synth-time validation: every mistake is reported when the construct is created, with the construct
 * path and the fix. Nothing here synthesizes a template.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, Stack, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as lambda from "aws-cdk-lib/aws-lambda";
import {
  CachePlatform,
  type CachePlatformProps,
  CacheplaneValidationError,
  ServiceCacheAccess,
} from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };

function stackWithVpc(subnets = 2) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Platform", { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, "Vpc", {
    vpcId: "vpc-0123456789abcdef0",
    availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d"].slice(0, subnets),
    privateSubnetIds: Array.from({ length: subnets }, (_, i) => `subnet-0${i}aaaaaaaaaaaaaaa`),
  });
  return { app, stack, vpc };
}

function platformError(props: Partial<CachePlatformProps>, subnets = 2): CacheplaneValidationError {
  const { stack, vpc } = stackWithVpc(subnets);
  try {
    new CachePlatform(stack, "Shared", { stage: "dev", vpc, ...props });
  } catch (error) {
    assert.ok(error instanceof CacheplaneValidationError, String(error));
    assert.equal(error.constructPath, "Platform/Shared");
    assert.ok(error.message.startsWith("Platform/Shared: "), error.message);
    return error;
  }
  assert.fail("expected a validation error");
}

describe("CachePlatform validation", () => {
  it("names", () => {
    assert.match(platformError({ stage: "Dev_1" }).message, /stage "Dev_1" must be 1-40 lowercase letters/);
    assert.match(platformError({ cacheName: "my cache" }).message, /cacheName "my cache"/);
    assert.match(
      platformError({ serverlessCacheName: "1cache" }).message,
      /serverlessCacheName "1cache" must be 1-40/,
    );
    assert.match(platformError({ userGroupId: "users--x" }).message, /userGroupId "users--x"/);
    assert.match(platformError({ userPrefix: "Dev" }).message, /userPrefix "Dev"/);
  });

  it("region: concrete, and the stack's own", () => {
    const app = new App();
    const agnostic = new Stack(app, "Agnostic");
    const vpc = new ec2.Vpc(agnostic, "Vpc", { maxAzs: 2 });
    assert.throws(
      () => new CachePlatform(agnostic, "Shared", { stage: "dev", vpc }),
      /Agnostic\/Shared: needs a concrete region: set `env.region` on the stack or pass `region`/,
    );
    assert.match(
      platformError({ region: "us-east-1" }).message,
      /platform is in us-east-1 but this stack is in eu-west-1/,
    );
  });

  it("engine vs user group", () => {
    assert.match(
      platformError({ engine: "redis", userGroupEngine: "valkey" }).message,
      /Redis OSS cache only accepts user groups with engine "redis"/,
    );
    assert.match(platformError({ engine: "redis", majorEngineVersion: "8" }).message, /no major version 8/);
    const { stack, vpc } = stackWithVpc();
    const ok = new CachePlatform(stack, "ValkeyWithRedisGroup", {
      stage: "dev",
      vpc,
      userGroupEngine: "redis",
    });
    assert.ok(ok.defaultUser, "a Valkey cache may use a Redis user group, which needs the default user");
  });

  it("usage limits", () => {
    assert.match(
      platformError({ usageLimits: { maxDataStorageGb: 6000 } }).message,
      /usageLimits.maxDataStorageGb must be a whole number of GB from 1 to 5000, got 6000/,
    );
    assert.match(
      platformError({ usageLimits: { minDataStorageGb: 0 } }).message,
      /minDataStorageGb .* got 0/,
    );
    assert.match(platformError({ usageLimits: { maxDataStorageGb: 1.5 } }).message, /whole number/);
    assert.match(
      platformError({ usageLimits: { minDataStorageGb: 10, maxDataStorageGb: 5 } }).message,
      /minDataStorageGb \(10\) must not be greater than usageLimits.maxDataStorageGb \(5\)/,
    );
    assert.match(
      platformError({ usageLimits: { maxEcpuPerSecond: 999 } }).message,
      /maxEcpuPerSecond must be a whole number of ECPU\/s from 1000 to 15000000, got 999/,
    );
    assert.match(
      platformError({ usageLimits: { minEcpuPerSecond: 20_000, maxEcpuPerSecond: 10_000 } }).message,
      /must not be greater/,
    );
    const { stack, vpc } = stackWithVpc();
    const tokenLimit = Token.asNumber({ Ref: "Limit" });
    new CachePlatform(stack, "Tokens", { stage: "dev", vpc, usageLimits: { maxDataStorageGb: tokenLimit } });
  });

  it("snapshots", () => {
    assert.match(
      platformError({ snapshotRetentionDays: 0 }).message,
      /snapshotRetentionDays must be a whole number of days from 1 to 35, got 0/,
    );
    assert.match(platformError({ snapshotRetentionDays: 36 }).message, /got 36/);
    assert.match(platformError({ snapshotRetentionDays: 7, dailySnapshotTime: "25:00" }).message, /HH:MM/);
    assert.match(platformError({ dailySnapshotTime: "03:00" }).message, /needs snapshotRetentionDays/);
  });

  it("subnets: at least 2, at most 3 distinct", () => {
    assert.match(platformError({}, 1).message, /needs at least 2 subnets, the selection has 1/);
    assert.match(
      platformError({}, 4).message,
      /at most 3 subnets, the selection has 4; narrow it with `vpcSubnets`/,
    );
  });
});

function serviceStack() {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Svc", { env });
  const platform = CachePlatform.fromSsmParameters(stack, "Platform", { stage: "dev" });
  return { app, stack, platform };
}

function accessError(build: (ctx: ReturnType<typeof serviceStack>) => void): CacheplaneValidationError {
  const ctx = serviceStack();
  try {
    build(ctx);
  } catch (error) {
    assert.ok(error instanceof CacheplaneValidationError, String(error));
    return error;
  }
  assert.fail("expected a validation error");
}

describe("ServiceCacheAccess validation", () => {
  it("bad service declarations, with core's messages and the construct path", () => {
    const err = accessError(({ stack, platform }) => {
      new ServiceCacheAccess(stack, "Cache", {
        platform,
        service: { name: "---", access: { commands: ["+flushall", "not a rule"] } },
      });
    });
    assert.equal(err.constructPath, "Svc/Cache");
    assert.match(err.message, /^Svc\/Cache: invalid service: /);
    assert.match(err.message, /name: service name "---" is not allowed: start with a letter or digit/);
    assert.match(err.message, /access.commands\[0\]: command "flushall" is dangerous/);
    assert.match(err.message, /access.commands\[1\]: "not a rule" is not an ACL command rule/);
    assert.match(
      accessError(
        ({ stack, platform }) =>
          new ServiceCacheAccess(stack, "C", { platform, service: { name: "default", access: "read-only" } }),
      ).message,
      /reserved user "default"/,
    );
  });

  it("a keyspace, user id or secret name used twice in one app, across stacks", () => {
    const { app, stack, platform } = serviceStack();
    new ServiceCacheAccess(stack, "Orders", { platform, service: { name: "orders", access: "read-write" } });
    const other = new Stack(app, "Other", { env });
    const otherPlatform = CachePlatform.fromSsmParameters(other, "Platform", { stage: "dev" });
    assert.throws(
      () =>
        new ServiceCacheAccess(other, "Legacy", {
          platform: otherPlatform,
          service: { name: "legacy-orders", keyspace: "orders", access: "read-only" },
        }),
      /Other\/Legacy: keyspace "orders" in platform dev\/eu-west-1\/shared is already used by Svc\/Orders/,
    );
    assert.throws(
      () =>
        new ServiceCacheAccess(other, "Orders2", {
          platform: otherPlatform,
          service: { name: "Orders", keyspace: "orders-v2", access: "read-only" },
        }),
      /user id "orders" in 123456789012\/eu-west-1 is already used by Svc\/Orders; .*userPrefix/,
    );
    // Another platform (stage) in the same account may reuse the keyspace, with its own users and secrets.
    const prod = CachePlatform.fromSsmParameters(other, "Prod", { stage: "prod", userPrefix: "prod" });
    assert.throws(
      () =>
        new ServiceCacheAccess(other, "ProdOrders", {
          platform: prod,
          service: { name: "orders", access: "read-write" },
        }),
      /secret name "\/services\/orders\/redis\/orders" in 123456789012\/eu-west-1 is already used by Svc\/Orders/,
    );
    const ok = new ServiceCacheAccess(other, "ProdOrders2", {
      platform: prod,
      service: { name: "orders", access: "read-write" },
      secretName: "/prod/services/orders/redis/orders",
    });
    assert.equal(ok.service.userId, "prodorders");
  });

  it("engine vs the platform's user group", () => {
    const err = accessError(({ stack }) => {
      const platform = CachePlatform.fromSsmParameters(stack, "RedisPlatform", {
        stage: "dev",
        cacheName: "legacy",
        engine: "redis",
      });
      new ServiceCacheAccess(stack, "Cache", {
        platform,
        service: { name: "orders", access: "read-write" },
        userEngine: "valkey",
      });
    });
    assert.match(err.message, /user group has engine "redis", which only accepts "redis" users/);
  });

  it("functions outside the VPC, and IAM auth with a handler-owned user", () => {
    const err = accessError(({ stack, platform }) => {
      const fn = new lambda.Function(stack, "NoVpc", {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: "index.handler",
        code: lambda.Code.fromInline("exports.handler = async () => 1"),
      });
      new ServiceCacheAccess(stack, "Cache", {
        platform,
        service: { name: "orders", access: "read-write" },
        functions: [fn],
      });
    });
    assert.match(err.message, /function Svc\/NoVpc is not in a VPC/);
    assert.match(
      accessError(({ stack, platform }) => {
        new ServiceCacheAccess(stack, "Cache", {
          platform,
          service: { name: "orders", access: "read-write" },
          authentication: "iam",
          userManagement: "custom-resource",
        });
      }).message,
      /authentication "iam" needs userManagement "cloudformation"/,
    );
  });

  it("warns when the platform construct of another stack is used directly", () => {
    const { stack: platformStack, vpc, app } = stackWithVpc();
    const platform = new CachePlatform(platformStack, "Shared", { stage: "dev", vpc });
    const svc = new Stack(app, "Svc", { env });
    const access = new ServiceCacheAccess(svc, "Cache", {
      platform,
      service: { name: "orders", access: "read-write" },
    });
    const warnings = access.node.metadata
      .filter((m) => m.type === "aws:cdk:warning")
      .map((m) => String(m.data));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /use|import it with CachePlatform.fromSsmParameters/);
    const local = new ServiceCacheAccess(platformStack, "Local", {
      platform,
      service: { name: "local", access: "read-write" },
    });
    assert.equal(local.node.metadata.filter((m) => m.type === "aws:cdk:warning").length, 0);
  });
});
