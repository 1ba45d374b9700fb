/**
 * The Lambda function behind `Custom::CacheplaneUserGroupMembership`: one per stack. Its code is the
 * bundle of `handler/index.ts`: prebuilt in the installed package, or bundled with the local esbuild at
 * synth time when running from source (see `handler-bundle.ts`; no Docker either way). Each membership
 * grants it exactly the ElastiCache (and, when it owns the user, Secrets Manager) permissions it needs.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { Duration, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  HANDLER_BUNDLING,
  MEMBERSHIP_HANDLER_ENTRY,
  PREBUILT_HANDLER_DIR,
  PREBUILT_HANDLER_FILE,
  RUNNING_FROM_SOURCE,
  SOURCE_CONDITION,
} from "./handler-bundle.js";

export { MEMBERSHIP_HANDLER_ENTRY };

const HANDLER_ID = "CacheplaneMembershipHandler";
const LOCK_FILES = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock"];

function findLockFile(from: string): string | undefined {
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

  /** The Lambda function (a `NodejsFunction` when bundled at synth time from source). */
  readonly function: lambda.Function;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const common = {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(15),
      description: "Cacheplane: adds service users to the shared cache's user group (custom resource)",
    };
    this.function = RUNNING_FROM_SOURCE
      ? bundledAtSynth(this, common)
      : new lambda.Function(this, "Function", {
          ...common,
          code: lambda.Code.fromAsset(prebuiltHandlerDir()),
          handler: "index.handler", // PREBUILT_HANDLER_FILE
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

/** The prebuilt bundle's directory; a clear error when the installed package lacks it. */
function prebuiltHandlerDir(): string {
  if (!existsSync(join(PREBUILT_HANDLER_DIR, PREBUILT_HANDLER_FILE))) {
    throw new Error(
      `@cacheplane/cdk: the membership handler bundle ${join(PREBUILT_HANDLER_DIR, PREBUILT_HANDLER_FILE)} is missing; ` +
        "reinstall @cacheplane/cdk (in the Cacheplane repository, run `npm run build`)",
    );
  }
  return PREBUILT_HANDLER_DIR;
}

/** From source: esbuild bundles the TypeScript entry at synth time, Cacheplane packages from source. */
function bundledAtSynth(
  scope: Construct,
  common: Omit<lambda.FunctionProps, "code" | "handler">,
): lambda.Function {
  const lockFile = findLockFile(dirname(MEMBERSHIP_HANDLER_ENTRY));
  return new nodejs.NodejsFunction(scope, "Function", {
    ...common,
    entry: MEMBERSHIP_HANDLER_ENTRY,
    handler: "handler",
    ...(lockFile ? { depsLockFilePath: lockFile } : {}),
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: HANDLER_BUNDLING.target,
      minify: HANDLER_BUNDLING.minify,
      sourceMap: false,
      externalModules: [...HANDLER_BUNDLING.external],
      banner: HANDLER_BUNDLING.banner,
      esbuildArgs: { "--conditions": SOURCE_CONDITION },
      forceDockerBundling: false,
    },
  });
}
