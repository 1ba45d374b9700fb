/**
 * `@cacheplane/client/connection`: a Redis connection from a Cacheplane secret payload, without the
 * rest of the client (no CacheService, codecs, stores or DynamoDB). The gateway and `cacheplane
 * doctor` connect through it, exactly as `createCache()` does.
 *
 *   import { RedisConnection, SecretSource } from "@cacheplane/client/connection";
 *   const connection = new RedisConnection({ source: new SecretSource({ kind: "file", path: "orders.json" }) });
 *   const redis = await connection.acquire(); // an ioredis client, ready
 */
export { type SecretPayload, SecretPayloadError } from "@cacheplane/core/secret";
export {
  type ConnectionContext,
  connectionHint,
  describeConnectionError,
  errorMessage,
} from "./connection-errors.js";
export {
  CONNECTION_DEFAULTS,
  type ConnectionSettings,
  clusterOptionsFromSecret,
  createRedisClient,
  isCluster,
  type RedisClient,
  reconnectDelay,
  redisOptionsFromSecret,
  setCredentials,
  tlsOptionsFor,
} from "./connection-options.js";
export {
  isKnownDown,
  lastConnectionError,
  RedisUnavailableError,
  trackAvailability,
  type UnavailableReason,
  waitReady,
  withDeadline,
} from "./connection-state.js";
export { CacheConfigError, CacheConnectionError, CacheError, SecretLoadError } from "./errors.js";
export {
  type AwsCredentials,
  type IamAuthOptions,
  IamAuthTokenProvider,
  iamAuthFromEnv,
  MAX_TOKEN_SECONDS,
} from "./iam-auth.js";
export {
  IAM_CONNECTION_LIFETIME_MS,
  IamReauthenticator,
  type IamReauthOptions,
  type IamTimers,
} from "./iam-reauth.js";
export { groupBySlot, keySlot } from "./key-slot.js";
export {
  isAuthError,
  RedisConnection,
  type RedisConnectionOptions,
  type SecretProvider,
} from "./redis-connection.js";
export {
  clearSecretCache,
  type GetSecretOptions,
  SecretSource,
  type SecretSourceOptions,
  type SecretSourceSpec,
} from "./secret-source.js";
