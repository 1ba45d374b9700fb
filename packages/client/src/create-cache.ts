/**
 * `createCache()`: the one call a Lambda handler makes at module level. Without options it reads
 * the environment; options override it. Nothing connects until the first call, and the Redis
 * connection is shared by every cache built from the same secret in this execution environment.
 *
 * Environment: CACHE_STORAGE_TYPE (redis|dynamodb|memory), REDIS_SECRET_ARN, REDIS_SECRET_FILE,
 * REDIS_SECRET (inline JSON), CACHE_TABLE_NAME, CACHE_KEYSPACE, CACHE_FALLBACK (dynamodb|memory|none),
 * CACHE_MAX_TTL (the ttl ceiling in seconds, or Infinity).
 * ElastiCache IAM auth (set by `ServiceCacheAccess({ authentication: "iam" })`): REDIS_AUTH_MODE=iam (or
 * `auth: "iam"` in the secret), REDIS_IAM_CACHE_NAME (serverless cache name), REDIS_IAM_USER_ID
 * (default: the secret's username), REDIS_IAM_SERVERLESS (default true; `false` for a replication group).
 */
import type { ConnectionOptions } from "node:tls";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { ClusterOptions, RedisOptions } from "ioredis";
import { CacheService, type CacheServiceOptions } from "./cache-service.js";
import { CacheConfigError } from "./errors.js";
import { type IamAuthOptions, IamAuthTokenProvider, iamAuthFromEnv } from "./iam-auth.js";
import type { IamReauthOptions } from "./iam-reauth.js";
import { acquireSharedRedisConnection, releaseRedisConnection } from "./redis-connection.js";
import { SecretSource, type SecretSourceSpec } from "./secret-source.js";
import type { CacheStore } from "./stores/cache-store.js";
import { DynamoDbStore } from "./stores/dynamodb-store.js";
import { MemoryStore } from "./stores/memory-store.js";
import { RedisStore } from "./stores/redis-store.js";

export { iamAuthFromEnv } from "./iam-auth.js";

export type StorageType = "redis" | "dynamodb" | "memory";

export interface CreateCacheOptions extends Omit<CacheServiceOptions, "store" | "fallback" | "onClose"> {
  /** Default: `CACHE_STORAGE_TYPE`, else `redis` when a secret is configured, else `memory`. */
  storage?: StorageType;
  /** Inline secret (object or JSON). Default `REDIS_SECRET`. */
  secret?: string | SecretPayload | Record<string, unknown>;
  /** Secrets Manager ARN. Default `REDIS_SECRET_ARN`. */
  secretArn?: string;
  /** JSON file path. Default `REDIS_SECRET_FILE`. */
  secretFile?: string;
  /** Seconds a read secret is reused across warm invocations. Default 300. */
  secretMaxAge?: number;
  /** Ms between two forced secret reads after auth failures (rotation). Default 5000. */
  secretMinRefreshIntervalMs?: number;
  /** Client for `secretArn` (default: one per region, module-wide). */
  secretsManagerClient?: SecretsManagerClient;
  /** Key prefix. Default: the secret's keyspace (Redis), else `CACHE_KEYSPACE`, else `cache`. */
  keyspace?: string;
  /** DynamoDB table. Default `CACHE_TABLE_NAME`. */
  tableName?: string;
  /** Cluster mode. Default: the secret's `cluster` field. */
  cluster?: boolean;
  /** Extra TLS options, e.g. `{ ca }` for a private CA. */
  tls?: ConnectionOptions;
  /**
   * ElastiCache IAM authentication instead of the secret's password. Default: from the environment
   * when `REDIS_AUTH_MODE=iam` or the secret says `auth: "iam"` (see the module comment).
   */
  iamAuth?: IamAuthOptions | IamAuthTokenProvider;
  /** Token refresh and re-authentication of IAM connections. @default re-AUTH after 11 h, checked every 60 s */
  iamReauth?: IamReauthOptions;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxRetriesPerRequest?: number;
  redisOptions?: Partial<RedisOptions>;
  clusterOptions?: Partial<ClusterOptions>;
  /**
   * Send the commands of one event-loop tick in one socket write per Redis connection (per-tick write
   * batching, docs/decisions/0021). `false` writes each command on its own. @default true
   */
  batchWrites?: boolean;
  /** DynamoDB client. Default: one module-wide `new DynamoDBClient({})`. */
  dynamoDbClient?: DynamoDBClient | DynamoDBDocumentClient;
  consistentRead?: boolean;
  /** Memory store size. Default 10,000 entries. */
  maxEntries?: number;
  /** Where calls go while the primary fails. Default `CACHE_FALLBACK` or none. */
  fallback?: "dynamodb" | "memory" | "none" | CacheStore;
  /** Environment to read instead of `process.env` (tests). */
  env?: Record<string, string | undefined>;
}

let sharedDynamoClient: Promise<DynamoDBClient> | undefined;
function defaultDynamoClient(): Promise<DynamoDBClient> {
  // Short timeouts and one retry: a cache call must not hang a Lambda (the breaker handles outages).
  sharedDynamoClient ??= import("@aws-sdk/client-dynamodb").then(
    ({ DynamoDBClient }) =>
      new DynamoDBClient({
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 },
      }),
  );
  return sharedDynamoClient;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** The secret source from options, else from the environment (ARN, then file, then inline). */
function secretSpec(
  options: CreateCacheOptions,
  env: Record<string, string | undefined>,
): SecretSourceSpec | undefined {
  if (options.secret !== undefined) return { kind: "inline", value: options.secret, label: "options.secret" };
  if (options.secretFile) return { kind: "file", path: options.secretFile };
  if (options.secretArn) {
    return options.secretsManagerClient
      ? { kind: "arn", arn: options.secretArn, client: options.secretsManagerClient }
      : { kind: "arn", arn: options.secretArn };
  }
  const arn = nonEmpty(env.REDIS_SECRET_ARN);
  if (arn) {
    return options.secretsManagerClient
      ? { kind: "arn", arn, client: options.secretsManagerClient }
      : { kind: "arn", arn };
  }
  const file = nonEmpty(env.REDIS_SECRET_FILE);
  if (file) return { kind: "file", path: file };
  const inline = nonEmpty(env.REDIS_SECRET);
  if (inline) return { kind: "inline", value: inline, label: "REDIS_SECRET" };
  return undefined;
}

function parseMaxTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const seconds = trimmed === "Infinity" ? Number.POSITIVE_INFINITY : Number(trimmed);
  if (!(seconds > 0) || Number.isNaN(seconds)) {
    throw new CacheConfigError(
      `CACHE_MAX_TTL must be a positive number of seconds or Infinity (got "${value}")`,
      ["CACHE_MAX_TTL"],
    );
  }
  return seconds;
}

function parseStorage(value: string | undefined, field: string): StorageType | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === "redis" || v === "dynamodb" || v === "memory") return v;
  throw new CacheConfigError(`${field} must be redis, dynamodb or memory (got "${value}")`, [field]);
}

/** Builds a {@link CacheService} from options and the environment (see the module comment). */
export function createCache(options: CreateCacheOptions = {}): CacheService {
  const env = options.env ?? process.env;
  const spec = secretSpec(options, env);
  const storage =
    options.storage ??
    parseStorage(nonEmpty(env.CACHE_STORAGE_TYPE), "CACHE_STORAGE_TYPE") ??
    (spec ? "redis" : "memory");
  const source = spec
    ? new SecretSource(spec, {
        maxAgeMs: (options.secretMaxAge ?? 300) * 1000,
        minRefreshIntervalMs: options.secretMinRefreshIntervalMs,
      })
    : undefined;
  // An inline secret is validated now, so a malformed REDIS_SECRET fails at createCache.
  const inlinePayload = source?.parseInlineNow();
  const keyspace = options.keyspace ?? nonEmpty(env.CACHE_KEYSPACE) ?? inlinePayload?.keyspace ?? "cache";
  const tableName = options.tableName ?? nonEmpty(env.CACHE_TABLE_NAME);

  const dynamo = (): DynamoDbStore => {
    if (!tableName) {
      throw new CacheConfigError("DynamoDB storage needs CACHE_TABLE_NAME (or the `tableName` option)", [
        "CACHE_TABLE_NAME",
      ]);
    }
    return new DynamoDbStore({
      tableName,
      keyspace,
      client: options.dynamoDbClient ?? defaultDynamoClient,
      consistentRead: options.consistentRead,
    });
  };

  let release: (() => Promise<void>) | undefined;
  let store: CacheStore;
  switch (storage) {
    case "memory":
      store = new MemoryStore({ keyspace, maxEntries: options.maxEntries });
      break;
    case "dynamodb":
      store = dynamo();
      break;
    case "redis": {
      if (!source) {
        throw new CacheConfigError(
          "Redis storage needs a secret: set REDIS_SECRET_ARN, REDIS_SECRET_FILE or REDIS_SECRET (or the `secret*` options)",
          ["REDIS_SECRET_ARN", "REDIS_SECRET_FILE", "REDIS_SECRET"],
        );
      }
      const iamAuth =
        options.iamAuth === undefined || options.iamAuth instanceof IamAuthTokenProvider
          ? options.iamAuth
          : new IamAuthTokenProvider(options.iamAuth);
      const connection = acquireSharedRedisConnection({
        source,
        ...(iamAuth === undefined ? { iamAuthFor: (payload) => iamAuthFromEnv(env, payload) } : {}),
        ...(options.iamReauth ? { iamReauth: options.iamReauth } : {}),
        cluster: options.cluster,
        tls: options.tls,
        commandTimeoutMs: options.commandTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        maxRetriesPerRequest: options.maxRetriesPerRequest,
        iamAuth,
        redisOptions: options.redisOptions,
        clusterOptions: options.clusterOptions,
        ...(options.batchWrites === false ? { batchWrites: false } : {}),
      });
      release = () => releaseRedisConnection(connection);
      store = new RedisStore({ connection, keyspace: options.keyspace });
      break;
    }
  }

  const fallbackSetting =
    options.fallback ??
    (nonEmpty(env.CACHE_FALLBACK)?.trim().toLowerCase() as CreateCacheOptions["fallback"]);
  let fallback: CacheStore | undefined;
  if (fallbackSetting === "dynamodb") fallback = dynamo();
  else if (fallbackSetting === "memory")
    fallback = new MemoryStore({ keyspace, maxEntries: options.maxEntries });
  else if (fallbackSetting && typeof fallbackSetting === "object") fallback = fallbackSetting;
  else if (fallbackSetting !== undefined && fallbackSetting !== "none") {
    throw new CacheConfigError(`CACHE_FALLBACK must be dynamodb, memory or none (got "${fallbackSetting}")`, [
      "CACHE_FALLBACK",
    ]);
  }

  return new CacheService({
    store,
    fallback,
    codec: options.codec,
    compression: options.compression,
    defaultTtl: options.defaultTtl,
    maxTtl: options.maxTtl ?? parseMaxTtl(nonEmpty(env.CACHE_MAX_TTL)),
    maxPendingInvalidations: options.maxPendingInvalidations,
    breaker: options.breaker,
    throwOnError: options.throwOnError,
    maxKeyLength: options.maxKeyLength,
    metrics: options.metrics,
    logger: options.logger,
    now: options.now,
    local: options.local,
    onClose: release,
  });
}
