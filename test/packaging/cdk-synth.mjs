// Run with plain `node` in the packaging test's fresh project: synthesizes a service stack with the
// installed @cacheplane/cdk, once through its ES module build and once through its CommonJS build
// (`cdk init` apps are CommonJS). For both of the package's own Lambda functions (membership custom
// resource, password rotation) it checks that the prebuilt bundle was found and packaged as the
// function's asset.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as esm from "@cacheplane/cdk";
import { App, Duration, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as lambda from "aws-cdk-lib/aws-lambda";

const commonjs = createRequire(import.meta.url)("@cacheplane/cdk");
const env = { account: "123456789012", region: "eu-west-1" };

for (const [dialect, cdk] of [
  ["esm", esm],
  ["commonjs", commonjs],
]) {
  const outdir = mkdtempSync(join(process.cwd(), `cdk.out-${dialect}-`));
  const app = new App({ outdir, context: { "aws:cdk:enable-asset-metadata": true } });
  const stack = new Stack(app, "Orders", { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, "Vpc", {
    vpcId: "vpc-0123456789abcdef0",
    availabilityZones: ["eu-west-1a", "eu-west-1b"],
    isolatedSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
  });
  const api = new lambda.Function(stack, "Api", {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("exports.handler = async () => ({})"),
    vpc,
  });
  new cdk.ServiceCacheAccess(stack, "Cache", {
    platform: cdk.CachePlatform.fromSsmParameters(stack, "Platform", { stage: "dev" }),
    service: { name: "orders", access: "read-write" },
    functions: [api],
    rotation: Duration.days(30),
  });
  const assembly = app.synth();
  const template = JSON.parse(readFileSync(join(outdir, "Orders.template.json"), "utf8"));
  for (const prefix of ["CacheplaneMembershipHandler", "CacheplaneRotationHandler"]) {
    const functions = Object.entries(template.Resources).filter(
      ([id, resource]) => resource.Type === "AWS::Lambda::Function" && id.startsWith(prefix),
    );
    assert.equal(functions.length, 1, `${dialect}: one ${prefix} function`);
    const [, fn] = functions[0];
    assert.equal(fn.Properties.Handler, "index.handler", `${dialect}: ${prefix} handler name`);
    const assetPath = fn.Metadata?.["aws:asset:path"];
    assert.ok(assetPath, `${dialect}: ${prefix}'s code is a file asset`);
    const bundle = join(assembly.directory, assetPath, "index.mjs");
    assert.ok(existsSync(bundle), `${dialect}: ${bundle} exists`);
    assert.match(
      readFileSync(bundle, "utf8"),
      /export\s*\{[^}]*handler/,
      `${dialect}: the ${prefix} bundle exports handler`,
    );
  }
}
console.log("cdk ok");
