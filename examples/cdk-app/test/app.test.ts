/**
 * The example app, synthesized in-process (Lambda bundling skipped: these tests look at templates).
 * One synthesis per engine, shared by every assertion.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, type CfnElement, type Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildExampleApp } from "../src/app.js";
import { exampleServices } from "../src/services.js";

function synth(engine: "valkey" | "redis") {
  const app = new App({ builtinCloudFormationValidation: false, context: { "aws:cdk:bundling-stacks": [] } });
  const built = buildExampleApp(app, { engine });
  const stacks: Stack[] = [built.platform, ...built.services];
  const templates = new Map(stacks.map((s) => [s.stackName, Template.fromStack(s)]));
  return { built, stacks, templates };
}

const valkey = synth("valkey");
const all = [...valkey.templates.values()];
const count = (type: string) => all.reduce((n, t) => n + Object.keys(t.findResources(type)).length, 0);

describe("example app (valkey)", () => {
  it("has exactly one ElastiCache Serverless cache, in the platform stack", () => {
    assert.equal(count("AWS::ElastiCache::ServerlessCache"), 1);
    valkey.templates.get("CacheplanePlatform-dev")!.resourceCountIs("AWS::ElastiCache::ServerlessCache", 1);
  });

  it("has one user per service (a Valkey user group needs no default user)", () => {
    assert.equal(count("AWS::ElastiCache::User"), exampleServices.length);
    const ids = all.flatMap((t) =>
      Object.values(t.findResources("AWS::ElastiCache::User")).map((u) => u.Properties.UserId),
    );
    assert.deepEqual(ids.sort(), ["catalog", "ordersapi"]);
  });

  it("generates each secret: the template has no password, users take dynamic references", () => {
    for (const stack of valkey.built.services) {
      const json = JSON.stringify(valkey.templates.get(stack.stackName)!.toJSON());
      const secret = Object.values(
        valkey.templates.get(stack.stackName)!.findResources("AWS::SecretsManager::Secret"),
      )[0]!;
      assert.equal(secret.Properties.GenerateSecretString.GenerateStringKey, "password");
      assert.ok(
        !JSON.stringify(secret.Properties.GenerateSecretString.SecretStringTemplate).includes("password"),
      );
      const users = Object.values(
        valkey.templates.get(stack.stackName)!.findResources("AWS::ElastiCache::User"),
      );
      for (const user of users) {
        const passwords = user.Properties.AuthenticationMode.Passwords as unknown[];
        assert.equal(passwords.length, 1);
        const [, parts] = (passwords[0] as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
        assert.deepEqual(parts[0], "{{resolve:secretsmanager:");
        assert.deepEqual(Object.keys(parts[1] as object), ["Ref"]);
        assert.deepEqual(parts[2], ":SecretString:password::}}");
      }
      assert.doesNotMatch(json, /"password"\s*:\s*"/, "no password value anywhere");
    }
  });

  it("lets each Lambda read its own secret and nothing else", () => {
    for (const stack of valkey.built.services) {
      const template = valkey.templates.get(stack.stackName)!;
      const logicalId = (c: { node: { defaultChild?: unknown } }) =>
        stack.getLogicalId(c.node.defaultChild as CfnElement);
      const secretId = logicalId(stack.access.secret);
      const roleId = logicalId(stack.function.role!);
      const statements = Object.values(template.findResources("AWS::IAM::Policy"))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      const secretStatements = statements.filter((s) => JSON.stringify(s.Action).includes("secretsmanager:"));
      assert.deepEqual(secretStatements, [
        {
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          Effect: "Allow",
          Resource: { Ref: secretId },
        },
      ]);
      const fn = template.findResources("AWS::Lambda::Function")[logicalId(stack.function)]!;
      assert.deepEqual(fn.Properties.Environment.Variables.REDIS_SECRET_ARN, { Ref: secretId });
    }
    // No policy anywhere reaches another stack's secret.
    assert.ok(all.every((t) => !JSON.stringify(t.toJSON()).includes("Fn::ImportValue")));
  });
});

describe("example app (redis)", () => {
  it("adds the disabled default user that Redis OSS user groups require", () => {
    const redis = synth("redis");
    const users = [...redis.templates.values()].flatMap((t) =>
      Object.values(t.findResources("AWS::ElastiCache::User")),
    );
    assert.equal(users.length, exampleServices.length + 1);
    const defaults = users.filter((u) => u.Properties.UserName === "default");
    assert.equal(defaults.length, 1);
    assert.equal(defaults[0]!.Properties.AccessString, "off -@all");
    assert.ok(users.every((u) => u.Properties.Engine === "redis"));
  });
});
