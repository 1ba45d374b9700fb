/** ServiceCacheAccess: user, secret, membership, grants. One app, synthesized once. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildAccessString } from "@cacheplane/core";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { CachePlatform, ServiceCacheAccess } from "../src/index.js";

const env = { account: "123456789012", region: "eu-west-1" };
const app = new App({ builtinCloudFormationValidation: false, context: { "aws:cdk:bundling-stacks": [] } });

function serviceFunction(stack: Stack, id: string): lambda.Function {
  const vpc = ec2.Vpc.fromVpcAttributes(stack, `${id}Vpc`, {
    vpcId: "vpc-0123456789abcdef0",
    availabilityZones: ["eu-west-1a", "eu-west-1b"],
    isolatedSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
  });
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("exports.handler = async () => ({})"),
    vpc,
  });
}

// Service stack 1: password auth, user owned by the stack (the default).
const orders = new Stack(app, "Orders", { env });
const ordersFn = serviceFunction(orders, "Api");
const otherFn = serviceFunction(orders, "Unrelated");
const ordersAccess = new ServiceCacheAccess(orders, "Cache", {
  platform: CachePlatform.fromSsmParameters(orders, "Platform", { stage: "dev" }),
  service: { name: "orders", access: "read-write", sharedKeyspaces: ["common"] },
  functions: [ordersFn],
});

// Service stack 2: one IAM-auth service and one whose user the handler owns; one handler for both.
const more = new Stack(app, "More", { env });
const morePlatform = CachePlatform.fromSsmParameters(more, "Platform", { stage: "dev" });
const reportsFn = serviceFunction(more, "Reports");
const billingFn = serviceFunction(more, "Billing");
new ServiceCacheAccess(more, "ReportsCache", {
  platform: morePlatform,
  service: { name: "reports", access: "read-only" },
  authentication: "iam",
  functions: [reportsFn],
});
const billing = new ServiceCacheAccess(more, "BillingCache", {
  platform: morePlatform,
  service: { name: "billing", access: "read-write" },
  userManagement: "custom-resource",
});
billing.grantAccess(billingFn);

// Service stack 3: password rotation on AWS.
const rotating = new Stack(app, "Rotating", { env });
const rotatingAccess = new ServiceCacheAccess(rotating, "Cache", {
  platform: CachePlatform.fromSsmParameters(rotating, "Platform", { stage: "dev" }),
  service: { name: "payments", access: "read-write" },
  rotation: Duration.days(30),
});

const ordersTemplate = Template.fromStack(orders);
const moreTemplate = Template.fromStack(more);
const ordersJson = ordersTemplate.toJSON();

/** The literal text of an Fn::Join, with references written as ${Ref}. */
function joined(value: unknown): string {
  const join = (value as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
  return join[1].map((p) => (typeof p === "string" ? p : `\${${JSON.stringify(p)}}`)).join(join[0]);
}

function logicalId(template: Template, type: string, pathPart: string): string {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.includes(pathPart));
  assert.equal(found.length, 1, `one ${type} matching ${pathPart}`);
  return found[0]![0];
}

describe("ServiceCacheAccess: secret", () => {
  it("generates the password into a template holding host, port, username, keyspace, tls", () => {
    ordersTemplate.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: "/services/orders/redis/orders",
      GenerateSecretString: {
        GenerateStringKey: "password",
        PasswordLength: 40,
        ExcludePunctuation: true,
        IncludeSpace: false,
        ExcludeCharacters: ' ,"/@',
        RequireEachIncludedType: true,
      },
      Tags: Match.arrayWith([
        { Key: "cacheplane:managed", Value: "cloudformation" },
        { Key: "cacheplane:userId", Value: "orders" },
      ]),
    });
    const secret = Object.values(ordersTemplate.findResources("AWS::SecretsManager::Secret"))[0]!;
    const text = joined(secret.Properties.GenerateSecretString.SecretStringTemplate);
    assert.match(
      text,
      /^\{"host":"\$\{\{"Ref":"SsmParameterValueplatformdeveuwest1redissharedendpoint\w+"\}\}",/,
    );
    assert.match(
      text,
      /"port":\$\{\{"Ref":"SsmParameterValueplatformdeveuwest1redissharedport\w+"\}\},/,
      "port is a number",
    );
    assert.ok(
      text.endsWith(
        '"username":"orders","keyspace":"orders","tls":true,"cluster":true,"engine":"valkey","sharedKeyspaces":["common"],' +
          `"user_arn":"arn:\${{"Ref":"AWS::Partition"}}:elasticache:eu-west-1:123456789012:user:orders"}`,
      ),
      text,
    );
    assert.ok(!text.includes("password"), "no password in the template: Secrets Manager generates it");
  });

  it("never puts a plaintext password in the template: the user takes a dynamic reference", () => {
    const secretId = logicalId(ordersTemplate, "AWS::SecretsManager::Secret", "CacheSecret");
    const user = Object.values(ordersTemplate.findResources("AWS::ElastiCache::User"))[0]!;
    const [password] = user.Properties.AuthenticationMode.Passwords;
    assert.equal(
      joined(password),
      `{{resolve:secretsmanager:\${{"Ref":"${secretId}"}}:SecretString:password::}}`,
    );
    const passwords = JSON.stringify(ordersJson).match(/"Passwords":\[[^\]]*\]/g) ?? [];
    assert.equal(passwords.length, 1);
    assert.ok(passwords.every((p) => p.includes("{{resolve:secretsmanager:")));
  });
});

describe("ServiceCacheAccess: user and membership", () => {
  it("creates the user with core's user id and access string, tagged as owned by CloudFormation", () => {
    ordersTemplate.resourceCountIs("AWS::ElastiCache::User", 1);
    ordersTemplate.hasResourceProperties("AWS::ElastiCache::User", {
      UserId: "orders",
      UserName: "orders",
      Engine: "valkey",
      AccessString: buildAccessString({
        keyspace: "orders",
        sharedKeyspaces: ["common"],
        access: "read-write",
      }),
      AuthenticationMode: { Type: "password" },
      Tags: Match.arrayWith([{ Key: "cacheplane:managed", Value: "cloudformation" }]),
    });
    assert.equal(ordersAccess.service.userId, "orders");
  });

  it("joins the platform's user group through the custom resource, after the user exists", () => {
    const userId = logicalId(ordersTemplate, "AWS::ElastiCache::User", "CacheUser");
    ordersTemplate.hasResource("Custom::CacheplaneUserGroupMembership", {
      DependsOn: [userId],
      Properties: {
        ServiceToken: { "Fn::GetAtt": [Match.stringLikeRegexp("^CacheplaneMembershipHandler"), "Arn"] },
        UserGroupId: {
          Ref: Match.stringLikeRegexp("^SsmParameterValueplatformdeveuwest1redisshareduserGroupId"),
        },
        UserId: "orders",
        Engine: "valkey",
        Service: "orders",
        Keyspace: "orders",
        AccessString: ordersAccess.service.accessString,
        ManageUser: "false",
        Authentication: "password",
        SecretArn: { Ref: logicalId(ordersTemplate, "AWS::SecretsManager::Secret", "CacheSecret") },
        SecretTemplate: Match.objectLike({ "Fn::Join": Match.anyValue() }),
      },
    });
  });

  it("gives CloudFormation a service timeout and the handler a managed log group with retention", () => {
    ordersTemplate.hasResourceProperties("Custom::CacheplaneUserGroupMembership", { ServiceTimeout: "1200" });
    const logGroupId = logicalId(ordersTemplate, "AWS::Logs::LogGroup", "CacheplaneMembershipHandler");
    ordersTemplate.hasResource("AWS::Logs::LogGroup", {
      Properties: { RetentionInDays: 90 },
      DeletionPolicy: "Delete",
    });
    ordersTemplate.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("^Cacheplane: adds service users"),
      LoggingConfig: { LogGroup: { Ref: logGroupId } },
    });
  });

  it("bundles one handler per stack with only the ElastiCache permissions the memberships need", () => {
    ordersTemplate.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("^Cacheplane: adds service users"),
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Timeout: 900,
    });
    const policyId = logicalId(ordersTemplate, "AWS::IAM::Policy", "CacheplaneMembershipHandler");
    const policy = ordersTemplate.findResources("AWS::IAM::Policy")[policyId]!;
    const statements = policy.Properties.PolicyDocument.Statement;
    assert.deepEqual(statements[0].Action, ["elasticache:DescribeUserGroups", "elasticache:ModifyUserGroup"]);
    assert.match(statements[0].Resource.Ref, /^SsmParameterValueplatformdeveuwest1redisshareduserGroupArn/);
    assert.deepEqual(statements[1].Action, [
      "elasticache:DescribeUsers",
      "elasticache:ModifyUser",
      "elasticache:ModifyUserGroup",
    ]);
    assert.match(joined(statements[1].Resource), /:elasticache:eu-west-1:123456789012:user:orders$/);
    const secretId = logicalId(ordersTemplate, "AWS::SecretsManager::Secret", "CacheSecret");
    assert.deepEqual(
      statements.slice(2),
      [
        {
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          Effect: "Allow",
          Resource: { Ref: secretId },
        },
      ],
      "read on this service's secret only (to re-sync passwords after a regeneration)",
    );

    moreTemplate.resourcePropertiesCountIs(
      "AWS::Lambda::Function",
      { Description: Match.stringLikeRegexp("^Cacheplane: adds service users") },
      1,
    );
  });
});

describe("ServiceCacheAccess: the service's functions", () => {
  it("injects REDIS_SECRET_ARN and grants read on that secret only", () => {
    const secretId = logicalId(ordersTemplate, "AWS::SecretsManager::Secret", "CacheSecret");
    const fnId = logicalId(ordersTemplate, "AWS::Lambda::Function", "Api");
    const fn = ordersTemplate.findResources("AWS::Lambda::Function")[fnId]!;
    assert.deepEqual(fn.Properties.Environment.Variables, { REDIS_SECRET_ARN: { Ref: secretId } });
    const policies = Object.values(ordersTemplate.findResources("AWS::IAM::Policy")).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes("ApiServiceRole"),
    );
    assert.equal(policies.length, 1);
    assert.deepEqual(policies[0]!.Properties.PolicyDocument.Statement, [
      {
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Effect: "Allow",
        Resource: { Ref: secretId },
      },
    ]);
    const unrelated =
      ordersTemplate.findResources("AWS::Lambda::Function")[
        logicalId(ordersTemplate, "AWS::Lambda::Function", "Unrelated")
      ]!;
    assert.equal(unrelated.Properties.Environment, undefined, "functions not passed get nothing");
    assert.ok(otherFn);
  });

  it("opens the cache ports 6379-6380 from the function's security group only", () => {
    ordersTemplate.resourceCountIs("AWS::EC2::SecurityGroupIngress", 1);
    ordersTemplate.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      IpProtocol: "tcp",
      FromPort: 6379,
      ToPort: 6380,
      GroupId: {
        Ref: Match.stringLikeRegexp("^SsmParameterValueplatformdeveuwest1redissharedsecurityGroupId"),
      },
      SourceSecurityGroupId: { "Fn::GetAtt": [Match.stringLikeRegexp("^ApiSecurityGroup"), "GroupId"] },
    });
  });
});

describe("ServiceCacheAccess: IAM authentication and handler-owned users", () => {
  it("IAM auth: an IAM user, elasticache:Connect on cache and user, and the IAM variables", () => {
    moreTemplate.hasResourceProperties("AWS::ElastiCache::User", {
      UserId: "reports",
      AuthenticationMode: { Type: "iam" },
    });
    const fnId = logicalId(moreTemplate, "AWS::Lambda::Function", "Reports");
    const fn = moreTemplate.findResources("AWS::Lambda::Function")[fnId]!;
    assert.equal(fn.Properties.Environment.Variables.REDIS_AUTH_MODE, "iam");
    assert.equal(fn.Properties.Environment.Variables.REDIS_IAM_USER_ID, "reports");
    assert.match(fn.Properties.Environment.Variables.REDIS_IAM_CACHE_NAME.Ref, /serverlessCacheName/);
    const policy = Object.values(moreTemplate.findResources("AWS::IAM::Policy")).find((p) =>
      JSON.stringify(p.Properties.Roles).includes("ReportsServiceRole"),
    )!;
    const connect = policy.Properties.PolicyDocument.Statement.find(
      (s: { Action: unknown }) => s.Action === "elasticache:Connect",
    );
    assert.equal(connect.Resource.length, 2);
    assert.match(joined(connect.Resource[0]), /:serverlesscache:\$\{.*serverlessCacheName/);
    assert.match(joined(connect.Resource[1]), /:user:reports$/);
  });

  it("handler-owned user: no user resource, the handler may create/delete it and read its secret", () => {
    const users = Object.values(moreTemplate.findResources("AWS::ElastiCache::User"));
    assert.deepEqual(
      users.map((u) => u.Properties.UserId),
      ["reports"],
    );
    const secretId = logicalId(moreTemplate, "AWS::SecretsManager::Secret", "BillingCache");
    moreTemplate.hasResourceProperties("Custom::CacheplaneUserGroupMembership", {
      UserId: "billing",
      ManageUser: "true",
      SecretArn: { Ref: secretId },
    });
    const handlerPolicy =
      moreTemplate.findResources("AWS::IAM::Policy")[
        logicalId(moreTemplate, "AWS::IAM::Policy", "CacheplaneMembershipHandler")
      ]!;
    const statements = handlerPolicy.Properties.PolicyDocument.Statement as {
      Action: string[];
      Resource: unknown;
    }[];
    const billingUser = statements.find((s) => JSON.stringify(s.Resource).includes(":user:billing"))!;
    assert.ok(
      billingUser.Action.includes("elasticache:CreateUser") &&
        billingUser.Action.includes("elasticache:DeleteUser"),
    );
    const reportsUser = statements.find((s) => JSON.stringify(s.Resource).includes(":user:reports"))!;
    assert.ok(
      !reportsUser.Action.includes("elasticache:CreateUser"),
      "stack-owned users are never created by the handler",
    );
    assert.ok(
      statements.some(
        (s) =>
          JSON.stringify(s).includes("secretsmanager:GetSecretValue") &&
          JSON.stringify(s.Resource) === JSON.stringify({ Ref: secretId }),
      ),
    );
  });
});

describe("ServiceCacheAccess: rotation", () => {
  const template = Template.fromStack(rotating);

  it("puts user_arn into the secret (password auth) and schedules Cacheplane's rotation function", () => {
    const secret = Object.values(template.findResources("AWS::SecretsManager::Secret"))[0]!;
    const text = joined(secret.Properties.GenerateSecretString.SecretStringTemplate);
    assert.match(text, /"user_arn":"arn:\$\{.*\}:elasticache:eu-west-1:123456789012:user:payments"/);
    const fnId = logicalId(template, "AWS::Lambda::Function", "CacheplaneRotationHandler");
    template.hasResourceProperties("AWS::SecretsManager::RotationSchedule", {
      RotationLambdaARN: { "Fn::GetAtt": [fnId, "Arn"] },
      RotationRules: { ScheduleExpression: "rate(30 days)" },
    });
    assert.ok(rotatingAccess.rotationSchedule);
  });

  it("lets the function set only this user's passwords, and read and stage only this secret", () => {
    const policyId = logicalId(template, "AWS::IAM::Policy", "CacheplaneRotationHandler");
    const statements = template.findResources("AWS::IAM::Policy")[policyId]!.Properties.PolicyDocument
      .Statement as { Action: string | string[]; Resource: unknown }[];
    const elasticache = statements.find((s) => JSON.stringify(s.Action).includes("elasticache:"))!;
    assert.deepEqual(elasticache.Action, ["elasticache:DescribeUsers", "elasticache:ModifyUser"]);
    assert.match(JSON.stringify(elasticache.Resource), /:user:payments"/);
    const secrets = statements.filter((s) =>
      JSON.stringify(s.Action).includes("secretsmanager:PutSecretValue"),
    );
    assert.ok(secrets.length > 0);
    for (const s of secrets) assert.notEqual(s.Resource, "*", "secret actions are scoped to the secret");
    assert.ok(
      statements.every((s) => s.Resource !== "*"),
      "no wildcard resource (the function generates passwords itself: no GetRandomPassword)",
    );
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Principal: "secretsmanager.amazonaws.com",
      SourceAccount: "123456789012",
    });
  });

  it("rejects rotation with IAM authentication", () => {
    const stack = new Stack(new App(), "Bad", { env });
    assert.throws(
      () =>
        new ServiceCacheAccess(stack, "Cache", {
          platform: CachePlatform.fromSsmParameters(stack, "Platform", { stage: "dev" }),
          service: { name: "x", access: "read-only" },
          authentication: "iam",
          rotation: Duration.days(7),
        }),
      /Bad\/Cache: rotation needs authentication "password"/,
    );
  });
});
