/**
 * The Lambda function that rotates service passwords in Secrets Manager (one per stack, shared by the
 * stack's `ServiceCacheAccess({ rotation })`), bundled from `handler/rotation-index.ts` with esbuild at
 * synth time. It runs Cacheplane's two-password rotation: the user accepts the new and the previous
 * password, so running clients are never cut off (they re-read the secret on WRONGPASS).
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { findLockFile, MEMBERSHIP_LOG_RETENTION } from "./membership-handler.js";

const HANDLER_ID = "CacheplaneRotationHandler";

/** Path of the rotation handler's TypeScript entry. */
export const ROTATION_HANDLER_ENTRY = fileURLToPath(new URL("./handler/rotation-index.ts", import.meta.url));

/** The stack's password rotation function. */
export class RotationHandler extends Construct {
  /** The handler of `scope`'s stack, created on first use. */
  static of(scope: Construct): RotationHandler {
    const stack = Stack.of(scope);
    return (
      (stack.node.tryFindChild(HANDLER_ID) as RotationHandler | undefined) ??
      new RotationHandler(stack, HANDLER_ID)
    );
  }

  /** The bundled Lambda function. */
  readonly function: nodejs.NodejsFunction;
  /** Its log group (managed by the stack, with a retention). */
  readonly logGroup: logs.LogGroup;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const lockFile = findLockFile(dirname(ROTATION_HANDLER_ENTRY));
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: MEMBERSHIP_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new nodejs.NodejsFunction(this, "Function", {
      entry: ROTATION_HANDLER_ENTRY,
      handler: "handler",
      ...(lockFile ? { depsLockFilePath: lockFile } : {}),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(5),
      logGroup: this.logGroup,
      description: "Cacheplane: rotates service passwords (two valid passwords during a rotation)",
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: false,
        externalModules: ["@aws-sdk/*"],
        banner:
          "import { createRequire as __cpRequire } from 'node:module'; const require = __cpRequire(import.meta.url);",
        forceDockerBundling: false,
      },
    });
    this.invokePermission = new lambda.CfnPermission(this, "SecretsManagerInvoke", {
      action: "lambda:InvokeFunction",
      functionName: this.function.functionArn,
      principal: "secretsmanager.amazonaws.com",
      sourceAccount: Stack.of(this).account,
    });
  }

  /** Secrets Manager's permission to invoke the function. */
  readonly invokePermission: lambda.CfnPermission;

  /**
   * Allows the function to rotate one secret (read it, write and stage versions; decrypt and encrypt
   * with its key) and to set the passwords of its ElastiCache user. Nothing else: the function
   * generates passwords itself, so it needs no `secretsmanager:GetRandomPassword` on `*`.
   */
  grantRotation(userArn: string, secret: secretsmanager.ISecret, key?: kms.IKey): void {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["elasticache:DescribeUsers", "elasticache:ModifyUser"],
        resources: [userArn],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "secretsmanager:PutSecretValue",
          "secretsmanager:UpdateSecretVersionStage",
        ],
        resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
      }),
    );
    // Secrets Manager encrypts and decrypts the versions with the caller's permissions on the key.
    if (key) key.grantEncryptDecrypt(this.function);
  }
}
