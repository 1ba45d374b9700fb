/**
 * @cacheplane/client: what a Lambda service imports.
 *
 *   import { createCache } from "@cacheplane/client";
 *   const cache = createCache(); // reads CACHE_STORAGE_TYPE, REDIS_SECRET_ARN / _FILE / REDIS_SECRET, CACHE_TABLE_NAME
 */
export { type SecretPayload, SecretPayloadError } from "@cacheplane/core/secret";
export type { LoaderContext } from "./cache-aside/loader-context.js";
export type { LoaderTimeouts } from "./cache-aside/policy.js";
export {
  CacheService,
  type CacheServiceOptions,
  type FlushOptions,
  type GetOptions,
  type GetOrSetOptions,
  type Loader,
  type RunOptions,
  type SetManyEntry,
  type SetOptions,
} from "./cache-service.js";
export { BreakerOpenError, type BreakerOptions } from "./circuit-breaker.js";
export {
  type Codec,
  type CompressionOptions,
  plainJsonCodec,
  Serializer,
  type SerializerOptions,
  taggedJsonCodec,
} from "./codec.js";
export { RedisUnavailableError, type UnavailableReason } from "./connection-state.js";
export { type CreateCacheOptions, createCache, iamAuthFromEnv, type StorageType } from "./create-cache.js";
export {
  type EmfMetrics,
  type EmfMetricsOptions,
  emfMetrics,
  type MetricsSink,
  type MetricUnitName,
} from "./emf-metrics.js";
export {
  CacheConfigError,
  CacheConnectionError,
  CacheError,
  CacheKeyError,
  CacheLoaderTimeoutError,
  CacheUnavailableError,
  SecretLoadError,
  SerializationError,
  SessionConflictError,
} from "./errors.js";
export type { CacheLogger } from "./event-logger.js";
export type { CacheEventListener, CacheEventName, CacheEvents, StaleReason } from "./events.js";
export type { HealthCheck, HealthOptions, HealthReport } from "./health.js";
export {
  type AwsCredentials,
  type IamAuthOptions,
  IamAuthTokenProvider,
  MAX_TOKEN_SECONDS,
} from "./iam-auth.js";
export {
  IAM_CONNECTION_LIFETIME_MS,
  IamReauthenticator,
  type IamReauthOptions,
  type IamTimers,
} from "./iam-reauth.js";
export { isReservedKey, RESERVED_PREFIX } from "./internal-keys.js";
export { keySlot } from "./key-slot.js";
export { type Flushable, type WrapHandlerOptions, wrapHandler } from "./lambda-handler.js";
export type { LocalTierFactory, LocalTierStats } from "./local-tier/contract.js";
export type { LocalTierOptions } from "./local-tier/options.js";
export type { Lock, LockOptions } from "./patterns/lock.js";
// Types only: the code of rate limits, sessions and pub/sub is in the `@cacheplane/client/rate-limits`,
// `/sessions` and `/pubsub` subpaths, outside the main bundle.
export type { MessageHandler, PubSub } from "./patterns/pubsub.js";
export type {
  RateLimitAlgorithm,
  RateLimiter,
  RateLimiterOptions,
  RateLimitResult,
} from "./patterns/rate-limiter.js";
export type {
  HeaderSetter,
  Identifiers,
  LambdaHttpResult,
  LimitSpec,
  LimitState,
  RateLimitHeaders,
  RateLimits,
  RateLimitsCallOptions,
  RateLimitsOptions,
  RateLimitsResult,
} from "./patterns/rate-limits/index.js";
export type { Session, SessionStore, SessionsOptions } from "./patterns/sessions.js";
export type { FlushResult, PendingKind, PendingTask } from "./pending-work.js";
export {
  closeAllRedisConnections,
  type RedisClient,
  RedisConnection,
  type RedisConnectionOptions,
  type SecretProvider,
} from "./redis-connection.js";
export { clearSecretCache, SecretSource, type SecretSourceSpec } from "./secret-source.js";
export type { BreakerStateName, CacheStats, LatencySummary } from "./stats.js";
export type { CacheStore, StoreEntry, StoreKind } from "./stores/cache-store.js";
export { DynamoDbStore, type DynamoDbStoreOptions } from "./stores/dynamodb-store.js";
export { MemoryStore, type MemoryStoreOptions } from "./stores/memory-store.js";
export { RedisStore, type RedisStoreOptions } from "./stores/redis-store.js";
