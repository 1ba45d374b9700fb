/**
 * The construct API beyond Lambda functions of this app: imported functions, other consumers (ECS
 * tasks), the reader endpoint, metric helpers, and subnets in distinct availability zones.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { CachePlatform, ServiceCacheAccess } from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };
const newApp = () =>
  new App({ builtinCloudFormationValidation: false, context: { "aws:cdk:bundling-stacks": [] } });

describe("ServiceCacheAccess consumers", () => {
  const app = newApp();
  const stack = new Stack(app, "Consumers", { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, "Vpc", {
    vpcId: "vpc-0123456789abcdef0",
    availabilityZones: ["eu-west-1a", "eu-west-1b"],
    isolatedSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
  });
  const platform = CachePlatform.fromSsmParameters(stack, "Platform", { stage: "dev" });
  const access = new ServiceCacheAccess(stack, "Cache", {
    platform,
    service: { name: "reports", access: "read-only" },
    authentication: "iam",
  });
  const importedSg = ec2.SecurityGroup.fromSecurityGroupId(stack, "ImportedSg", "sg-0imported000000000", {
    mutable: false,
  });
  const imported = lambda.Function.fromFunctionAttributes(stack, "Imported", {
    functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:reports-legacy",
    role: iam.Role.fromRoleArn(stack, "ImportedRole", "arn:aws:iam::123456789012:role/reports-legacy", {
      mutable: true,
    }),
    securityGroup: importedSg,
    sameEnvironment: true,
  });
  access.grantAccess(imported);
  const taskRole = new iam.Role(stack, "TaskRole", {
    assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
  });
  const taskSg = new ec2.SecurityGroup(stack, "TaskSg", { vpc, allowAllOutbound: true });
  access.grantConnect({
    grantPrincipal: taskRole,
    connections: new ec2.Connections({ securityGroups: [taskSg] }),
  });
  const template = Template.fromStack(stack);

  it("grants an imported function and warns that its environment must be set by its owner", () => {
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      SourceSecurityGroupId: "sg-0imported000000000",
      FromPort: 6379,
      ToPort: 6380,
    });
    const warnings = Annotations.fromStack(stack).findWarning("*", Match.stringLikeRegexp("is imported"));
    assert.equal(warnings.length, 1);
    assert.match(
      String(warnings[0]!.entry.data),
      /REDIS_SECRET_ARN, REDIS_AUTH_MODE, REDIS_IAM_CACHE_NAME, REDIS_IAM_USER_ID/,
    );
  });

  it("grants an ECS task role and security group: secret read, elasticache:Connect, ingress", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const taskPolicy = Object.entries(policies).find(([id]) => id.startsWith("TaskRole"))![1];
    const actions = JSON.stringify(taskPolicy.Properties.PolicyDocument.Statement);
    assert.match(actions, /secretsmanager:GetSecretValue/);
    assert.match(actions, /elasticache:Connect/);
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      SourceSecurityGroupId: { "Fn::GetAtt": [Match.stringLikeRegexp("^TaskSg"), "GroupId"] },
      FromPort: 6379,
      ToPort: 6380,
    });
    assert.deepEqual(Object.keys(access.environmentVariables), [
      "REDIS_SECRET_ARN",
      "REDIS_AUTH_MODE",
      "REDIS_IAM_CACHE_NAME",
      "REDIS_IAM_USER_ID",
    ]);
  });

  it("exposes the reader endpoint (port 6380) and metrics of an imported platform", () => {
    assert.equal(platform.readerEndpointPort, "6380");
    assert.equal(platform.readerEndpointAddress, platform.endpointAddress);
    const hits = platform.metricCacheHitCount();
    assert.equal(hits.namespace, "AWS/ElastiCache");
    assert.equal(hits.metricName, "CacheHits");
    assert.equal(hits.statistic, "Sum");
    assert.ok("ServerlessCacheName" in (hits.dimensions ?? {}));
    assert.equal(platform.metricActiveConnections().statistic, "Maximum");
  });
});

describe("CachePlatform API", () => {
  it("exposes the reader endpoint and the alpha's metrics", () => {
    const app = newApp();
    const stack = new Stack(app, "P", { env });
    const vpc = new ec2.Vpc(stack, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "i", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const platform = new CachePlatform(stack, "Cache", { stage: "dev", vpc });
    assert.match(stack.resolve(platform.readerEndpointPort)["Fn::GetAtt"][1], /ReaderEndpoint\.Port/);
    assert.equal(platform.metricCacheHitRate().metricName, "CacheHitRate");
    assert.equal(platform.metricDataStored().statistic, "Maximum");
  });

  it("refuses subnets that share an availability zone, naming both", () => {
    const app = newApp();
    const stack = new Stack(app, "P", { env });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, "Vpc", {
      vpcId: "vpc-0123456789abcdef0",
      availabilityZones: ["eu-west-1a", "eu-west-1b"],
      isolatedSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    });
    const subnets = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0cccccccccccccccc"].map((subnetId, i) =>
      ec2.Subnet.fromSubnetAttributes(stack, `S${i}`, { subnetId, availabilityZone: "eu-west-1a" }),
    );
    assert.throws(
      () => new CachePlatform(stack, "Cache", { stage: "dev", vpc, vpcSubnets: { subnets } }),
      /P\/Cache: subnets subnet-0aaaaaaaaaaaaaaaa and subnet-0cccccccccccccccc are both in eu-west-1a/,
    );
  });
});
