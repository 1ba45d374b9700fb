/**
 * The AWS side of the provisioner: the ElastiCache target, the Secrets Manager store and the helpers
 * they share. Re-exported from the package index.
 */
export { canonicalElastiCacheAccess, sameElastiCacheAccess } from "./elasticache-access.js";
export {
  awsErrorName,
  describeAwsError,
  type ElastiCacheFailureContext,
  ElastiCacheTargetError,
  hasErrorName,
  isThrottlingError,
  isTransientError,
} from "./elasticache-errors.js";
export {
  assertWithinElastiCacheLimits,
  countsAfterPlan,
  ELASTICACHE_LIMITS,
  ElastiCacheLimitError,
  elastiCacheLimitProblems,
} from "./elasticache-limits.js";
export {
  backoffDelay,
  type RetryClock,
  type RetryPolicy,
  resolveClock,
  systemClock,
  type WaitObservation,
  type WaitPolicy,
  WaitTimeoutError,
  waitFor,
  withRetry,
} from "./elasticache-retry.js";
export {
  type AwsTag,
  MANAGED_BY_CLOUDFORMATION,
  MANAGED_BY_PROVISIONER,
  MANAGED_TAG,
  provisionerTags,
  SERVICE_TAG,
  tagValue,
  USER_ID_TAG,
} from "./elasticache-tags.js";
export {
  type ElastiCacheEndpoint,
  ElastiCacheTarget,
  type ElastiCacheTargetOptions,
} from "./elasticache-target.js";
export {
  BOOKKEEPING_FIELD,
  decodeSecretDocument,
  encodeSecretDocument,
  type SecretBookkeeping,
} from "./secrets-manager-document.js";
export {
  elastiCacheRotationUsers,
  type RotationDeps,
  type RotationEvent,
  type RotationSecrets,
  type RotationStep,
  type RotationUsers,
  rotationUserId,
  runRotationStep,
  SecretRotationError,
  secretsManagerVersions,
} from "./secrets-manager-rotation.js";
export {
  type SecretsManagerEntry,
  SecretsManagerStore,
  SecretsManagerStoreError,
  type SecretsManagerStoreOptions,
} from "./secrets-manager-store.js";
