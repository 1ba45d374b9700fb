/**
 * The provisioner modules the custom-resource handler reuses, through the `@cacheplane/provisioner/aws`
 * subpath so the Lambda bundle holds only the ElastiCache target and the Secrets Manager store (not the
 * Redis target and ioredis).
 */
export {
  ElastiCacheTarget,
  elastiCacheRotationUsers,
  MANAGED_BY_CLOUDFORMATION,
  type RotationEvent,
  runRotationStep,
  SecretsManagerStore,
  sameElastiCacheAccess,
  secretsManagerVersions,
} from "@cacheplane/provisioner/aws";
