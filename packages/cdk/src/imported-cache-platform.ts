/**
 * A platform defined elsewhere (another stack, app or account), seen through attributes or through the
 * SSM parameters the platform stack publishes. Reading SSM parameters at deploy time keeps application
 * stacks free of hard cross-stack references (`Fn::ImportValue`): the platform can change without
 * blocking them, and no lookup happens at synth time (works offline, no AWS account needed).
 */
import type { Engine } from "@cacheplane/core";
import { ArnFormat, Stack, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import { type ICachePlatform, SERVERLESS_PORTS } from "./cache-platform-interface.js";
import { type IPlatformMetrics, platformMetrics, serverlessCacheMetric } from "./platform-metrics.js";
import { type PlatformParameterNames, platformParameterNames } from "./platform-parameters.js";
import { checkElastiCacheId, checkSlug, invalid } from "./validation.js";

/** What identifies a platform: the parts of its export names, and its engines. */
export interface CachePlatformIdentity {
  /** Stage of the platform, e.g. `dev`. */
  readonly stage: string;
  /** Region of the platform. @default the region of the stack this is imported into */
  readonly region?: string;
  /** Cacheplane's name for the cache. @default "shared" */
  readonly cacheName?: string;
  /** Engine of the cache. @default "valkey" */
  readonly engine?: Engine;
  /** Engine of the user group. @default the cache's engine */
  readonly userGroupEngine?: Engine;
  /** Prefix of service user ids on this platform. @default "" */
  readonly userPrefix?: string;
}

/** Everything `CachePlatform.fromAttributes` needs. */
export interface CachePlatformAttributes extends CachePlatformIdentity {
  /** Endpoint host of the cache. */
  readonly endpointAddress: string;
  /** Endpoint port. @default "6379" */
  readonly endpointPort?: string;
  /** The user group id. */
  readonly userGroupId: string;
  /** The user group ARN. @default built from the id, this stack's account and the platform region */
  readonly userGroupArn?: string;
  /** Id of the cache's security group. */
  readonly securityGroupId: string;
  /** Name of the serverless cache. */
  readonly serverlessCacheName: string;
}

/** Resolved identity: defaults applied and checked. */
export function resolveIdentity(
  scope: Construct,
  identity: CachePlatformIdentity,
): Required<CachePlatformIdentity> {
  const stackRegion = Stack.of(scope).region;
  const region = identity.region ?? stackRegion;
  if (Token.isUnresolved(region)) {
    invalid(scope, "needs a concrete region: set `env.region` on the stack or pass `region`");
  }
  if (!Token.isUnresolved(stackRegion) && stackRegion !== region) {
    invalid(
      scope,
      `the platform is in ${region} but this stack is in ${stackRegion}; SSM exports and ElastiCache users are regional`,
    );
  }
  const cacheName = identity.cacheName ?? "shared";
  checkSlug(scope, "stage", identity.stage);
  checkSlug(scope, "region", region);
  checkSlug(scope, "cacheName", cacheName);
  const userPrefix = identity.userPrefix ?? "";
  if (!/^[a-z0-9]{0,10}$/.test(userPrefix)) {
    invalid(scope, `userPrefix "${userPrefix}" must be at most 10 lowercase letters and digits`);
  }
  const engine = identity.engine ?? "valkey";
  const userGroupEngine = identity.userGroupEngine ?? engine;
  if (engine === "redis" && userGroupEngine !== "redis") {
    invalid(
      scope,
      'a Redis OSS cache only accepts user groups with engine "redis"; set userGroupEngine: "redis" or engine: "valkey"',
    );
  }
  return { stage: identity.stage, region, cacheName, engine, userGroupEngine, userPrefix };
}

/** ARN of an ElastiCache resource (`serverlesscache`, `usergroup`, `user`) in `region`. */
export function elastiCacheArn(scope: Construct, resource: string, name: string, region: string): string {
  return Stack.of(scope).formatArn({
    service: "elasticache",
    resource,
    resourceName: name,
    region,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Where an imported platform's values come from: each is read on first use. */
type AttributeSource = Record<
  | "endpointAddress"
  | "endpointPort"
  | "userGroupId"
  | "userGroupArn"
  | "securityGroupId"
  | "serverlessCacheName",
  () => string
>;

/**
 * A platform known by its attributes. Values are read on first use, so an application stack only
 * gets the SSM parameters it actually needs (no unused template parameters).
 */
export class ImportedCachePlatform extends Construct implements ICachePlatform {
  readonly metric: IPlatformMetrics["metric"];
  readonly metricCacheHitCount: IPlatformMetrics["metricCacheHitCount"];
  readonly metricCacheMissCount: IPlatformMetrics["metricCacheMissCount"];
  readonly metricCacheHitRate: IPlatformMetrics["metricCacheHitRate"];
  readonly metricDataStored: IPlatformMetrics["metricDataStored"];
  readonly metricProcessingUnitsConsumed: IPlatformMetrics["metricProcessingUnitsConsumed"];
  readonly metricNetworkBytesIn: IPlatformMetrics["metricNetworkBytesIn"];
  readonly metricNetworkBytesOut: IPlatformMetrics["metricNetworkBytesOut"];
  readonly metricActiveConnections: IPlatformMetrics["metricActiveConnections"];
  readonly metricWriteRequestLatency: IPlatformMetrics["metricWriteRequestLatency"];
  readonly metricReadRequestLatency: IPlatformMetrics["metricReadRequestLatency"];
  readonly stage: string;
  readonly platformRegion: string;
  readonly cacheName: string;
  readonly engine: Engine;
  readonly userGroupEngine: Engine;
  readonly userPrefix: string;
  readonly parameterNames: PlatformParameterNames;
  private readonly source: AttributeSource;
  private readonly cache = new Map<string, string>();
  private importedConnections: ec2.Connections | undefined;

  /** Imports from literal attributes. */
  static fromAttributes(scope: Construct, id: string, attrs: CachePlatformAttributes): ImportedCachePlatform {
    return new ImportedCachePlatform(scope, id, attrs, {
      endpointAddress: () => attrs.endpointAddress,
      endpointPort: () => attrs.endpointPort ?? String(SERVERLESS_PORTS.primary),
      userGroupId: () => attrs.userGroupId,
      userGroupArn: () => attrs.userGroupArn ?? "",
      securityGroupId: () => attrs.securityGroupId,
      serverlessCacheName: () => attrs.serverlessCacheName,
    });
  }

  private constructor(
    scope: Construct,
    id: string,
    identity: CachePlatformIdentity,
    source: AttributeSource,
  ) {
    super(scope, id);
    const resolved = resolveIdentity(this, identity);
    this.stage = resolved.stage;
    this.platformRegion = resolved.region;
    this.cacheName = resolved.cacheName;
    this.engine = resolved.engine;
    this.userGroupEngine = resolved.userGroupEngine;
    this.userPrefix = resolved.userPrefix;
    this.parameterNames = platformParameterNames(resolved);
    this.source = source;
    const metrics = platformMetrics((name, props) =>
      serverlessCacheMetric(this.serverlessCacheName, name, props),
    );
    this.metric = metrics.metric;
    this.metricCacheHitCount = metrics.metricCacheHitCount;
    this.metricCacheMissCount = metrics.metricCacheMissCount;
    this.metricCacheHitRate = metrics.metricCacheHitRate;
    this.metricDataStored = metrics.metricDataStored;
    this.metricProcessingUnitsConsumed = metrics.metricProcessingUnitsConsumed;
    this.metricNetworkBytesIn = metrics.metricNetworkBytesIn;
    this.metricNetworkBytesOut = metrics.metricNetworkBytesOut;
    this.metricActiveConnections = metrics.metricActiveConnections;
    this.metricWriteRequestLatency = metrics.metricWriteRequestLatency;
    this.metricReadRequestLatency = metrics.metricReadRequestLatency;
  }

  /** Imports through the platform stack's SSM parameters, resolved by CloudFormation at deploy time. */
  static fromSsmParameters(
    scope: Construct,
    id: string,
    identity: CachePlatformIdentity,
  ): ImportedCachePlatform {
    const names = platformParameterNames(resolveIdentity(scope, identity));
    const read = (name: string) => () => ssm.StringParameter.valueForStringParameter(scope, name);
    return new ImportedCachePlatform(scope, id, identity, {
      endpointAddress: read(names.endpointParameter),
      endpointPort: read(names.portParameter),
      userGroupId: read(names.userGroupIdParameter),
      userGroupArn: read(names.userGroupArnParameter),
      securityGroupId: read(names.securityGroupIdParameter),
      serverlessCacheName: read(names.serverlessCacheNameParameter),
    });
  }

  private value(key: keyof AttributeSource): string {
    let value = this.cache.get(key);
    if (value === undefined) {
      value = this.source[key]();
      this.cache.set(key, value);
    }
    return value;
  }

  get endpointAddress(): string {
    return this.value("endpointAddress");
  }
  get endpointPort(): string {
    return this.value("endpointPort");
  }
  /** ElastiCache Serverless serves reads from replicas on the same host, port 6380. */
  get readerEndpointAddress(): string {
    return this.endpointAddress;
  }
  get readerEndpointPort(): string {
    return String(SERVERLESS_PORTS.reader);
  }
  get userGroupId(): string {
    const id = this.value("userGroupId");
    checkElastiCacheId(this, "userGroupId", id);
    return id;
  }
  get userGroupArn(): string {
    return (
      this.value("userGroupArn") || elastiCacheArn(this, "usergroup", this.userGroupId, this.platformRegion)
    );
  }
  get serverlessCacheName(): string {
    const name = this.value("serverlessCacheName");
    checkElastiCacheId(this, "serverlessCacheName", name);
    return name;
  }
  get serverlessCacheArn(): string {
    return elastiCacheArn(this, "serverlesscache", this.serverlessCacheName, this.platformRegion);
  }
  get connections(): ec2.Connections {
    if (!this.importedConnections) {
      const securityGroup = ec2.SecurityGroup.fromSecurityGroupId(
        this,
        "SecurityGroup",
        this.value("securityGroupId"),
        {
          mutable: true,
          allowAllOutbound: false,
        },
      );
      this.importedConnections = new ec2.Connections({
        securityGroups: [securityGroup],
        defaultPort: ec2.Port.tcpRange(SERVERLESS_PORTS.primary, SERVERLESS_PORTS.reader),
      });
    }
    return this.importedConnections;
  }
}
