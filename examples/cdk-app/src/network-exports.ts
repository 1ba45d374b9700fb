/**
 * The example's network, shared the same way as the cache: the platform stack publishes its VPC id
 * and isolated subnet ids as SSM parameters, service stacks read them at deploy time. No hard
 * cross-stack reference, no VPC lookup at synth time (works offline, no AWS account).
 */
import { type Stack, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ssm from "aws-cdk-lib/aws-ssm";
import type { Construct } from "constructs";

/** Subnets per service VPC import: the platform VPC spans this many AZs. */
export const NETWORK_AZ_COUNT = 2;

function base(stage: string, region: string): string {
  return `/platform/${stage}/${region}/network`;
}

/** Publishes the VPC id and its isolated subnet ids. */
export function publishNetwork(stack: Stack, stage: string, vpc: ec2.IVpc): void {
  const prefix = base(stage, stack.region);
  new ssm.StringParameter(stack, "VpcIdParameter", {
    parameterName: `${prefix}/vpcId`,
    stringValue: vpc.vpcId,
  });
  vpc.isolatedSubnets.forEach((subnet, i) => {
    new ssm.StringParameter(stack, `IsolatedSubnet${i}Parameter`, {
      parameterName: `${prefix}/isolatedSubnet/${i}`,
      stringValue: subnet.subnetId,
    });
  });
}

/** The platform VPC, as a service stack sees it. */
export function importNetwork(scope: Construct, stack: Stack, stage: string): ec2.IVpc {
  const prefix = base(stage, stack.region);
  const read = (name: string) => ssm.StringParameter.valueForStringParameter(scope, `${prefix}/${name}`);
  const vpc = ec2.Vpc.fromVpcAttributes(scope, "Vpc", {
    vpcId: read("vpcId"),
    availabilityZones: stack.availabilityZones.slice(0, NETWORK_AZ_COUNT),
    isolatedSubnetIds: Array.from({ length: NETWORK_AZ_COUNT }, (_, i) => read(`isolatedSubnet/${i}`)),
  });
  Validations.of(vpc).acknowledge({
    id: "Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId",
    reason: "Service stacks only place Lambda ENIs in these subnets; they never read or change route tables.",
  });
  return vpc;
}
