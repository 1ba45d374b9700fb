/**
 * The Lambda function behind `Custom::CacheplaneUserGroupMembership`: one per stack, bundled from
 * `handler/index.ts` with esbuild at synth time (local bundling, no Docker). Each membership grants it
 * exactly the ElastiCache (and, when it owns the user, Secrets Manager) permissions it needs.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

const HANDLER_ID = "CacheplaneMembershipHandler";
const LOCK_FILES = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock"];

/** The handler's Lambda timeout (the most Lambda allows): its retries stop 30 s before it. */
export const MEMBERSHIP_HANDLER_TIMEOUT = Duration.minutes(15);
/**
 * How long CloudFormation waits for a membership response before it fails the resource: the Lambda
 * timeout plus a margin. Without it CloudFormation would wait an hour for a handler that crashed.
 */
export const MEMBERSHIP_SERVICE_TIMEOUT = Duration.minutes(20);
/** Days the handler's log events are kept. */
export const MEMBERSHIP_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/** Path of the handler's TypeScript entry. */
export const MEMBERSHIP_HANDLER_ENTRY = fileURLToPath(new URL("./handler/index.ts", import.meta.url));

/** The nearest lock file above `from` (esbuild bundling needs one). */
export function findLockFile(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    for (const name of LOCK_FILES) if (existsSync(join(dir, name))) return join(dir, name);
    if (dirname(dir) === dir) return undefined;
  }
}

/** What one membership needs the handler to be allowed to do. */
export interface MembershipGrant {
  /** ARN of the platform's user group. */
  userGroupArn: string;
  /** ARN of the service's user. */
  userArn: string;
  /** True when the handler creates and deletes the user itself. */
  manageUser: boolean;
  /**
   * The secret it reads passwords from: to create a user it manages, and to set a user's passwords
   * again when CloudFormation regenerated the secret.
   * @default none (IAM users)
   */
  secret?: secretsmanager.ISecret;
}

/** The stack's membership handler function. */
export class MembershipHandler extends Construct {
  /** The handler of `scope`'s stack, created on first use. */
  static of(scope: Construct): MembershipHandler {
    const stack = Stack.of(scope);
    return (
      (stack.node.tryFindChild(HANDLER_ID) as MembershipHandler | undefined) ??
      new MembershipHandler(stack, HANDLER_ID)
    );
  }

  /** The bundled Lambda function. */
  readonly function: nodejs.NodejsFunction;
  /** The function's log group (managed by the stack, with a retention). */
  readonly logGroup: logs.LogGroup;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const lockFile = findLockFile(dirname(MEMBERSHIP_HANDLER_ENTRY));
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: MEMBERSHIP_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new nodejs.NodejsFunction(this, "Function", {
      entry: MEMBERSHIP_HANDLER_ENTRY,
      handler: "handler",
      ...(lockFile ? { depsLockFilePath: lockFile } : {}),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: MEMBERSHIP_HANDLER_TIMEOUT,
      logGroup: this.logGroup,
      description: "Cacheplane: adds service users to the shared cache's user group (custom resource)",
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: false,
        // The Lambda runtime ships AWS SDK v3.
        externalModules: ["@aws-sdk/*"],
        banner:
          "import { createRequire as __cpRequire } from 'node:module'; const require = __cpRequire(import.meta.url);",
        forceDockerBundling: false,
      },
    });
  }

  /** Allows the handler to manage one membership (and its user, when it owns it). */
  grant(membership: MembershipGrant): void {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["elasticache:DescribeUserGroups", "elasticache:ModifyUserGroup"],
        resources: [membership.userGroupArn],
      }),
    );
    const userActions = [
      "elasticache:DescribeUsers",
      "elasticache:ModifyUser",
      "elasticache:ModifyUserGroup",
    ];
    if (membership.manageUser) {
      userActions.push(
        "elasticache:CreateUser",
        "elasticache:DeleteUser",
        "elasticache:AddTagsToResource",
        "elasticache:ListTagsForResource",
      );
    }
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: userActions, resources: [membership.userArn] }),
    );
    if (membership.secret) membership.secret.grantRead(this.function);
  }
}
