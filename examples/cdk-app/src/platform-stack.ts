/**
 * The platform stack: a VPC with isolated subnets in two AZs (no NAT: services reach Secrets Manager
 * through an interface endpoint), and the shared cache with its exports.
 */

import { CachePlatform } from "@cacheplane/cdk";
import type { Engine } from "@cacheplane/core";
import { RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { NETWORK_AZ_COUNT, publishNetwork } from "./network-exports.js";

/** The example VPC's address range (a literal, so rules on the endpoint's ingress can be checked). */
export const VPC_CIDR = "10.20.0.0/16";

export interface PlatformStackProps extends StackProps {
  readonly stage: string;
  readonly engine: Engine;
}

export class PlatformStack extends Stack {
  readonly platform: CachePlatform;
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: NETWORK_AZ_COUNT,
      natGateways: 0,
      subnetConfiguration: [{ name: "private", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    this.vpc.addFlowLog("FlowLog", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, "FlowLogGroup", {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
    });
    const secretsEndpoint = this.vpc.addInterfaceEndpoint("SecretsManager", {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      open: false,
    });
    secretsEndpoint.connections.allowFrom(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS from the VPC");

    this.platform = new CachePlatform(this, "SharedCache", {
      stage: props.stage,
      engine: props.engine,
      vpc: this.vpc,
      usageLimits: { maxDataStorageGb: 10, maxEcpuPerSecond: 100_000 },
      snapshotRetentionDays: 7,
      dailySnapshotTime: "03:30",
    });
    publishNetwork(this, props.stage, this.vpc);
  }
}
