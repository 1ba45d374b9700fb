/**
 * A service stack: one Lambda function in the platform VPC, and the service's access to the shared
 * cache. Everything about the platform comes from its SSM exports.
 */
import { fileURLToPath } from "node:url";
import { CachePlatform, ServiceCacheAccess } from "@cacheplane/cdk";
import type { Engine } from "@cacheplane/core";
import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type { Construct } from "constructs";
import { importNetwork } from "./network-exports.js";
import type { ExampleService } from "./services.js";

export interface ServiceStackProps extends StackProps {
  readonly stage: string;
  readonly engine: Engine;
  readonly service: ExampleService;
}

export class ServiceStack extends Stack {
  readonly function: nodejs.NodejsFunction;
  readonly access: ServiceCacheAccess;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const vpc = importNetwork(this, this, props.stage);
    const platform = CachePlatform.fromSsmParameters(this, "Platform", {
      stage: props.stage,
      engine: props.engine,
    });

    this.function = new nodejs.NodejsFunction(this, "Handler", {
      entry: fileURLToPath(new URL(`./handlers/${props.service.handlerFile}`, import.meta.url)),
      handler: "handler",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [
        new ec2.SecurityGroup(this, "HandlerSecurityGroup", {
          vpc,
          description: `${props.service.declaration.name} handler`,
          allowAllOutbound: true,
        }),
      ],
      environment: { CACHE_STORAGE_TYPE: "redis", CACHE_FALLBACK: "memory" },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: true,
        externalModules: ["@aws-sdk/*"],
        // ioredis is CommonJS: give it `require` inside the ES module bundle.
        banner:
          "import { createRequire as __cpRequire } from 'node:module'; const require = __cpRequire(import.meta.url);",
        // This repository bundles @cacheplane/client from its TypeScript sources (docs/decisions/0011).
        // An app that installs the packages from the registry leaves this line out.
        esbuildArgs: { "--conditions": "@cacheplane/source" },
      },
    });

    this.access = new ServiceCacheAccess(this, "Cache", {
      platform,
      service: props.service.declaration,
      functions: [this.function],
      // Secrets Manager rotates the password monthly with Cacheplane's two-password rotation.
      rotation: Duration.days(30),
    });
  }
}
