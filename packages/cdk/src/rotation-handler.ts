/**
 * The Lambda function that rotates service passwords in Secrets Manager (one per stack, shared by the
 * stack's `ServiceCacheAccess({ rotation })`). Its code is the bundle of `handler/rotation-index.ts`:
 * prebuilt in the installed package, or bundled at synth time from source (see `handler-bundle.ts`).
 * It runs Cacheplane's two-password rotation: the user accepts the new and the previous password, so
 * running clients are never cut off (they re-read the secret on WRONGPASS).
 */
import { Duration, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { packagedFunction, ROTATION_HANDLER, stackSingleton } from "./handler-bundle.js";

const HANDLER_ID = "CacheplaneRotationHandler";

/** Path of the rotation handler's TypeScript entry. */
export const ROTATION_HANDLER_ENTRY = ROTATION_HANDLER.entry;

/** The stack's password rotation function. */
export class RotationHandler extends Construct {
  /** The handler of `scope`'s stack, created on first use. */
  static of(scope: Construct): RotationHandler {
    return stackSingleton(scope, HANDLER_ID, (stack, id) => new RotationHandler(stack, id));
  }

  /** The Lambda function (a `NodejsFunction` when bundled at synth time from source). */
  readonly function: lambda.Function;
  /** Its log group (managed by the stack, with a retention). */
  readonly logGroup: logs.LogGroup;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    ({ function: this.function, logGroup: this.logGroup } = packagedFunction(this, ROTATION_HANDLER, {
      timeout: Duration.minutes(5),
      description: "Cacheplane: rotates service passwords (two valid passwords during a rotation)",
    }));
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
