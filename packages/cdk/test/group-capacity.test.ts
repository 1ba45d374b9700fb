/**
 * ElastiCache's 100-users-per-group quota at synth time: the construct that would be the 101st member
 * is named, a Redis OSS group's default user counts, and so do the platform's own users.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { CachePlatform, ServiceCacheAccess } from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };

function newApp() {
  return new App({ builtinCloudFormationValidation: false, context: { "aws:cdk:bundling-stacks": [] } });
}

function addServices(
  stack: Stack,
  platform: CachePlatform | ReturnType<typeof CachePlatform.fromSsmParameters>,
  n: number,
) {
  for (let i = 0; i < n; i++) {
    new ServiceCacheAccess(stack, `Svc${i}`, { platform, service: { name: `svc${i}`, access: "read-only" } });
  }
}

function synthError(app: App): string {
  try {
    app.synth();
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

describe("user group quota at synth", () => {
  it("a Valkey group takes 100 services; the 101st is named", () => {
    const app = newApp();
    const platformStack = new Stack(app, "Platform", { env });
    const vpc = new ec2.Vpc(platformStack, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "i", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    new CachePlatform(platformStack, "Cache", { stage: "dev", vpc });
    const services = new Stack(app, "Services", { env });
    const imported = CachePlatform.fromSsmParameters(services, "Platform", { stage: "dev" });
    addServices(services, imported, 100);
    assert.equal(synthError(app), "", "100 members fit");

    const app2 = newApp();
    const p2 = new Stack(app2, "Platform", { env });
    new CachePlatform(p2, "Cache", {
      stage: "dev",
      vpc: new ec2.Vpc(p2, "Vpc", {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: "i", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      }),
    });
    const s2 = new Stack(app2, "Services", { env });
    addServices(s2, CachePlatform.fromSsmParameters(s2, "Platform", { stage: "dev" }), 101);
    const message = synthError(app2);
    assert.match(message, /Services\/Svc100/);
    assert.match(message, /user 101 of the user group of platform dev\/eu-west-1\/shared/);
    assert.match(message, /100 users per user group/);
    assert.doesNotMatch(message, /Services\/Svc99\b/, "only the construct past the quota");
  });

  it("a Redis OSS group's default user counts: the 100th service is one too many", () => {
    const app = newApp();
    const stack = new Stack(app, "Services", { env });
    const platform = CachePlatform.fromSsmParameters(stack, "Platform", { stage: "dev", engine: "redis" });
    addServices(stack, platform, 100);
    const message = synthError(app);
    assert.match(message, /Services\/Svc99/);
    assert.match(message, /user 101 .*default user included/);
  });
});
