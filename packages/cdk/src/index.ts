/**
 * @cacheplane/cdk: AWS CDK constructs for a shared ElastiCache Serverless cache and the services on it.
 *
 * - `CachePlatform` (platform stack): the cache, its user group, security group and exports.
 * - `ServiceCacheAccess` (service stacks): a scoped user, a generated secret, group membership and
 *   grants for the service's Lambda functions.
 */

export { CachePlatform, type CachePlatformProps, type CacheUsageLimits } from "./cache-platform.js";
export {
  type ICachePlatform,
  platformKey,
  SERVERLESS_PORTS,
} from "./cache-platform-interface.js";
export { ELASTICACHE_QUOTAS } from "./group-capacity.js";
export {
  MEMBERSHIP_RESOURCE_TYPE,
  type MembershipProperties,
  parseMembershipProperties,
} from "./handler/properties.js";
export {
  type CachePlatformAttributes,
  type CachePlatformIdentity,
  ImportedCachePlatform,
} from "./imported-cache-platform.js";
export { type Claim, type ClaimKind, claimNames } from "./keyspace-registry.js";
export {
  MEMBERSHIP_HANDLER_ENTRY,
  MEMBERSHIP_HANDLER_TIMEOUT,
  MEMBERSHIP_LOG_RETENTION,
  MEMBERSHIP_SERVICE_TIMEOUT,
  type MembershipGrant,
  MembershipHandler,
} from "./membership-handler.js";
export { type IPlatformMetrics, platformMetrics, serverlessCacheMetric } from "./platform-metrics.js";
export { type PlatformParameterNames, platformParameterNames } from "./platform-parameters.js";
export { ROTATION_HANDLER_ENTRY, RotationHandler } from "./rotation-handler.js";
export {
  GENERATED_PASSWORD_LENGTH,
  PASSWORD_EXCLUDED_CHARACTERS,
  type ServiceAuthentication,
  ServiceCacheAccess,
  type ServiceCacheAccessProps,
  type UserManagement,
} from "./service-cache-access.js";
export { CacheplaneValidationError } from "./validation.js";
