/**
 * The cdk-nag (AwsSolutions) findings the example accepts, each acknowledged with its reason through
 * CDK's `Validations.of(...).acknowledge` (cdk-nag v3). Anything not acknowledged here fails synthesis
 * and the nag test.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import type { PlatformStack } from "./platform-stack.js";
import type { ServiceStack } from "./service-stack.js";

/**
 * One accepted finding: the rule as `<plugin>::<rule>[<finding>]` (what `cdk synth` prints after
 * "Acknowledge with") and why it is accepted.
 */
export interface AcceptedFinding {
  readonly id: string;
  readonly reason: string;
}

const LAMBDA_MANAGED_POLICIES = [
  "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
  "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
];

const MANAGED_POLICY_REASON =
  "AWS managed Lambda execution policies (CloudWatch Logs; ENI management for functions in a VPC) are the " +
  "documented minimum for Lambda and grant no data access.";

/** Findings accepted on a service stack's resources, by construct. */
export function serviceFindings(stack: ServiceStack): [IConstruct, AcceptedFinding[]][] {
  const lambdaRoles: AcceptedFinding[] = LAMBDA_MANAGED_POLICIES.map((policy) => ({
    id: `AwsSolutions::AwsSolutions-IAM4[${policy}]`,
    reason: MANAGED_POLICY_REASON,
  }));
  return [
    [stack.function, lambdaRoles],
    [Stack.of(stack).node.findChild("CacheplaneMembershipHandler"), lambdaRoles],
    [Stack.of(stack).node.findChild("CacheplaneRotationHandler"), lambdaRoles],
  ];
}

/** Findings accepted on the platform stack (none). */
export function platformFindings(_stack: PlatformStack): [IConstruct, AcceptedFinding[]][] {
  return [];
}

/** Records the acknowledgements on the constructs. */
export function acknowledge(findings: [IConstruct, AcceptedFinding[]][]): void {
  for (const [construct, accepted] of findings) Validations.of(construct).acknowledge(...accepted);
}
