/**
 * `CachePlatform`: the platform stack's shared cache. One ElastiCache Serverless cache (Valkey by
 * default), one user group every service user joins, a security group, and the exports application
 * stacks import it by (SSM parameters under core's `platformExports` names, plus CloudFormation outputs).
 */
import {
  AccessControl,
  type BackupSettings,
  CacheEngine,
  type IUser,
  NoPasswordUser,
  ServerlessCache,
  UserEngine,
  UserGroup,
} from "@aws-cdk/aws-elasticache-alpha";
import { type Engine, normalizeResourceName } from "@cacheplane/core";
import { CfnOutput, RemovalPolicy, Size, Token } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import { type ICachePlatform, SERVERLESS_PORTS } from "./cache-platform-interface.js";
import { registerPlatform } from "./group-capacity.js";
import {
  type CachePlatformAttributes,
  type CachePlatformIdentity,
  ImportedCachePlatform,
  resolveIdentity,
} from "./imported-cache-platform.js";
import { type PlatformParameterNames, platformParameterNames } from "./platform-parameters.js";
import { checkElastiCacheId, checkIntegerRange, checkMinMax, invalid } from "./validation.js";

/** ElastiCache Serverless usage limits: the cache never scales beyond (or below) these. */
export interface CacheUsageLimits {
  /** Lower bound of data storage, in GB (1-5000). @default no minimum */
  readonly minDataStorageGb?: number;
  /** Upper bound of data storage, in GB (1-5000). @default no maximum */
  readonly maxDataStorageGb?: number;
  /** Lower bound of ElastiCache Processing Units per second (1,000-15,000,000). @default no minimum */
  readonly minEcpuPerSecond?: number;
  /** Upper bound of ElastiCache Processing Units per second (1,000-15,000,000). @default no maximum */
  readonly maxEcpuPerSecond?: number;
}

/** Properties of {@link CachePlatform}. */
export interface CachePlatformProps extends CachePlatformIdentity {
  /** The VPC the cache lives in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the cache: 2 or 3 distinct subnets (ElastiCache Serverless spreads over them).
   * @default the VPC's private subnets with egress, else its isolated subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security group of the cache. Services get ingress on 6379-6380 from their functions.
   * @default a new security group without ingress and without egress
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /** Name of the ElastiCache Serverless cache. @default `<stage>-<cacheName>` */
  readonly serverlessCacheName?: string;
  /** ElastiCache user group id. @default core's `<stage>-<cacheName>-users` */
  readonly userGroupId?: string;
  /** Major engine version, e.g. "8" for Valkey 8, "7" for Redis OSS 7. @default the latest */
  readonly majorEngineVersion?: "7" | "8";
  /** Usage limits (data storage and ECPU/s). @default none: the cache scales freely */
  readonly usageLimits?: CacheUsageLimits;
  /** Days automatic daily snapshots are kept (1-35). @default no automatic snapshots */
  readonly snapshotRetentionDays?: number;
  /** UTC time of the daily snapshot, `HH:MM`. Needs `snapshotRetentionDays`. @default chosen by ElastiCache */
  readonly dailySnapshotTime?: string;
  /** Name of a final snapshot taken when the cache is deleted. @default no final snapshot */
  readonly finalSnapshotName?: string;
  /** Customer managed KMS key for data at rest. @default an AWS owned key */
  readonly encryptionKey?: kms.IKey;
  /**
   * Extra users placed in the user group when it is created, e.g. an admin `IamUser` for
   * `cacheplane doctor`. Service users join through `ServiceCacheAccess`, not here.
   * @default none
   */
  readonly users?: IUser[];
  /** Description of the cache. @default "Cacheplane shared cache <stage>/<cacheName>" */
  readonly description?: string;
  /**
   * What happens to the cache, its user group and default user when they leave the stack.
   * @default RemovalPolicy.RETAIN (a shared cache holds every service's data)
   */
  readonly removalPolicy?: RemovalPolicy;
}

const DATA_STORAGE_GB = { min: 1, max: 5000 };
const ECPU_PER_SECOND = { min: 1000, max: 15_000_000 };

/**
 * The shared cache of a platform.
 *
 * ```ts
 * const platform = new CachePlatform(this, "Platform", { stage: "dev", vpc });
 * // in application stacks (same account and region), without a cross-stack reference:
 * const imported = CachePlatform.fromSsmParameters(this, "Platform", { stage: "dev" });
 * ```
 *
 * User group and engine: a Redis OSS cache only accepts `redis` user groups, and those must contain a
 * user named `default`; this construct adds one that is disabled (`off -@all`, no password, so it can
 * never log in). A Valkey user group needs no default user and may only contain users that
 * authenticate (password or IAM), so none is added: a client that does not authenticate is refused.
 */
export class CachePlatform extends Construct implements ICachePlatform {
  /** Imports a platform from known attributes (e.g. values copied from another account). */
  static fromAttributes(scope: Construct, id: string, attrs: CachePlatformAttributes): ICachePlatform {
    return ImportedCachePlatform.fromAttributes(scope, id, attrs);
  }

  /**
   * Imports a platform through the SSM parameters its stack published. The values are resolved by
   * CloudFormation at deploy time: no hard cross-stack reference, no lookup at synth time.
   */
  static fromSsmParameters(scope: Construct, id: string, identity: CachePlatformIdentity): ICachePlatform {
    return ImportedCachePlatform.fromSsmParameters(scope, id, identity);
  }

  readonly stage: string;
  readonly platformRegion: string;
  readonly cacheName: string;
  readonly engine: Engine;
  readonly userGroupEngine: Engine;
  readonly userPrefix: string;
  readonly serverlessCacheName: string;
  readonly serverlessCacheArn: string;
  readonly endpointAddress: string;
  readonly endpointPort: string;
  readonly readerEndpointAddress: string;
  readonly readerEndpointPort: string;
  readonly userGroupId: string;
  readonly userGroupArn: string;
  readonly connections: ec2.Connections;
  readonly parameterNames: PlatformParameterNames;
  /** The ElastiCache Serverless cache. */
  readonly cache: ServerlessCache;
  /** The user group of the cache. */
  readonly userGroup: UserGroup;
  /** The cache's security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** The disabled `default` user (Redis user groups only). */
  readonly defaultUser: NoPasswordUser | undefined;
  /** The subnets the cache is placed in. */
  readonly subnets: ec2.ISubnet[];

  constructor(scope: Construct, id: string, props: CachePlatformProps) {
    super(scope, id);
    const identity = resolveIdentity(this, props);
    this.stage = identity.stage;
    this.platformRegion = identity.region;
    this.cacheName = identity.cacheName;
    this.engine = identity.engine;
    this.userGroupEngine = identity.userGroupEngine;
    this.userPrefix = identity.userPrefix;
    this.parameterNames = platformParameterNames(identity);

    this.serverlessCacheName =
      props.serverlessCacheName ?? normalizeResourceName(`${identity.stage}-${identity.cacheName}`);
    this.userGroupId =
      props.userGroupId ?? normalizeResourceName(`${identity.stage}-${identity.cacheName}-users`);
    checkElastiCacheId(this, "serverlessCacheName", this.serverlessCacheName);
    checkElastiCacheId(this, "userGroupId", this.userGroupId);
    if (this.engine === "redis" && props.majorEngineVersion === "8") {
      invalid(this, 'Redis OSS on ElastiCache Serverless has no major version 8; use "7" or engine "valkey"');
    }
    this.checkUsageLimits(props.usageLimits);
    this.checkSnapshots(props);
    this.subnets = this.selectSubnets(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.securityGroup =
      props.securityGroup ??
      new ec2.SecurityGroup(this, "SecurityGroup", {
        vpc: props.vpc,
        description: `Cacheplane shared cache ${identity.stage}/${identity.cacheName}: ingress is added per service`,
        allowAllOutbound: false,
      });
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcpRange(SERVERLESS_PORTS.primary, SERVERLESS_PORTS.reader),
    });

    const users: IUser[] = [...(props.users ?? [])];
    if (this.userGroupEngine === "redis") {
      this.defaultUser = new NoPasswordUser(this, "DisabledDefaultUser", {
        userId: normalizeResourceName(`${this.userGroupId.slice(0, 28)}-default`),
        userName: "default",
        engine: UserEngine.REDIS,
        accessControl: AccessControl.fromAccessString("off -@all"),
      });
      this.defaultUser.applyRemovalPolicy(removalPolicy);
      users.unshift(this.defaultUser);
    } else {
      this.defaultUser = undefined;
    }
    this.userGroup = new UserGroup(this, "UserGroup", {
      userGroupName: this.userGroupId,
      engine: this.userGroupEngine === "redis" ? UserEngine.REDIS : UserEngine.VALKEY,
      users,
    });
    this.userGroup.applyRemovalPolicy(removalPolicy);
    registerPlatform(this, users.length);
    this.cache = new ServerlessCache(this, "Cache", {
      engine: cacheEngine(this.engine, props.majorEngineVersion),
      serverlessCacheName: this.serverlessCacheName,
      description: props.description ?? `Cacheplane shared cache ${identity.stage}/${identity.cacheName}`,
      vpc: props.vpc,
      vpcSubnets: { subnets: this.subnets },
      securityGroups: [this.securityGroup],
      userGroup: this.userGroup,
      ...(props.encryptionKey ? { kmsKey: props.encryptionKey } : {}),
      ...(props.usageLimits ? { cacheUsageLimits: renderUsageLimits(props.usageLimits) } : {}),
      ...(this.backupSettings(props) ?? {}),
    });
    this.cache.applyRemovalPolicy(removalPolicy);

    this.serverlessCacheArn = this.cache.serverlessCacheArn;
    this.endpointAddress = this.cache.serverlessCacheEndpointAddress;
    this.endpointPort = this.cache.serverlessCacheEndpointPort;
    this.readerEndpointAddress = this.cache.serverlessCacheReaderEndpointAddress;
    this.readerEndpointPort = this.cache.serverlessCacheReaderEndpointPort;
    this.userGroupArn = this.userGroup.userGroupArn;
    this.publishExports();
  }

  /** Any `AWS/ElastiCache` metric of the cache (the alpha module's `ServerlessCache.metric`). */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.cache.metric(metricName, props);
  }
  metricCacheHitCount(props?: cloudwatch.MetricOptions) {
    return this.cache.metricCacheHitCount(props);
  }
  metricCacheMissCount(props?: cloudwatch.MetricOptions) {
    return this.cache.metricCacheMissCount(props);
  }
  metricCacheHitRate(props?: cloudwatch.MetricOptions) {
    return this.cache.metricCacheHitRate(props);
  }
  metricDataStored(props?: cloudwatch.MetricOptions) {
    return this.cache.metricDataStored(props);
  }
  metricProcessingUnitsConsumed(props?: cloudwatch.MetricOptions) {
    return this.cache.metricProcessingUnitsConsumed(props);
  }
  metricNetworkBytesIn(props?: cloudwatch.MetricOptions) {
    return this.cache.metricNetworkBytesIn(props);
  }
  metricNetworkBytesOut(props?: cloudwatch.MetricOptions) {
    return this.cache.metricNetworkBytesOut(props);
  }
  metricActiveConnections(props?: cloudwatch.MetricOptions) {
    return this.cache.metricActiveConnections(props);
  }
  metricWriteRequestLatency(props?: cloudwatch.MetricOptions) {
    return this.cache.metricWriteRequestLatency(props);
  }
  metricReadRequestLatency(props?: cloudwatch.MetricOptions) {
    return this.cache.metricReadRequestLatency(props);
  }

  private publishExports(): void {
    const names = this.parameterNames;
    const exports: [string, string, string, string][] = [
      [
        "EndpointParameter",
        names.endpointParameter,
        this.endpointAddress,
        "Endpoint host of the shared cache",
      ],
      ["PortParameter", names.portParameter, this.endpointPort, "Endpoint port of the shared cache"],
      [
        "UserGroupIdParameter",
        names.userGroupIdParameter,
        this.userGroupId,
        "User group of the shared cache",
      ],
      ["UserGroupArnParameter", names.userGroupArnParameter, this.userGroupArn, "User group ARN"],
      [
        "SecurityGroupIdParameter",
        names.securityGroupIdParameter,
        this.securityGroup.securityGroupId,
        "Security group of the shared cache",
      ],
      [
        "ServerlessCacheNameParameter",
        names.serverlessCacheNameParameter,
        this.serverlessCacheName,
        "ElastiCache Serverless cache name",
      ],
    ];
    for (const [id, parameterName, value, description] of exports) {
      new ssm.StringParameter(this, id, { parameterName, stringValue: value, description });
    }
    new CfnOutput(this, "Endpoint", { value: this.endpointAddress, description: "Cache endpoint host" });
    new CfnOutput(this, "Port", { value: this.endpointPort, description: "Cache endpoint port" });
    new CfnOutput(this, "UserGroupId", { value: this.userGroupId, description: "User group id" });
    new CfnOutput(this, "UserGroupArn", { value: this.userGroupArn, description: "User group ARN" });
    new CfnOutput(this, "SecurityGroupId", {
      value: this.securityGroup.securityGroupId,
      description: "Cache security group",
    });
  }

  private selectSubnets(props: CachePlatformProps): ec2.ISubnet[] {
    let subnets: ec2.ISubnet[];
    if (props.vpcSubnets) {
      subnets = props.vpc.selectSubnets(props.vpcSubnets).subnets;
    } else {
      // Private subnets with egress, else isolated ones (checked first: selecting a missing type throws).
      const subnetType =
        props.vpc.privateSubnets.length > 0
          ? ec2.SubnetType.PRIVATE_WITH_EGRESS
          : ec2.SubnetType.PRIVATE_ISOLATED;
      subnets =
        props.vpc.isolatedSubnets.length > 0 || props.vpc.privateSubnets.length > 0
          ? props.vpc.selectSubnets({ subnetType }).subnets
          : [];
    }
    const distinct = new Map<string, ec2.ISubnet>();
    for (const s of subnets)
      distinct.set(Token.isUnresolved(s.subnetId) ? `${distinct.size}` : s.subnetId, s);
    const unique = [...distinct.values()];
    const byZone = new Map<string, string>();
    for (const subnet of unique) {
      const zone = subnet.availabilityZone;
      if (zone === undefined || zone === "" || Token.isUnresolved(zone)) continue;
      const other = byZone.get(zone);
      if (other !== undefined) {
        invalid(
          this,
          `subnets ${other} and ${Token.isUnresolved(subnet.subnetId) ? subnet.node.path : subnet.subnetId} are both in ${zone}; ` +
            "ElastiCache Serverless needs its subnets in distinct availability zones (select one subnet per zone, e.g. " +
            "`vpcSubnets: { subnetType, onePerAz: true }`)",
        );
      }
      byZone.set(zone, Token.isUnresolved(subnet.subnetId) ? subnet.node.path : subnet.subnetId);
    }
    if (unique.length < 2) {
      invalid(
        this,
        `ElastiCache Serverless needs at least 2 subnets, the selection has ${unique.length}; ` +
          "give the VPC private subnets in 2 or more availability zones or pass `vpcSubnets`",
      );
    }
    if (unique.length > 3) {
      invalid(
        this,
        `ElastiCache Serverless takes at most 3 subnets, the selection has ${unique.length}; ` +
          "narrow it with `vpcSubnets` (e.g. `{ subnetType, availabilityZones: [...] }`)",
      );
    }
    return unique;
  }

  private checkUsageLimits(limits: CacheUsageLimits | undefined): void {
    if (!limits) return;
    checkIntegerRange(
      this,
      "usageLimits.minDataStorageGb",
      limits.minDataStorageGb,
      DATA_STORAGE_GB.min,
      DATA_STORAGE_GB.max,
      "GB",
    );
    checkIntegerRange(
      this,
      "usageLimits.maxDataStorageGb",
      limits.maxDataStorageGb,
      DATA_STORAGE_GB.min,
      DATA_STORAGE_GB.max,
      "GB",
    );
    checkMinMax(
      this,
      "usageLimits.minDataStorageGb",
      limits.minDataStorageGb,
      "usageLimits.maxDataStorageGb",
      limits.maxDataStorageGb,
    );
    checkIntegerRange(
      this,
      "usageLimits.minEcpuPerSecond",
      limits.minEcpuPerSecond,
      ECPU_PER_SECOND.min,
      ECPU_PER_SECOND.max,
      "ECPU/s",
    );
    checkIntegerRange(
      this,
      "usageLimits.maxEcpuPerSecond",
      limits.maxEcpuPerSecond,
      ECPU_PER_SECOND.min,
      ECPU_PER_SECOND.max,
      "ECPU/s",
    );
    checkMinMax(
      this,
      "usageLimits.minEcpuPerSecond",
      limits.minEcpuPerSecond,
      "usageLimits.maxEcpuPerSecond",
      limits.maxEcpuPerSecond,
    );
  }

  private checkSnapshots(props: CachePlatformProps): void {
    checkIntegerRange(this, "snapshotRetentionDays", props.snapshotRetentionDays, 1, 35, "days");
    if (props.dailySnapshotTime !== undefined) {
      if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(props.dailySnapshotTime)) {
        invalid(
          this,
          `dailySnapshotTime "${props.dailySnapshotTime}" must be a UTC time HH:MM, e.g. "03:30"`,
        );
      }
      if (props.snapshotRetentionDays === undefined) {
        invalid(
          this,
          "dailySnapshotTime needs snapshotRetentionDays (1-35): snapshots nobody keeps are not taken",
        );
      }
    }
    if (props.finalSnapshotName !== undefined)
      checkElastiCacheId(this, "finalSnapshotName", props.finalSnapshotName);
  }

  private backupSettings(props: CachePlatformProps): { backup: BackupSettings } | undefined {
    if (props.snapshotRetentionDays === undefined && props.finalSnapshotName === undefined) return undefined;
    const [hour, minute] = (props.dailySnapshotTime ?? "").split(":");
    return {
      backup: {
        ...(props.snapshotRetentionDays !== undefined
          ? { backupRetentionLimit: props.snapshotRetentionDays }
          : {}),
        ...(hour !== undefined && minute !== undefined && props.dailySnapshotTime
          ? {
              backupTime: events.Schedule.cron({
                hour: String(Number(hour)),
                minute: String(Number(minute)),
              }),
            }
          : {}),
        ...(props.finalSnapshotName !== undefined
          ? { backupNameBeforeDeletion: props.finalSnapshotName }
          : {}),
      },
    };
  }
}

function cacheEngine(engine: Engine, major: "7" | "8" | undefined): CacheEngine {
  if (engine === "redis") return major === "7" ? CacheEngine.REDIS_7 : CacheEngine.REDIS_LATEST;
  if (major === "7") return CacheEngine.VALKEY_7;
  if (major === "8") return CacheEngine.VALKEY_8;
  return CacheEngine.VALKEY_LATEST;
}

function renderUsageLimits(limits: CacheUsageLimits) {
  return {
    ...(limits.minDataStorageGb !== undefined
      ? { dataStorageMinimumSize: Size.gibibytes(limits.minDataStorageGb) }
      : {}),
    ...(limits.maxDataStorageGb !== undefined
      ? { dataStorageMaximumSize: Size.gibibytes(limits.maxDataStorageGb) }
      : {}),
    ...(limits.minEcpuPerSecond !== undefined ? { requestRateLimitMinimum: limits.minEcpuPerSecond } : {}),
    ...(limits.maxEcpuPerSecond !== undefined ? { requestRateLimitMaximum: limits.maxEcpuPerSecond } : {}),
  };
}
