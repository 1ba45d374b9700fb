/**
 * What application stacks need to know about a platform: the `ICachePlatform` interface that both
 * `CachePlatform` (the platform stack's own construct) and its imports (`CachePlatform.fromAttributes`,
 * `CachePlatform.fromSsmParameters`) implement.
 */
import type { Engine } from "@cacheplane/core";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type { IConstruct } from "constructs";
import type { IPlatformMetrics } from "./platform-metrics.js";
import type { PlatformParameterNames } from "./platform-parameters.js";

/** Ports of an ElastiCache Serverless cache: 6379 (primary endpoint) and 6380 (reader endpoint). */
export const SERVERLESS_PORTS = { primary: 6379, reader: 6380 } as const;

/** A shared cache platform, defined in this stack or imported from its exports. */
export interface ICachePlatform extends IConstruct, IPlatformMetrics {
  /** Stage, part of every export name (e.g. `dev`). */
  readonly stage: string;
  /** Region the platform (and its SSM exports) live in. */
  readonly platformRegion: string;
  /** Cacheplane's name for the cache, part of every export name (core's `cacheName`). */
  readonly cacheName: string;
  /** Engine of the cache. */
  readonly engine: Engine;
  /** Engine of the user group; service users get this engine. */
  readonly userGroupEngine: Engine;
  /** Prefix of every service user id on this platform (core's `userPrefix`). */
  readonly userPrefix: string;
  /** Name of the ElastiCache Serverless cache (may be a token when imported). */
  readonly serverlessCacheName: string;
  /** ARN of the serverless cache. */
  readonly serverlessCacheArn: string;
  /** Endpoint host clients connect to. */
  readonly endpointAddress: string;
  /** Endpoint port (a string; `6379` for serverless caches). */
  readonly endpointPort: string;
  /** Host of the reader endpoint (reads from replicas; same host as the primary on Serverless). */
  readonly readerEndpointAddress: string;
  /** Port of the reader endpoint (a string; `6380` for serverless caches). */
  readonly readerEndpointPort: string;
  /** The user group service users join. */
  readonly userGroupId: string;
  /** ARN of the user group. */
  readonly userGroupArn: string;
  /** The cache's security group, default port range 6379-6380. */
  readonly connections: ec2.Connections;
  /** SSM parameter names this platform's values are published under. */
  readonly parameterNames: PlatformParameterNames;
}

/** Identity of a platform in per-app registries: `<stage>/<region>/<cacheName>`. */
export function platformKey(
  platform: Pick<ICachePlatform, "stage" | "platformRegion" | "cacheName">,
): string {
  return `${platform.stage}/${platform.platformRegion}/${platform.cacheName}`;
}
