/**
 * The Lambda function behind `Custom::CacheplaneUserGroupMembership`: one per stack. Its code is the
 * bundle of `handler/index.ts`: prebuilt in the installed package, or bundled with the local esbuild at
 * synth time when running from source (see `handler-bundle.ts`; no Docker either way). Each membership
 * grants it exactly the ElastiCache (and, when it owns the user, Secrets Manager) permissions it needs.
 */
import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  HANDLER_LOG_RETENTION,
  MEMBERSHIP_HANDLER,
  packagedFunction,
  stackSingleton,
} from "./handler-bundle.js";

export { findLockFile, MEMBERSHIP_HANDLER_ENTRY } from "./handler-bundle.js";

const HANDLER_ID = "CacheplaneMembershipHandler";

/** The handler's Lambda timeout (the most Lambda allows): its retries stop 30 s before it. */
export const MEMBERSHIP_HANDLER_TIMEOUT = Duration.minutes(15);
/**
 * How long CloudFormation waits for a membership response before it fails the resource: the Lambda
 * timeout plus a margin. Without it CloudFormation would wait an hour for a handler that crashed.
 */
export const MEMBERSHIP_SERVICE_TIMEOUT = Duration.minutes(20);
/** Days the handler's log events are kept. */
export const MEMBERSHIP_LOG_RETENTION = HANDLER_LOG_RETENTION;

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
    return stackSingleton(scope, HANDLER_ID, (stack, id) => new MembershipHandler(stack, id));
  }

  /** The Lambda function (a `NodejsFunction` when bundled at synth time from source). */
  readonly function: lambda.Function;
  /** The function's log group (managed by the stack, with a retention). */
  readonly logGroup: logs.LogGroup;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    ({ function: this.function, logGroup: this.logGroup } = packagedFunction(this, MEMBERSHIP_HANDLER, {
      timeout: MEMBERSHIP_HANDLER_TIMEOUT,
      description: "Cacheplane: adds service users to the shared cache's user group (custom resource)",
    }));
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
