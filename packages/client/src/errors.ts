/**
 * Typed errors of the runtime client. Messages name operations, keys, fields and sources, never
 * secret values: nothing here is ever built from a password or a secret's JSON.
 */

export interface CacheErrorContext {
  /** The CacheService or store operation, e.g. `get`, `setMany`, `decode`. */
  operation?: string;
  /** The cache key (without keyspace prefix) when the error concerns one key. */
  key?: string;
  cause?: unknown;
}

/** Base class of every error this package throws. */
export class CacheError extends Error {
  override name = "CacheError";
  readonly operation: string | undefined;
  readonly key: string | undefined;
  constructor(message: string, context: CacheErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.operation = context.operation;
    this.key = context.key;
  }
}

/** Bad or missing configuration (options or environment). Never swallowed by the resilience layer. */
export class CacheConfigError extends CacheError {
  override name = "CacheConfigError";
  /** The options or environment variables at fault, e.g. `["CACHE_TABLE_NAME"]`. */
  readonly fields: string[];
  constructor(message: string, fields: string[] = [], context: CacheErrorContext = {}) {
    super(message, context);
    this.fields = fields;
  }
}

/**
 * The secret could not be read from its source (Secrets Manager, file). Names the source only.
 * `permanent` errors (missing file, access denied, no such secret) reach the caller; transient ones
 * (throttling, network) make the call a miss like any store outage.
 */
export class SecretLoadError extends CacheError {
  override name = "SecretLoadError";
  readonly source: string;
  readonly permanent: boolean;
  constructor(message: string, source: string, permanent: boolean, cause?: unknown) {
    super(message, { operation: "loadSecret", cause });
    this.source = source;
    this.permanent = permanent;
  }
}

/** The store could not be reached in time (not ready, connection closed, timeout). */
export class CacheConnectionError extends CacheError {
  override name = "CacheConnectionError";
}

/** Thrown (only with `throwOnError: true`) when a call could not be served by the store. */
export class CacheUnavailableError extends CacheError {
  override name = "CacheUnavailableError";
}

/**
 * getOrSet's hard timeout (`timeouts.hardMs`) passed before the loader answered, and no stale value
 * within `grace` could be served instead. The load goes on in the background (its `ctx.signal` is
 * aborted) and stores its value if it finishes.
 */
export class CacheLoaderTimeoutError extends CacheError {
  override name = "CacheLoaderTimeoutError";
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number) {
    super(
      `The loader of key "${key.slice(0, 64)}" did not answer within ${timeoutMs} ms (getOrSet timeouts.hardMs); give it more time, or set grace so a stale value is served`,
      { operation: "getOrSet", key },
    );
    this.timeoutMs = timeoutMs;
  }
}

/** An invalid cache key (empty, too long, not a string). */
export class CacheKeyError extends CacheError {
  override name = "CacheKeyError";
}

/** A value could not be encoded, or a stored payload could not be decoded (corrupt, wrong codec). */
export class SerializationError extends CacheError {
  override name = "SerializationError";
  override readonly operation: "encode" | "decode";
  constructor(message: string, operation: "encode" | "decode", key?: string, cause?: unknown) {
    super(message, { operation, key, cause });
    this.operation = operation;
  }
}

/** Errors that describe a wrong deployment rather than an unavailable store: always reach the caller. */
export function isConfigurationError(err: unknown): boolean {
  return (
    err instanceof CacheConfigError ||
    err instanceof CacheKeyError ||
    err instanceof SerializationError ||
    (err instanceof SecretLoadError && err.permanent) ||
    (err instanceof Error && err.name === "SecretPayloadError")
  );
}

/** A short, password-free description of any thrown value for events and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** A session id exists already (create), or an update met concurrent updates too many times. */
export class SessionConflictError extends CacheError {
  override name = "SessionConflictError";
}
